"""`netmon status --from influxdb` and `netmon report villages|services --from influxdb`.

The same formats as the local commands, computed from every agent's forwarded series
(netmon.central); one extra line names the agents and which are silent.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console, Group
from rich.text import Text

from netmon.analysis.status import Flag
from netmon.analysis.status_view import PcScore, State
from netmon.central.influxql import CentralError, InfluxQL
from netmon.central.province import HEARTBEAT_S, LOOKBACK_S, Picture, VillageOutages, province_picture
from netmon.central.services import ServiceVerdict, service_verdicts
from netmon.config.slugs import slug
from netmon.i18n import _
from netmon.ui.status_layout import body_lines
from netmon.ui.status_render import (
    Columns,
    _column_titles,
    footer_text,
    header_text,
    render_line,
    snapshot_json,
)


class PlainOut:
    """A console whose `out` writes the text as is: JSON, CSV and Markdown of a national view.

    rich's `Console.out` works per character: the JSON of 102,000 villages (20 MB) took it 34 s
    and 1.1 GB (bench_central_month); written as is, it is a fraction of a second. Everything
    else (tables, `print`) goes to the wrapped console.
    """

    def __init__(self, console: Console) -> None:
        self.console = console

    def out(self, *objects: Any, end: str = "\n", **_style: Any) -> None:
        """Write the objects' text, then `end`."""
        file = self.console.file
        file.write(" ".join(str(o) for o in objects) + end)
        file.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


def client_for(config: Any, name: str | None) -> InfluxQL:
    """The InfluxQL client of the configured output `name` (default: the first)."""
    outputs = config.settings.outputs.influxdb
    if not outputs:
        raise CentralError(_("no outputs.influxdb in the config: the central view reads the InfluxDB the agents "
                             "forward to; add it (the same url, database/bucket and credentials, read access is "
                             "enough)"))
    for out in outputs:
        if name is None or out.name == name:
            return InfluxQL(out)
    raise CentralError(_("no InfluxDB output named {name}; configured: {names}").format(
        name=repr(name), names=", ".join(o.name for o in outputs)))


def heartbeat_s(config: Any, args: Any) -> float:
    """The agents' heartbeat interval: `--heartbeat`, else the config's `agent.heartbeat` (agents configured alike)."""
    return getattr(args, "heartbeat", None) or getattr(config.settings.agent, "heartbeat", None) or HEARTBEAT_S


def picture(config: Any, args: Any, now: float | None = None) -> Picture:
    """The province picture at `now` with the command line's heartbeat and lookback."""
    return province_picture(client_for(config, getattr(args, "output", None)), config,
                            time.time() if now is None else now, ZoneInfo(config.settings.agent.timezone),
                            heartbeat_s=heartbeat_s(config, args),
                            lookback_s=(getattr(args, "lookback_days", None) and args.lookback_days * 86400.0)
                            or LOOKBACK_S)


def agents_line(pic: Picture, tz: ZoneInfo) -> Text:
    """`agents: dong 14:05 · tay SILENT since 14:02 (12 villages unknown)`."""
    now = pic.snapshot.taken_ts
    unknown: dict[str, int] = defaultdict(int)
    for r in pic.snapshot.villages:
        if r.state is State.UNKNOWN and r.reason.startswith("agent "):
            unknown[r.reason.split()[1]] += 1
    text = Text(_("agents: "))
    for i, a in enumerate(pic.agents.values()):
        text.append(" · " if i else "")
        seen = datetime.fromtimestamp(a.last_ts, tz).strftime("%H:%M") if a.last_ts else _("never")
        if a.silent:
            text.append(_("{agent} SILENT since {clock}").format(agent=a.name, clock=seen), style="bold red")
            if unknown[a.name]:
                text.append(_(" ({n} villages unknown)").format(n=unknown[a.name]), style="red")
        else:
            text.append(_("{agent} {clock} ({seconds}s ago)").format(agent=a.name, clock=seen,
                                                                      seconds=f"{now - (a.last_ts or now):.0f}"))
    return text


