"""`netmon profiles`: every profile on the search path, where it comes from, and which one is used.

Plain lines rather than a table: paths are long and must never be cut, and scripts grep them
(the headings follow the interface language; the source words config/bundled/system do not).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from netmon.config.search import config_profile_dirs, default_profile_dirs, find_profiles
from netmon.i18n import _


def render_profiles(config: Path | None, console: Console, environ: Mapping[str, str] | None = None) -> int:
    """Print the search path, then one line per profile file; exit code 0."""
    config_dirs = config_profile_dirs(config, environ) if config else []
    console.print(_("Search path (the first file of a name is used):"))
    for source, folder in [("config", d) for d in config_dirs] + default_profile_dirs(environ):
        missing = "" if folder.is_dir() else _("  (absent)")
        console.print(escape(f"  {source:8} {folder}{missing}"), soft_wrap=True)
    entries = find_profiles(config_dirs, environ)
    width = max((len(e.name) for e in entries), default=7)
    console.print(f"\n{_('profile'):{width}}  {_('from'):8} " + _("file"))
    for entry in sorted(entries, key=lambda e: e.name):
        note = "" if entry.shadowed_by is None else \
            _("  (not used: overridden by {path})").format(path=entry.shadowed_by)
        console.print(escape(f"{entry.name:{width}}  {entry.source:8} {entry.path}{note}"), soft_wrap=True)
    return 0
