"""Values that must never print: what came from the environment or a key file, and where from.

The loader records every string it substituted from `${NAME}` and every key it read from a
key file, whatever field it went into (a `${TOKEN}` written by mistake into `host:` or a
duration is still a secret). `mask(text)` replaces each recorded value in a message with
`<from env NAME>` / `<from file PATH>`; config errors, `netmon check`, `netmon probe` and every
log line (netmon.logs) pass through it. It is a base module so that the log formatter can use it;
`netmon.config.secrets` re-exports it for the config code.

Values shorter than `MIN_MASKED` characters are not masked inside longer text: a 2-character
value would be "found" in every number and word. They are still never echoed on their own
(`explain.show` names the variable instead of the value).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping

MIN_MASKED = 4
MAX_REMEMBERED = 10_000
"""Bound on the process-wide registry (reloads add to it; a config has far fewer secrets)."""

_lock = threading.Lock()
_known: dict[str, str] = {}
_pattern: re.Pattern[str] | None = None


def label_env(name: str) -> str:
    """How a value taken from environment variable `name` is shown."""
    return f"<from env {name}>"


def label_file(path: str) -> str:
    """How a value read from key file `path` is shown."""
    return f"<from file {path}>"


def remember(values: Mapping[str, str]) -> None:
    """Add `value -> label` pairs to the process-wide registry used by `mask` (and the log formatter)."""
    global _pattern
    fresh = {v: lab for v, lab in values.items() if len(v) >= MIN_MASKED and _known.get(v) != lab}
    if not fresh:
        return
    with _lock:
        if len(_known) + len(fresh) > MAX_REMEMBERED:
            _known.clear()  # an agent reloaded thousands of times: keep the newest config's values
        _known.update(fresh)
        _pattern = None


def _compile(values: Mapping[str, str]) -> re.Pattern[str] | None:
    usable = sorted((v for v in values if len(v) >= MIN_MASKED), key=len, reverse=True)
    return re.compile("|".join(re.escape(v) for v in usable)) if usable else None


def mask(text: str, table: Mapping[str, str] | None = None) -> str:
    """`text` with every secret value replaced by its label: those of `table` when given, else every remembered one."""
    global _pattern
    if table is not None:
        pattern = _compile(table)
    else:
        with _lock:
            if _pattern is None and _known:
                _pattern = _compile(_known)
            pattern, table = _pattern, dict(_known) if _pattern is not None else {}
    if pattern is None or not text:
        return text
    return pattern.sub(lambda m: table.get(m.group(0), "<hidden>"), text)
