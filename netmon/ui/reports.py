"""`netmon report KIND`: opens the store read-only and dispatches to the report of that kind.

villages      telecom follow-up list (open flags: link by operator, power, upstream; analysis/village_report.py)
availability  availability per village/commune/operator for --month YYYY-MM
pcs           office-PC replacement priority list (netmon/analysis/pcs.py, netmon/ui/report_pcs.py)
services      portal vs commune link (netmon/analysis/service_report.py, netmon/ui/report_services.py)
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console

from netmon import i18n
from netmon.i18n import _
from netmon.store import Store

KINDS = ("villages", "availability", "pcs", "services")


def run_report(kind: str, config: Any, args: Any, console: Console) -> int:
    """Print report `kind` in `args.format`; returns the exit code (2 for bad usage)."""
    fmt = getattr(args, "format", "table") or "table"
    store = Store.open(config.state_dir, readonly=True)
    try:
        if kind == "villages":
            return _villages(config, store, fmt, console)
        if kind == "availability":
            return _availability(config, store, args, fmt, console)
        if kind == "pcs":
            from netmon.analysis.pcs import pc_rows
            from netmon.ui.report_pcs import render_pcs

            render_pcs(pc_rows(config, store, time.time(), pending=True), fmt, console)
            return 0
        if kind == "services":
            return _services(config, store, args, fmt, console)
    finally:
        store.close()
    console.print(_("unknown report {kind!r}; choose one of: {kinds}").format(kind=kind, kinds=", ".join(KINDS)))
    return 2


def _villages(config: Any, store: Store, fmt: str, console: Console) -> int:
    from netmon.analysis.village_report import village_report
    from netmon.ui.report_villages import render_villages

    agent = config.settings.agent
    report = village_report(store, agent.timezone, time.time(), config.settings.analysis.pending_max)
    stamp = i18n.datetime(datetime.now(ZoneInfo(agent.timezone)))
    render_villages(report, fmt, console, title=_("Villages flagged for follow-up: {agent}, {time}").format(
        agent=agent.name, time=stamp))
    return 0


def _availability(config: Any, store: Store, args: Any, fmt: str, console: Console) -> int:
    from netmon.analysis.availability import availability_report
    from netmon.analysis.catalog import catalog_from_config
    from netmon.ui.report_availability import render_availability
    from netmon.ui.report_villages import requested_month

    try:
        month, start, end = requested_month(args, config.settings.agent.timezone)
    except ValueError as exc:
        console.print(f"netmon: {exc}")
        return 2
    include = bool(getattr(args, "include_maintenance", False))
    rows = availability_report(store, catalog_from_config(config), start, end, settings=config.settings,
                               include_maintenance=include)
    render_availability(rows, fmt, console, month, include)
    return 0


def _services(config: Any, store: Store, args: Any, fmt: str, console: Console) -> int:
    from netmon.analysis.service_report import service_rows
    from netmon.ui.report_services import render_services

    report = service_rows(config, store, time.time(), days=getattr(args, "days", 7.0) or 7.0)
    tz = config.settings.agent.timezone
    # One JSON/CSV document per run: the per-service summary; table and Markdown add the communes.
    render_services(report.services, fmt, console, timezone=tz)
    if fmt in ("table", "md") and report.communes:
        console.out("", highlight=False)
        render_services(report.communes, fmt, console, timezone=tz)
    return 0
