"""The province (or national) picture, computed from what every agent forwarded to InfluxDB.

Agents stay self-sufficient; this reads their `village_status`, `ping` and `netmon_agent`
series back with a few InfluxQL statements, each bounded by a time range and grouped per series
with `ORDER BY time DESC LIMIT 1` (the latest point of each series, never a scan of the month).

A village is never shown good on old news: when its agent's heartbeats stopped it is `unknown:
agent X silent since 14:02`; when the agent runs but the village's status stopped, `unknown: no
status since ...`. Villages the central config's inventory expects but nobody reported are
listed as unknown too, so a silent agent's villages are never silently missing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from netmon.analysis.stability import State
from netmon.analysis.status_view import (
    AgentHeader,
    CommuneInfo,
    CommuneRow,
    Snapshot,
    Source,
    VillageInfo,
    VillageRow,
)
from netmon.central.influxql import InfluxQL, quote_str
from netmon.config.schema import parse_duration
from netmon.config.slugs import slug
from netmon.model import Device

HEARTBEAT_S = 60.0
"""Agents send a `netmon_agent` point this often (netmon.sinks.selfmon.INTERVAL_S)."""
LOOKBACK_S = 7 * 86400.0
"""How far back villages and heartbeats are looked for: an agent silent longer than this is listed
only through the central config's inventory."""
_FIELDS = ("availability_pct", "loss_pct", "rtt_p95_ms", "outages", "longest_outage_s")


def time_range(start_ts: float, end_ts: float) -> str:
    """`time > start AND time <= end` in integer nanoseconds: every central statement has one."""
    return f"time > {int(start_ts * 1e9)} AND time <= {int(end_ts * 1e9)}"


@dataclass(slots=True)
class AgentBeat:
    """One agent's latest heartbeat as InfluxDB holds it."""

    name: str
    last_ts: float | None
    targets: int | None = None
    results_per_s: float | None = None
    scheduler_lag_s: float | None = None
    silent: bool = False


@dataclass(slots=True)
class _Status:
    """A village's latest short-window status; values in `_STATUS_FIELDS` order (a tuple: 100k of them)."""

    agent: str
    ts: float
    window: str
    values: tuple[Any, ...]

    def fields(self) -> dict[str, Any]:
        """The values by field name."""
        return dict(zip(_STATUS_FIELDS, self.values, strict=True))


@dataclass(slots=True)
class Picture:
    """The snapshot the status view renders, plus the agents behind it."""

    snapshot: Snapshot
    agents: dict[str, AgentBeat]
    silent_after_s: float
    windows: dict[str, str] = field(default_factory=dict)
    """Village id -> the `window` tag its status came with (`1h`)."""


@functools.lru_cache(maxsize=64)
def _window_s(tag: str) -> float:
    try:
        return parse_duration(tag)
    except ValueError:
        return float("inf")


def heartbeats(client: InfluxQL, now: float, lookback_s: float, silent_after_s: float) -> dict[str, AgentBeat]:
    """Latest `netmon_agent` point per agent (the agent's own, not its per-output ones)."""
    q = (f'SELECT "results_per_s", "targets", "scheduler_lag_s" FROM "netmon_agent" WHERE '
         f'{time_range(now - lookback_s, now)} AND "output" = \'\' GROUP BY "agent" ORDER BY time DESC LIMIT 1')
    out = {}
    for row in client.rows(q):
        name = row.tags.get("agent", "")
        v = row.values
        out[name] = AgentBeat(name, row.ts, _int(v.get("targets")), v.get("results_per_s"), v.get("scheduler_lag_s"),
                              silent=now - row.ts > silent_after_s)
    return out


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


_STATUS_FIELDS = ("state", "cause", "flagged", "flagged_since", *_FIELDS, "lat", "lon", "operator")
"""`flagged_since` is the raise time of the village's open flag in its agent's store (the evaluator
writes it with every status of a flagged village; agents older than that leave it empty)."""


