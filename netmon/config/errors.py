"""Config errors: every problem found at load time, reported together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netmon.errors import ConfigurationError
from netmon.i18n import _, current


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem: `file:line: path: message`, where message says what to change."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


MAX_SHOWN = 500
"""Problems written out in a ConfigError's message."""


class ConfigError(ConfigurationError):
    """The configuration cannot be used; `issues` lists every problem, in file order."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        self.language = current()
        """The language the messages were written in (a config's `agent.language` may choose it)."""
        # A broken 16 MB inventory can hold 10^5 problems: the message shows the first ones (in
        # file order, so the first fix is among them); `issues` keeps them all.
        shown = [str(i) for i in issues[:MAX_SHOWN]]
        if len(issues) > MAX_SHOWN:
            shown.append(_("... and {n} more problems; fix these first").format(n=f"{len(issues) - MAX_SHOWN:,}"))
        super().__init__("\n".join(shown))


def render_path(loc: Sequence[Any]) -> str:
    """`('inventory', 0, 'name')` -> `inventory[0].name`."""
    out = ""
    for seg in loc:
        if isinstance(seg, int):
            out += f"[{seg}]"
        elif str(seg).replace("_", "").replace("-", "").isalnum():
            out += f".{seg}" if out else str(seg)
        else:
            out += f"['{seg}']"
    return out


def yaml_float(value: float) -> str:
    """A float as YAML writes it: `.nan`, `.inf`, `-.inf` for the non-finite ones."""
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return "-.inf" if value < 0 else ".inf"
    return repr(value)
