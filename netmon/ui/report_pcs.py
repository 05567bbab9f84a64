"""`netmon report pcs`: the office-PC replacement priority list, worst first.

The rows are computed by analysis (`netmon/analysis/pcs.py`: `pc_rows`, `PcRow`, `sort_rows`);
`render_pcs(rows, fmt, console)` only prints them as a table, CSV, JSON or Markdown.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from netmon.analysis.aging import PcHealth
from netmon.analysis.pc_facts import size_text
from netmon.analysis.pcs import PcRow, pc_rows, sort_rows
from netmon.i18n import N_, _, display
from netmon.i18n import localise as loc
from netmon.ui.pc_words import reason_words, unknown_words

FORMATS = ("table", "csv", "json", "md")
__all__ = ["FORMATS", "PcRow", "pc_rows", "render_pcs", "sort_rows"]
_COLUMNS = ("score", "device", "commune", "village", "host", "os", "ram_mb", "ram_installed_mb",
            "disk_used_pct_max", "cpu_load_office_pct", "boots_week", "restarts_week",
            "office_reachability_pct", "reasons", "not_assessed")


def render_pcs(rows: Sequence[PcRow], fmt: str, console: Console) -> None:
    """Print the rows (worst first) as table, csv, json or md."""
    rows = sort_rows(rows)
    dicts = [r.as_dict() for r in rows]
    if fmt == "json":
        console.print_json(json.dumps(dicts, ensure_ascii=False))
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=["id", *_COLUMNS], extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(dicts)
        console.out(buf.getvalue(), end="", highlight=False)
    elif fmt == "md":
        head = ["score", "device", "commune", "village", "reasons"]
        lines = ["| " + " | ".join(_(_HEADERS[c]) for c in head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(_md(_reasons(r.health) if c == "reasons" else _human(d[c])) for c in head) + " |"
                  for r, d in zip(rows, dicts, strict=True)]
        console.out("\n".join(lines), highlight=False)
    elif fmt == "table":
        table = Table(title=_("Office PCs, replacement priority (worst first)"))
        for col in ("score", "device", "commune", "village", "RAM", "disk %", "reasons"):
            table.add_column(_(_HEADERS.get(col, col)), overflow="fold")
        for row, d in zip(rows, dicts, strict=True):
            ram = d["ram_installed_mb"]
            table.add_row(_cell(d["score"]), display(d["device"]), display(d["commune"]),
                          display(d["village"]) or "-", "-" if ram is None else loc(size_text(ram)),
                          _cell(d["disk_used_pct_max"]),
                          _reasons(row.health))
        console.print(table)
    else:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def _reasons(health: PcHealth) -> str:
    """`PcHealth.summary()` in the language in use (the same text in English)."""
    if health.pending:
        return _("not scored yet: ") + ", ".join(unknown_words(u) for u in health.not_assessed)
    parts = [reason_words(r) for r in health.reasons]
    if health.not_assessed:
        parts.append(_("not assessed: ") + ", ".join(unknown_words(u) for u in health.not_assessed))
    return "; ".join(parts) or _("ok")


def _md(value: Any) -> str:
    return "" if value is None else str(value).replace("|", "\\|")


def _cell(value: Any) -> str:
    return "-" if value is None else _human(value)


def _human(value: Any) -> str:
    """A value as people read it in the language in use (tables and Markdown; never CSV/JSON)."""
    if isinstance(value, float):
        return loc(str(value))
    return display(value) if isinstance(value, str) else "" if value is None else str(value)


_HEADERS = {"score": N_("score"), "device": N_("device"), "commune": N_("commune"), "village": N_("village"),
            "reasons": N_("reasons"), "RAM": N_("RAM"), "disk %": N_("disk %")}