def window_tags(client: InfluxQL) -> list[str]:
    """The `window` tags of village_status, shortest first (`1h`, `24h` with the default analysis)."""
    rows = client.rows('SHOW TAG VALUES FROM "village_status" WITH KEY = "window"')
    return sorted({str(r.values.get("value")) for r in rows}, key=_window_s)


def village_statuses(client: InfluxQL, now: float, lookback_s: float) -> dict[tuple[str, str, str], _Status]:
    """Latest village_status per village in its short window; a village two agents reported goes to the newer.

    The cost of `ORDER BY time DESC LIMIT 1` is per series, so only the short ("now") windows are
    read: every window but the longest (agents configured alike have two: now and trend), and only
    the fields the views show.
    """
    tags = window_tags(client)
    wanted = tags[:-1] if len(tags) > 1 else tags
    if not wanted:
        return {}
    choice = " OR ".join(f'"window" = {quote_str(t)}' for t in wanted)
    fields = ", ".join(f'"{f}"' for f in _STATUS_FIELDS)
    q = (f'SELECT {fields} FROM "village_status" WHERE {time_range(now - lookback_s, now)} AND ({choice}) '
         'GROUP BY "agent", "province", "commune", "village", "window" ORDER BY time DESC LIMIT 1')
    out: dict[tuple[str, str, str], _Status] = {}
    newest: dict[tuple[str, str, str], dict[str, float]] = {}  # village -> agent -> its newest point
    for row in client.rows(q):
        t, v = row.tags, row.values
        key, agent, window = (t.get("province", ""), t.get("commune", ""), t.get("village", "")), \
            t.get("agent", ""), t.get("window", "")
        by_agent = newest.setdefault(key, {})
        by_agent[agent] = max(by_agent.get(agent, 0.0), row.ts)
        seen = out.get(key)
        if seen is None or (seen.agent == agent and _window_s(window) < _window_s(seen.window)) or (
                seen.agent != agent and by_agent[agent] > by_agent[seen.agent]):
            # The agent that reported last (a commune moved between agents), in its shortest window.
            out[key] = _Status(agent, row.ts, window, tuple(v.get(f) for f in _STATUS_FIELDS))
    return out


def commune_pings(client: InfluxQL, now: float, window_s: float) -> dict[tuple[str, str], dict[str, tuple[str, bool]]]:
    """Per (province, commune): each commune-level device's latest ping: (agent, up)."""
    q = (f'SELECT "percent_packet_loss", "result_code" FROM "ping" WHERE {time_range(now - window_s, now)} '
         'AND "village" = \'\' GROUP BY "agent", "province", "commune", "device" ORDER BY time DESC LIMIT 1')
    out: dict[tuple[str, str], dict[str, tuple[str, bool]]] = {}
    for row in client.rows(q):
        loss = row.values.get("percent_packet_loss")
        up = row.values.get("result_code") == 0 and isinstance(loss, int | float) and loss < 100
        place = (row.tags.get("province", ""), row.tags.get("commune", ""))
        out.setdefault(place, {})[row.tags.get("device", "")] = (row.tags.get("agent", ""), up)
    return out


def _expected(config: Any) -> dict[tuple[str, str, str], tuple[str, str]]:
    """Villages the central config's inventory has: (province, commune, village) -> (operator, agent)."""
    if config is None:
        return {}
    from netmon.analysis.catalog import build_catalog

    assignment = getattr(config, "assignment", None)
    named = bool(config.settings.agent.shard and config.settings.agent.shard.agents)
    catalog = build_catalog(config.all_devices, config.profiles, config.settings)
    out = {}
    for v in catalog.villages.values():
        agent = assignment.commune_agent.get(v.commune_id, "") if assignment is not None and named else ""
        out[(v.province, v.commune, v.village)] = (v.operator, agent)
    return out


def _clock(ts: float, tz: ZoneInfo, now: float) -> str:
    when = datetime.fromtimestamp(ts, tz)
    return when.strftime("%H:%M") if now - ts < 86400 else when.strftime("%Y-%m-%d %H:%M")