def full_picture(config: Any, args: Any, warn: Any = None) -> Picture:
    """The picture with services and PCs: the fixed set of statements of one snapshot.

    Raises CentralError when the villages cannot be read; services and PCs that cannot be read
    are said through `warn` (default: stderr) and left out.
    """
    pic = picture(config, args)
    try:
        client = client_for(config, getattr(args, "output", None))
        add_service_problems(pic, client, _service_window(config))
        pic.snapshot.worst_pcs = worst_pcs(client, pic.snapshot.taken_ts, pic)
    except CentralError as exc:
        say = warn or (lambda text: print(text, file=sys.stderr))
        say(_("netmon status: services and PCs not read: {error}").format(error=exc))
    return pic


def run_status_central(config: Any, args: Any, console: Console) -> int:
    """The province view: live on a terminal (netmon.ui.central_live), one snapshot with --once, JSON or a pipe."""
    from netmon.ui.status import filter_from_args

    flt = filter_from_args(args)
    if flt is None:
        return 2
    tz = ZoneInfo(config.settings.agent.timezone)
    interactive = console.is_terminal and sys.stdin.isatty() and not console.is_dumb_terminal
    try:
        if not (args.once or args.format == "json" or not interactive):
            from netmon.ui.central_live import CentralSource, LiveCentral
            from netmon.ui.status_layout import View

            live_log = logging.getLogger("netmon.ui.central_live")
            source = CentralSource(lambda: full_picture(config, args, live_log.warning), tz)
            source.snapshot()  # an unreachable InfluxDB is said before the screen switches
            return LiveCentral(source, View(filter=flt), console).run()
        pic = full_picture(config, args)
    except CentralError as exc:
        print(f"netmon status: {exc}", file=sys.stderr)
        return 1
    snap = pic.snapshot
    shown = [r for r in snap.villages if flt.matches(r)]
    if args.format == "json":
        agents = [{"name": a.name, "last_heartbeat_ts": a.last_ts, "silent": a.silent, "targets": a.targets}
                  for a in pic.agents.values()]
        # The local document with two more keys, spliced in as text: parsing and dumping the JSON of
        # 100,000 villages again cost seconds and hundreds of MB (bench_central_month).
        text = snapshot_json(snap, flt, shown)
        head = {"source": "influxdb", "agents": agents}
        extra = json.dumps(head, ensure_ascii=False, indent=2)[1:-2]  # `\n  "source": ..., "agents": [...]`
        PlainOut(console).out("{" + extra + "," + text[1:])
        return 0
    width = console.width
    parts = header_text(snap, flt, tz, width, shown)
    parts[1] = agents_line(pic, tz)  # the agents' heartbeats instead of one agent's output backlog
    parts.append(_column_titles(Columns(width)))
    parts += [render_line(line, Columns(width)) for line in body_lines(snap, flt)]
    parts += footer_text(snap, shown, width)
    console.print(Group(*parts), soft_wrap=True)
    return 0


def add_service_problems(pic: Picture, client: InfluxQL, window_s: float) -> None:
    """Each commune's failing services with the central verdict (its link, or the service down)."""
    now = pic.snapshot.taken_ts
    by_name: dict[str, list[Any]] = defaultdict(list)
    for row in pic.snapshot.communes.values():
        by_name[row.info.name].append(row)
    for v in service_verdicts(client, now - 4 * window_s, now, window_s):
        j = v.latest
        if j.verdict.value == "ok":
            continue
        silent = {a.name for a in pic.agents.values() if a.silent}
        for place in j.failing:
            if place.agent in silent:
                continue  # old news from an agent that stopped
            for commune in place.communes:
                for row in by_name.get(commune, []):
                    row.services.append(f"{v.service}: {j.text}")


def worst_pcs(client: InfluxQL, now: float, pic: Picture, limit: int = 5) -> list[PcScore]:
    """The footer's worst office PCs, across every agent."""
    from netmon.central.pcs import pc_rows_central

    rows = pc_rows_central(client, now, pic.agents)[:limit]
    return [PcScore(r.device.id, r.device.name, r.health.score, "; ".join(r.health.reasons)) for r in rows]


