"""`netmon report availability --month`: the rows of analysis/availability.py as table, CSV, JSON or Markdown.

The local report (from the store) and the central one (`--from influxdb`) share this renderer; the
central rows carry no maintenance time (InfluxDB holds no windows), so that column stays empty there.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from netmon.analysis.village_report import human_s
from netmon.i18n import N_, _
from netmon.ui.report_villages import _human, _md, _month_words, human_duration

_COLUMNS = (("name", N_("Name")), ("availability_pct", N_("Availability %")),
            ("office_availability_pct", N_("Office hours %")), ("outages", N_("Outages")),
            ("downtime", N_("Downtime")), ("mttr", N_("MTTR")), ("maintenance", N_("Maintenance")),
            ("watched_pct", N_("Watched %")))
CSV_KEYS = ["level", "name", "id", "operator", "availability_pct", "office_availability_pct", "outages",
            "downtime_s", "mttr_s", "maintenance_s", "watched_pct"]
_LEVELS = (("village", N_("Villages")), ("commune", N_("Communes")), ("operator", N_("Operators")))


def _cell(key: str, row: dict[str, Any]) -> str:
    if key == "maintenance":
        return human_duration(row.get("maintenance_s")) if row.get("maintenance_s") else ""
    return _human(key, row)


def _md_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = ["| # | " + " | ".join(_(h) for _k, h in _COLUMNS) + " |", "|---|" + "---|" * len(_COLUMNS)]
    return lines + [f"| {i} | " + " | ".join(_md(_cell(k, r)) for k, _h in _COLUMNS) + " |"
                    for i, r in enumerate(rows, 1)]


def _note(include_maintenance: bool | None) -> str:
    if include_maintenance is None:
        return ""
    if include_maintenance:
        return _("Maintenance time counts in availability, downtime and outages.")
    return _("Maintenance time is shown apart and left out of availability, downtime and outages "
             "(--include-maintenance counts it).")


def render_availability(rows: Sequence[dict[str, Any]], fmt: str, console: Console, month: str,
                        include_maintenance: bool | None = None) -> None:
    """Print the monthly availability rows; `include_maintenance` None: the rows know no windows (central)."""
    if fmt == "json":
        # the English durations stay for scripts that read them (machine formats are stable in every language)
        out = [dict(r, downtime=human_s(r.get("downtime_s")), mttr=human_s(r.get("mttr_s"))) for r in rows]
        doc: dict[str, Any] = {"month": month, "rows": out}
        if include_maintenance is not None:
            doc["maintenance"] = "included" if include_maintenance else "excluded"
        console.out(json.dumps(doc, ensure_ascii=False, indent=2), highlight=False)
        return
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_KEYS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        console.out(buf.getvalue(), end="", highlight=False)
        return
    note = _note(include_maintenance)
    if fmt == "md":
        lines = [_("# Coverage availability, {month}").format(month=_month_words(month)), ""]
        lines += [note, ""] if note else []
        for level, heading in _LEVELS:
            lines += [f"## {_(heading)}", "", *_md_table([r for r in rows if r["level"] == level])]
            lines.append("")
        console.out("\n".join(lines).rstrip() + "\n", highlight=False)
        return
    for level, heading in _LEVELS:
        table = Table(title=f"{_(heading)}, {_month_words(month)}")
        for _key, header in _COLUMNS:
            table.add_column(_(header), overflow="fold")
        for r in rows:
            if r["level"] == level:
                table.add_row(*(_cell(k, r) for k, _h in _COLUMNS))
        console.print(table)
    if note:
        console.print(note)