def _row(key: tuple[str, str, str], st: _Status | None, operator: str, agent: str, agents: Mapping[str, AgentBeat],
         stale_s: float, now: float, tz: ZoneInfo) -> VillageRow:
    province, commune, village = key
    cid = f"{slug(province)}/{slug(commune)}"
    now_fields: dict[str, Any] = {}
    if st is not None:
        now_fields = st.fields()
        operator, agent = str(now_fields.get("operator") or operator), st.agent
    lat, lon = now_fields.get("lat"), now_fields.get("lon")
    row = VillageRow(VillageInfo(f"{cid}/{slug(village)}", village, province, commune, cid, operator, (), lat, lon))
    beat = agents.get(agent)
    # A flag stays as the agent last reported it (it is held in the agent's store), whatever the state now.
    row.flagged = bool(now_fields.get("flagged") or 0)
    row.cause = str(now_fields.get("cause") or "none")
    since = now_fields.get("flagged_since")
    row.flag_raised_ts = float(since) if row.flagged and isinstance(since, int | float) else None
    if beat is None or beat.silent:
        row.state, row.source = State.UNKNOWN, Source.ANALYSIS
        row.reason = (f"agent {agent or '?'} silent since {_clock(beat.last_ts, tz, now)}" if beat and beat.last_ts
                      else f"agent {agent or '?'} has sent no heartbeat")
        row.evaluated_ts = st.ts if st else None
        return row
    if st is None or now - st.ts > stale_s:
        row.state, row.source = State.UNKNOWN, Source.ANALYSIS
        row.reason = (f"no status from agent {agent} since {_clock(st.ts, tz, now)}" if st
                      else f"agent {agent} has sent no status for this village")
        row.evaluated_ts = st.ts if st else None
        return row
    try:
        row.state = State(str(now_fields.get("state")))
    except ValueError:
        row.state = State.UNKNOWN
    row.source = Source.ANALYSIS
    for name in _FIELDS:
        setattr(row, name, now_fields.get(name))
    row.evaluated_ts = st.ts  # the trend window is left out: reading it would double the series read
    row.reason = f"agent {agent}, evaluated {_clock(st.ts, tz, now)}"
    return row


def _communes(pings: Mapping[tuple[str, str], Mapping[str, tuple[str, bool]]], known: Iterable[tuple[str, str]],
              agents: Mapping[str, AgentBeat]) -> dict[str, CommuneRow]:
    """Commune rows from the latest pings; a silent agent's devices count as unknown, never up."""
    out: dict[str, CommuneRow] = {}
    for province, commune in sorted(set(known) | set(pings)):
        devices = pings.get((province, commune), {})
        cid = f"{slug(province)}/{slug(commune)}"
        office = tuple((Device(f"{cid}/{slug(d)}", d, "", "", province, commune, ""), "reachability")
                       for d in sorted(devices))
        row = CommuneRow(CommuneInfo(cid, commune, province, office))
        heard = {d: up for d, (agent, up) in devices.items() if agent in agents and not agents[agent].silent}
        row.up = sum(1 for up in heard.values() if up)
        row.down = sorted(d for d, up in heard.items() if not up)
        row.unknown = len(devices) - len(heard)
        out[cid] = row
    return out