def run_report_central(kind: str, config: Any, args: Any, console: Console) -> int:
    """`netmon report villages|services --from influxdb`."""
    fmt = getattr(args, "format", "table") or "table"
    if fmt != "table":
        console = PlainOut(console)  # type: ignore[assignment]
    tz = ZoneInfo(config.settings.agent.timezone)
    try:
        if kind == "villages":
            return _villages(config, args, fmt, console, tz)
        if kind == "availability":
            return _availability(config, args, fmt, console)
        if kind == "pcs":
            from netmon.central.pcs import pc_rows_central
            from netmon.central.province import heartbeats
            from netmon.ui.report_pcs import render_pcs

            client, now = client_for(config, getattr(args, "output", None)), time.time()
            beats = heartbeats(client, now, LOOKBACK_S, 2.0 * heartbeat_s(config, args))
            render_pcs(pc_rows_central(client, now, beats), fmt, console)
            return 0
        if kind == "services":
            client = client_for(config, getattr(args, "output", None))
            now = time.time()
            days = getattr(args, "days", 7.0) or 7.0
            render_verdicts(service_verdicts(client, now - days * 86400.0, now, _service_window(config)), fmt,
                            console)
            return 0
    except CentralError as exc:
        print(f"netmon report: {exc}", file=sys.stderr)
        return 1
    print(_("netmon report: unknown report {kind}").format(kind=repr(kind)), file=sys.stderr)
    return 2


def _availability(config: Any, args: Any, fmt: str, console: Console) -> int:
    """Monthly availability per village, commune and operator, from every agent's village_status."""
    from netmon.central.province import availability, outages
    from netmon.ui.report_availability import render_availability
    from netmon.ui.report_villages import requested_month

    try:
        month, start, end = requested_month(args, config.settings.agent.timezone)
    except ValueError as exc:
        console.print(f"netmon: {exc}")
        return 2
    end = min(end, time.time())
    expected = max(1.0, (end - start) / config.settings.analysis.evaluate_every)
    client = client_for(config, getattr(args, "output", None))
    villages = availability(client, start, end)
    down = outages(client, start, end)
    rows: list[dict[str, Any]] = []
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for v in sorted(villages, key=lambda v: (v.province, v.commune, v.village)):
        rows.append(_avail_row("village", f"{v.commune} / {v.village}", [v], expected, down)
                    | {"id": "/".join(slug(x) for x in (v.province, v.commune, v.village)), "operator": v.operator})
        groups[("commune", v.commune)].append(v)
        groups[("operator", v.operator or "(no operator)")].append(v)
    for level in ("commune", "operator"):
        rows += [_avail_row(level, name, vs, expected, down) for (lv, name), vs in sorted(groups.items())
                 if lv == level]
    render_availability(rows, fmt, console, month)
    return 0


def _avail_row(level: str, name: str, villages: list[Any], expected: float,
               down: dict[tuple[str, str, str], VillageOutages]) -> dict[str, Any]:
    """A row in the local report's shape: outages and MTTR from the agents' village_outage points."""
    from netmon.analysis.village_report import human_s

    def weighted(attr: str) -> float | None:
        pairs = [(getattr(v, attr), v.evaluations) for v in villages if getattr(v, attr) is not None]
        total = sum(n for _, n in pairs)
        return round(sum(a * n for a, n in pairs) / total, 2) if total else None

    watched = sum(min(1.0, v.evaluations / expected) for v in villages) / len(villages)
    seen = [down[k] for v in villages if (k := (v.province, v.commune, v.village)) in down]
    count, down_s = sum(o.outages for o in seen), sum(o.down_s for o in seen)
    mttr = down_s / count if count else None
    return {"level": level, "name": name, "availability_pct": weighted("availability_pct"),
            "office_availability_pct": weighted("office_availability_pct"), "outages": count,
            "downtime_s": round(down_s, 1), "downtime": human_s(down_s),
            "mttr_s": None if mttr is None else round(mttr, 1), "mttr": human_s(mttr),
            "watched_pct": round(100.0 * watched, 1)}


