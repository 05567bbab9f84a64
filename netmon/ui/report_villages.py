"""`netmon report villages` (telecom follow-up list), and the month helpers of `report availability`.

`netmon.analysis.village_report.village_report(store, timezone, now)` computes rows from the analysis
tables; `render_villages` prints them as a rich table, CSV, JSON or Markdown (the Markdown is what
gets pasted into the message to the operator). The availability report is analysis/availability.py,
rendered by ui/report_availability.py.
"""

from __future__ import annotations

import calendar
import csv
import io
import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from netmon import i18n
from netmon.analysis.village_report import NO_OPERATOR, VillagesReport
from netmon.i18n import N_, _, display, localise

FORMATS = ("table", "csv", "json", "md")
_FLAG_COLUMNS = (("village", N_("Village")), ("commune", N_("Commune")), ("since", N_("Flagged since")),
                 ("state", N_("State now")), ("availability_pct", N_("Availability %")),
                 ("office_availability_pct", N_("Office hours %")), ("loss_pct", N_("Loss %")),
                 ("rtt_p95_ms", N_("p95 RTT ms")), ("outages", N_("Outages")), ("longest_outage", N_("Longest outage")),
                 ("worst_hours", N_("Worst hours")), ("location", N_("Location")), ("note", N_("Note")))
_STATES = {"good": N_("good"), "degraded": N_("degraded"), "unstable": N_("unstable"), "down": N_("down"),
           "unknown": N_("unknown")}


