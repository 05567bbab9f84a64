#!/usr/bin/env python3
"""Extract, merge and compile netmon's message catalogs (Babel).

    python scripts/i18n.py update    # extract from netmon/**.py, merge into every netmon.po
    python scripts/i18n.py compile   # netmon.po -> netmon.mo (commit both; the wheel ships the .mo)
    python scripts/i18n.py check     # exit 1 when a message lacks a translation or a .mo is stale

After `update`, translate the new entries (msgstr "" or `#, fuzzy`) in
netmon/locale/vi/LC_MESSAGES/netmon.po, then `compile`. The same steps with pybabel:
    pybabel extract -F babel.cfg -k N_ -o /tmp/netmon.pot netmon
    pybabel update -i /tmp/netmon.pot -d netmon/locale -D netmon
    pybabel compile -d netmon/locale -D netmon
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "netmon" / "locale"
DOMAIN = "netmon"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}


def extract(root: Path = ROOT) -> Catalog:
    """Every message marked in netmon/**.py, as a template catalog."""
    template = Catalog(project="netmon", charset="utf-8")
    method_map = [("netmon/**.py", "python")]
    for filename, lineno, message, comments, context in extract_from_dir(
            str(root), method_map=method_map, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def catalogs(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """The .po file of every language."""
    return sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def read(path: Path) -> Catalog:
    """A .po file as a Catalog."""
    with path.open("rb") as fh:
        return read_po(fh, locale=path.parent.parent.name, domain=DOMAIN)


def update() -> None:
    """Merge freshly extracted messages into every catalog (new ones empty, changed ones fuzzy)."""
    template = extract()
    for path in catalogs():
        catalog = read(path)
        catalog.update(template, update_header_comment=False)
        catalog.obsolete.clear()  # a dropped message goes; git keeps its history
        with path.open("wb") as fh:
            write_po(fh, catalog, width=100, omit_header=False, sort_output=False, include_previous=True)
        print(f"updated {path.relative_to(ROOT)}: {len(catalog)} messages")


def compiled(path: Path) -> bytes:
    """The .mo bytes for one .po file."""
    buf = io.BytesIO()
    write_mo(buf, read(path), use_fuzzy=False)
    return buf.getvalue()


def compile_all() -> None:
    """Write netmon.mo beside every netmon.po."""
    for path in catalogs():
        path.with_suffix(".mo").write_bytes(compiled(path))
        print(f"compiled {path.with_suffix('.mo').relative_to(ROOT)}")


def problems(locale_dir: Path = LOCALE_DIR) -> list[str]:
    """Missing, empty, fuzzy translations and stale .mo files, one line each."""
    template = extract()
    found = []
    for path in catalogs(locale_dir):
        catalog = read(path)
        for message in template:
            if not message.id:
                continue
            entry = catalog.get(message.id, context=message.context)
            key = message.id if isinstance(message.id, str) else message.id[0]
            where = ", ".join(f"{f}:{n}" for f, n in message.locations)
            if entry is None:
                found.append(f"{path.name} [{path.parent.parent.name}]: not in the catalog: {key!r} ({where})")
            elif entry.fuzzy:
                found.append(f"{path.parent.parent.name}: fuzzy: {key!r} ({where})")
            elif not all(entry.string) if isinstance(entry.string, tuple | list) else not entry.string:
                found.append(f"{path.parent.parent.name}: not translated: {key!r} ({where})")
        mo = path.with_suffix(".mo")
        if not mo.is_file():
            found.append(f"{mo}: missing; run scripts/i18n.py compile")
        else:
            with mo.open("rb") as fh:
                shipped = _entries(read_mo(fh))
            if shipped != _entries(read_mo(io.BytesIO(compiled(path)))):
                found.append(f"{mo}: out of date with the .po; run scripts/i18n.py compile")
    return found


def _entries(catalog: Catalog) -> dict:
    """msgid -> msgstr of a compiled catalog, hashable (plural ids come back as lists)."""
    def frozen(value):
        return tuple(value) if isinstance(value, list | tuple) else value
    return {(frozen(m.id), m.context): frozen(m.string) for m in catalog if m.id}


def main(argv: list[str]) -> int:
    """Command line: update | compile | check."""
    verb = argv[0] if argv else ""
    if verb == "update":
        update()
    elif verb == "compile":
        compile_all()
    elif verb == "check":
        issues = problems()
        print("\n".join(issues) or "catalogs complete and compiled")
        return 1 if issues else 0
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