def province_picture(client: InfluxQL, config: Any, now: float, tz: ZoneInfo, *, heartbeat_s: float = HEARTBEAT_S,
                     lookback_s: float = LOOKBACK_S, evaluate_every_s: float | None = None) -> Picture:
    """Read the latest of every agent and village from InfluxDB and judge staleness at `now`."""
    silent_after = 2.0 * heartbeat_s
    if evaluate_every_s is None:
        evaluate_every_s = config.settings.analysis.evaluate_every if config is not None else 300.0
    stale_s = 2.0 * evaluate_every_s + heartbeat_s
    agents = heartbeats(client, now, lookback_s, silent_after)
    statuses = village_statuses(client, now, lookback_s)
    expected = _expected(config)
    for _op, agent in expected.values():
        if agent and agent not in agents:
            agents[agent] = AgentBeat(agent, None, silent=True)
    rows, windows = [], {}
    for key in list(expected) + sorted(k for k in statuses if k not in expected):
        operator, agent = expected.get(key, ("", ""))
        st = statuses.get(key)
        rows.append(_row(key, st, operator, agent, agents, stale_s, now, tz))
        if st is not None:
            windows[rows[-1].info.id] = st.window
    pings = commune_pings(client, now, max(300.0, 3 * heartbeat_s))
    communes = _communes(pings, {(r.info.province, r.info.commune) for r in rows}, agents)
    live = [a for a in agents.values() if not a.silent]
    header = AgentHeader(
        name=f"province view from InfluxDB: {len(agents)} agents, {len(agents) - len(live)} silent",
        heartbeat_ts=max((a.last_ts for a in live if a.last_ts), default=None),
        targets=sum(a.targets or 0 for a in live), results_per_s=sum(a.results_per_s or 0.0 for a in live),
        last_round_ts=None, scheduler_lag_s=max((a.scheduler_lag_s or 0.0 for a in live), default=0.0), backlog={})
    snapshot = Snapshot(now, header, rows, communes, [], False)
    return Picture(snapshot, dict(sorted(agents.items())), silent_after, windows)


@dataclass(slots=True)
class VillageAvailability:
    """One village's availability over a period, from the agents' short-window village_status points."""

    province: str
    commune: str
    village: str
    operator: str
    availability_pct: float | None
    office_availability_pct: float | None
    evaluations: int


def availability(client: InfluxQL, start_ts: float, end_ts: float) -> list[VillageAvailability]:
    """Mean of each village's short-window availability over [start, end], aggregated inside InfluxDB.

    Each point is the availability of the window before it, and points come every evaluation, so
    their mean is the time-averaged availability; only one row per village crosses the wire.
    """
    tags = window_tags(client)
    if not tags:
        return []
    q = (f'SELECT mean("availability_pct") AS "a", mean("office_availability_pct") AS "o", count("state") AS "n" '
         f'FROM "village_status" WHERE {time_range(start_ts, end_ts)} AND "window" = {quote_str(tags[0])} '
         'GROUP BY "province", "commune", "village", "operator"')
    out = []
    for row in client.rows(q):
        t, v = row.tags, row.values
        out.append(VillageAvailability(t.get("province", ""), t.get("commune", ""), t.get("village", ""),
                                       t.get("operator", ""), v.get("a"), v.get("o"), int(v.get("n") or 0)))
    return out


OUTAGE_LOOKBACK_S = 31 * 86400.0
"""Outages that started this long before a period still count their down time inside it."""


@dataclass(slots=True)
class VillageOutages:
    """One village's outages over a period, from the agents' `village_outage` points (upstream excluded)."""

    outages: int = 0
    """Outages that started inside the period."""
    down_s: float = 0.0
    """Down time inside the period, of every outage overlapping it (an open one up to its last evaluation)."""


def outages(client: InfluxQL, start_ts: float, end_ts: float) -> dict[tuple[str, str, str], VillageOutages]:
    """Per (province, commune, village): outages and down time in [start, end), as the local report counts them.

    Streams the points (one per device outage, at its start) of the period and of the month before
    it, so an outage that began earlier adds the part of its down time inside the period.
    """
    span = time_range(start_ts - OUTAGE_LOOKBACK_S, end_ts - 1e-3)
    q = (f'SELECT "duration_s", "cause" FROM "village_outage" WHERE {span} '
         'GROUP BY "province", "commune", "village", "device"')
    out: dict[tuple[str, str, str], VillageOutages] = {}
    for row in client.rows(q):
        duration = row.values.get("duration_s")
        if row.values.get("cause") == "upstream" or not isinstance(duration, int | float):
            continue
        begin = row.ts
        inside = max(0.0, min(begin + duration, end_ts) - max(begin, start_ts))
        if inside <= 0.0 and begin < start_ts:
            continue
        acc = out.setdefault((row.tags.get("province", ""), row.tags.get("commune", ""), row.tags.get("village", "")),
                             VillageOutages())
        acc.outages += begin >= start_ts
        acc.down_s += inside
    return out