def human_duration(seconds: float | None) -> str:
    """`human_s` in the language in use (`1 giờ 30 phút`); the same words as `human_s` in English."""
    if seconds is None:
        return ""
    s = round(seconds)
    if s < 120:
        return _("{n} s").format(n=s)
    if s < 7200:
        return _("{n} min").format(n=s // 60)
    if s < 2 * 86400:
        return _("{h} h {m} min").format(h=s // 3600, m=f"{s % 3600 // 60:02d}")
    return _("{n} days").format(n=localise(f"{s / 86400:.1f}"))


def _human(key: str, row: dict[str, Any]) -> str:
    """A cell as people read it (tables and Markdown): words, numbers and times in the language in use.

    The rows themselves stay machine-stable for CSV and JSON (dot decimals, English words).
    """
    value = row.get(key)
    if key in ("longest_outage", "downtime", "mttr"):
        return human_duration(row.get(f"{key}_s"))
    if key == "note":
        return _note(row)
    if value is None or value == "":
        return ""
    if key == "since":
        return i18n.datetime(datetime.strptime(value, "%Y-%m-%d %H:%M"))
    if key == "state":
        return _(_STATES[value]) if value in _STATES else str(value)
    if key == "location" or isinstance(value, bool):
        return str(value)  # coordinates keep the dot: a decimal comma would split the pair
    if isinstance(value, float):
        return localise(str(value))
    if key == "name" and row.get("level") == "operator" and value == NO_OPERATOR:
        return _(NO_OPERATOR)
    return display(str(value))


def window_words(tag: str) -> str:
    """A window tag (`30m`, `24h`, the evaluator's) in words of the language in use (`30 phút`)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([hms])", tag or "")
    if not match:
        return tag
    n, unit = localise(match.group(1)), match.group(2)
    return (_("{n}h") if unit == "h" else _("{n}m") if unit == "m" else _("{n}s")).format(n=n)


def _month_words(month: str) -> str:
    """`2026-11` as people write it in the language in use (`11/2026` in Vietnamese)."""
    try:
        return i18n.month(datetime.strptime(month, "%Y-%m").date())
    except ValueError:
        return month


def _note(row: dict[str, Any]) -> str:
    """The row's note in the language in use (village_report writes it in English for CSV and JSON)."""
    note, down = row.get("note") or "", human_duration(row.get("down_for_s"))
    if note.endswith(", cause unknown"):
        return _("down for {time}, cause unknown").format(time=down)
    if note.endswith(", cause not known yet"):
        return _("down for {time}, cause not known yet").format(time=down)
    if note.startswith("came back;"):
        return _("came back; waiting for its uptime to tell link from power")
    return note


NOTHING_FLAGGED = N_("Nothing flagged: no village needs follow-up.")


def _md(value: Any) -> str:
    return "" if value is None else str(value).replace("|", "\\|")


def _md_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> list[str]:
    lines = ["| # | " + " | ".join(_(h) for _k, h in columns) + " |", "|---|" + "---|" * len(columns)]
    lines += [f"| {i} | " + " | ".join(_md(_human(k, r)) for k, _h in columns) + " |" for i, r in enumerate(rows, 1)]
    return lines


def _sections(report: VillagesReport) -> list[tuple[str, list[dict[str, Any]]]]:
    """Sections that have rows: an empty heading for an operator reads as a complaint with nothing in it."""
    out = [(_("Unstable coverage, for {operator}").format(operator=_(op) if op == NO_OPERATOR else display(op)),
             rows) for op, rows in report.link.items()]
    out.append((_("Down now, cause not known yet (not sent to the operator yet)"), report.pending))
    out.append((_("Power problems (not sent to the operator)"), report.power))
    out.append((_("Upstream: behind a failed commune link or relay (not sent to the operator)"), report.upstream))
    return [(heading, rows) for heading, rows in out if rows]


def render_villages(report: VillagesReport, fmt: str, console: Console, title: str = "") -> None:
    """Print the follow-up list as table, csv, json or md."""
    if fmt == "json":
        console.out(json.dumps({"link": report.link, "pending": report.pending, "power": report.power,
                                "upstream": report.upstream}, ensure_ascii=False, indent=2), highlight=False)
    elif fmt == "csv":
        rows = [r for rs in report.link.values() for r in rs] + report.pending + report.power + report.upstream
        keys = ["cause", "operator", "province", "commune", "village", "village_id", "since", "state",
                "availability_pct", "office_availability_pct", "loss_pct", "rtt_p95_ms", "outages",
                "longest_outage_s", "worst_hours", "lat", "lon", "grounds", "note"]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        console.out(buf.getvalue(), end="", highlight=False)
    elif fmt == "md":
        lines = [f"# {title or _('Villages flagged for follow-up')}", ""]
        if report.empty:
            lines += [_(NOTHING_FLAGGED), ""]
        for heading, rows in _sections(report):
            window = rows[0]["window"]
            lines += [f"## {heading}", "", _("{n} village(s), worst first; figures over the last {window}.").format(
                n=len(rows), window=window_words(window)), "", *_md_table(rows, _FLAG_COLUMNS), ""]
        console.out("\n".join(lines).rstrip() + "\n", highlight=False)
    else:
        if report.empty:
            console.print(_(NOTHING_FLAGGED))
        for heading, rows in _sections(report):
            table = Table(title=_("{heading}: {n} village(s)").format(heading=heading, n=len(rows)))
            for _key, header in _FLAG_COLUMNS:
                table.add_column(_(header), overflow="fold")
            for r in rows:
                table.add_row(*(_human(k, r) for k, _h in _FLAG_COLUMNS))
            console.print(table)


# ---------------------------------------------------------------- availability per month


def requested_month(args: Any, timezone: str) -> tuple[str, float, float]:
    """`--month` (default: this month in the agent's timezone) and its [start, end); ValueError when malformed."""
    month = getattr(args, "month", None) or datetime.now(ZoneInfo(timezone)).strftime("%Y-%m")
    return (month, *month_range(month, timezone))


def month_range(month: str, timezone: str) -> tuple[float, float]:
    """[start, end) unix times of `YYYY-MM` in the agent's timezone."""
    try:
        year, mon = (int(x) for x in month.split("-"))
        start = datetime(year, mon, 1, tzinfo=ZoneInfo(timezone))
    except ValueError:
        raise ValueError(f"--month {month!r}: write it as YYYY-MM, e.g. 2026-11") from None
    days = calendar.monthrange(year, mon)[1]
    end = start.replace(day=days, hour=23, minute=59, second=59).timestamp() + 1
    return start.timestamp(), end