def _service_window(config: Any) -> float:
    from netmon.analysis.service_report import service_window_s

    return service_window_s(config)


def _villages(config: Any, args: Any, fmt: str, console: Console, tz: ZoneInfo) -> int:
    from netmon.analysis.village_report import VillagesReport, _flag_row, _worst_first
    from netmon.ui.report_villages import render_villages

    pic = picture(config, args)
    report = VillagesReport(link=defaultdict(list))
    for r in pic.snapshot.villages:
        if not r.flagged:
            continue
        i = r.info
        evidence = {k: getattr(r, k) for k in ("availability_pct", "loss_pct", "rtt_p95_ms", "outages",
                                               "longest_outage_s")}
        evidence["window"] = pic.windows.get(i.id, "")
        raised = r.flag_raised_ts or r.evaluated_ts or 0.0
        flag = Flag(0, i.id, i.province, i.commune, i.name, i.operator, r.cause, raised, None,
                    evidence, r.evaluated_ts or 0.0, i.lat, i.lon)
        row = _flag_row(flag, r.state.value, tz)
        if r.flag_raised_ts is None:
            row["since"] = ""  # an agent older than the flagged_since field: its store alone knows
        {"link": report.link[row["operator"]], "power": report.power}.get(r.cause, report.upstream).append(row)
    report.link = {op: _worst_first(rows) for op, rows in sorted(report.link.items())}
    report.power, report.upstream = _worst_first(report.power), _worst_first(report.upstream)
    silent = [a for a in pic.agents.values() if a.silent]
    if silent and fmt in ("table", "md"):
        console.out(agents_line(pic, tz).plain + "\n", highlight=False)
    stamp = datetime.now(tz).strftime("%Y-%m-%d %H:%M")
    render_villages(report, fmt, console, title=f"Villages flagged for follow-up: {len(pic.agents)} agents "
                    f"(from InfluxDB), {stamp}")
    return 0


_VERDICT_COLUMNS = ("service", "prober", "vantages", "rounds", "ok_rounds", "link_rounds", "down_rounds",
                    "verdict", "links_blamed")


def verdict_dict(v: ServiceVerdict) -> dict[str, Any]:
    """One service as plain values (csv, json)."""
    return {"service": v.service, "prober": v.prober, "vantages": v.vantages, "rounds": v.rounds,
            "ok_rounds": v.ok_rounds, "link_rounds": v.link_rounds, "down_rounds": v.down_rounds,
            "verdict": v.latest.text, "verdict_code": v.latest.verdict.value,
            "links_blamed": "; ".join(v.links_blamed)}


def render_verdicts(verdicts: list[ServiceVerdict], fmt: str, console: Console) -> None:
    """Services judged from every vantage point, as table, csv, json or md."""
    rows = [verdict_dict(v) for v in verdicts]
    if fmt == "json":
        console.out(json.dumps(rows, ensure_ascii=False, indent=2), highlight=False)
        return
    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=[*_VERDICT_COLUMNS, "verdict_code"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        console.out(buf.getvalue(), end="", highlight=False)
        return
    if not rows:
        console.out("no HTTP or TCP service results in this period", highlight=False)
        return
    if fmt == "md":
        lines = ["| " + " | ".join(_VERDICT_COLUMNS) + " |", "|" + "---|" * len(_VERDICT_COLUMNS)]
        lines += ["| " + " | ".join(str(r[c]).replace("|", "\\|") for c in _VERDICT_COLUMNS) + " |" for r in rows]
        console.out("\n".join(lines), highlight=False)
        return
    from rich.table import Table

    table = Table(title="Services judged from every vantage point (verdict: latest round)")
    for header in ("service", "vantage points", "rounds ok/link/down", "verdict"):
        table.add_column(header, overflow="fold")
    for r in rows:
        table.add_row(r["service"], str(r["vantages"]),
                      f"{r['rounds']}: {r['ok_rounds']}/{r['link_rounds']}/{r['down_rounds']}", r["verdict"])
    console.print(table)
