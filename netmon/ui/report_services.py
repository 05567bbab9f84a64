"""`netmon report services`: is it the portal or the commune's link? (issue 7)

`netmon.analysis.service_report.service_rows(config, store, now, days)` builds a `ServicesReport`
from the store; `render_services(rows, fmt, console)` prints one kind of row (ServiceSummary, CommuneSummary or
ServiceRound) as a table, CSV, JSON or Markdown.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from netmon.analysis.services import CommuneSummary, ServiceRound, ServiceSummary
from netmon.i18n import N_, _, display
from netmon.i18n import localise as loc

FORMATS = ("table", "csv", "json", "md")

Row = ServiceSummary | CommuneSummary | ServiceRound
Column = tuple[str, str, Callable[[Any], Any]]
"""(key for csv/json, header for table/md, getter)."""


def _opt(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


_SERVICE_COLUMNS: list[Column] = [
    ("service", N_("service"), lambda r: r.service),
    ("prober", N_("prober"), lambda r: r.prober),
    ("vantages", N_("vantage points"), lambda r: r.vantages),
    ("rounds", N_("rounds"), lambda r: r.rounds),
    ("availability_pct", N_("available %"), lambda r: round(r.availability_pct, 2)),
    ("vantage_ok_pct", N_("ok from communes %"), lambda r: round(r.vantage_ok_pct, 2)),
    ("response_p95_ms", N_("p95 ms"), lambda r: _opt(r.response_p95_ms)),
    ("ok_rounds", N_("ok"), lambda r: r.ok_rounds),
    ("link_rounds", N_("link"), lambda r: r.link_rounds),
    ("service_down_rounds", N_("service down"), lambda r: r.service_down_rounds),
    ("link_communes", N_("links blamed"), lambda r: "; ".join(r.link_communes)),
]

_COMMUNE_COLUMNS: list[Column] = [
    ("province", N_("province"), lambda r: r.province),
    ("commune", N_("commune"), lambda r: r.commune),
    ("services", N_("services"), lambda r: r.services),
    ("results", N_("results"), lambda r: r.results),
    ("availability_pct", N_("ok %"), lambda r: round(r.availability_pct, 2)),
    ("response_p95_ms", N_("p95 ms"), lambda r: _opt(r.response_p95_ms)),
    ("link_rounds", N_("link failures"), lambda r: r.link_rounds),
    ("service_down_rounds", N_("service down"), lambda r: r.service_down_rounds),
]


def _round_columns(tz: dt.tzinfo) -> list[Column]:
    return [
        ("window_start", N_("window start"),
         lambda r: dt.datetime.fromtimestamp(r.window_start_ts, tz).isoformat(timespec="seconds")),
        ("service", N_("service"), lambda r: r.service),
        ("verdict", N_("verdict"), lambda r: r.verdict.value),
        ("vantages", N_("vantage points"), lambda r: r.vantages),
        ("failing", N_("failing"), lambda r: len(r.failing)),
        ("communes", N_("communes"), lambda r: "; ".join(r.communes)),
        ("reasons", N_("reasons"), lambda r: "; ".join(f"{v.commune}: {v.reason}" for v in r.failing)),
    ]


_TITLES = {ServiceSummary: N_("Services: portal or link?"), CommuneSummary: N_("Communes: reaching the services"),
           ServiceRound: N_("Service rounds")}


def render_services(rows: Sequence[Row], fmt: str, console: Console, *, timezone: str = "UTC") -> None:
    """Print rows of one kind (services, communes or rounds) as table, csv, json or md."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not rows:
        if fmt == "json":
            console.out("[]", highlight=False)
        elif fmt in ("table", "md"):
            console.out(_("no HTTP or TCP service results in this period"), highlight=False)
        return
    kinds = {type(r) for r in rows}
    if len(kinds) != 1:
        raise ValueError("render_services prints one kind of row at a time")
    kind = kinds.pop()
    columns = {ServiceSummary: _SERVICE_COLUMNS, CommuneSummary: _COMMUNE_COLUMNS}.get(kind) \
        or _round_columns(ZoneInfo(timezone))
    dicts = [{key: get(r) for key, _, get in columns} for r in rows]
    if fmt == "json":
        console.print_json(json.dumps(dicts, ensure_ascii=False))
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=[c[0] for c in columns], lineterminator="\n")
        writer.writeheader()
        writer.writerows(dicts)
        console.out(buf.getvalue(), end="", highlight=False)
    elif fmt == "md":
        lines = ["| " + " | ".join(_(c[1]) for c in columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(_md(_human(d[c[0]])) for c in columns) + " |" for d in dicts]
        console.out("\n".join(lines), highlight=False)
    else:
        table = Table(title=_(_TITLES[kind]))
        for column in columns:
            table.add_column(_(column[1]), overflow="fold")
        for d in dicts:
            table.add_row(*(_cell(d[c[0]]) for c in columns))
        console.print(table)


def _md(value: Any) -> str:
    return "" if value is None else str(value).replace("|", "\\|")


def _cell(value: Any) -> str:
    return "-" if value is None or value == "" else _human(value)


def _human(value: Any) -> str:
    """A value as people read it in the language in use (tables and Markdown; never CSV/JSON)."""
    if isinstance(value, float):
        return loc(str(value))
    return display(value) if isinstance(value, str) else "" if value is None else str(value)
