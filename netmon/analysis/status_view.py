"""The answers behind `netmon status`: what the store says about every village, commune and the agent.

Analysis computes the view as data classes (`load_snapshot` -> `Snapshot`); the ui
(netmon.ui.status, status_render) only lays it out and draws it, and the province view
(netmon.central.province) fills the same classes from InfluxDB.

Pure reads over a (readonly) Store, so the view runs in its own process beside the daemon.
Every query is bounded by the inventory and served by the `results (device_id, ts)` index:
the latest `village-status` of 5,000 villages is one query seeking each village id, never a
scan of the raw history. Sparklines are computed only for the rows on screen.
"""

from __future__ import annotations

import enum
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netmon.analysis.catalog import is_coverage
from netmon.analysis.latest import latest_by_device, latest_pairs
from netmon.analysis.maintenance import Window, device_hold, village_hold
from netmon.analysis.service_report import service_problems
from netmon.analysis.services import SERVICE_PROBERS
from netmon.analysis.stability import State
from netmon.analysis.status import Flag, flags_say_who_is_flagged, open_flags
from netmon.model import Device
from netmon.store import Store, decode_samples

log = logging.getLogger(__name__)


class Source(enum.StrEnum):
    """Where a village's state came from."""

    ANALYSIS = "analysis"
    PROVISIONAL = "provisional"
    """Derived from the latest reachability results: analysis has not evaluated the village yet."""


@dataclass(frozen=True, slots=True)
class VillageInfo:
    """A village of the inventory and the devices that measure its coverage."""

    id: str
    name: str
    province: str
    commune: str
    commune_id: str
    operator: str
    coverage: tuple[str, ...]
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True, slots=True)
class CommuneInfo:
    """A commune with its commune-level devices (router, PCs, services) and their main check."""

    id: str
    name: str
    province: str
    office: tuple[tuple[Device, str], ...]


class Inventory:
    """Villages and communes in inventory order, built once from the config's devices."""

    def __init__(self, devices: Sequence[Device], profiles: Mapping[str, Any],
                 windows: tuple[str, str] | None = None) -> None:
        self.windows = windows
        """Tags of the configured (now, trend) analysis windows; None: take them in the order stored."""
        self.villages: list[VillageInfo] = []
        self.communes: dict[str, CommuneInfo] = {}
        self.pc_ids: list[str] = []
        self.names = {d.id: d.name for d in devices}
        self.service_devices: list[Device] = []
        self.service_window_s = 60.0
        members: dict[str, list[Device]] = {}
        office: dict[str, list[tuple[Device, str]]] = {}
        for d in devices:
            commune_id = "/".join(d.id.split("/")[:2])
            office.setdefault(commune_id, [])
            profile = profiles.get(d.profile)
            if profile is not None and getattr(profile, "aging", None) is not None:
                self.pc_ids.append(d.id)
            if d.village:
                members.setdefault(d.id.rsplit("/", 1)[0], []).append(d)
            elif profile is not None and profile.checks:
                office[commune_id].append((d, profile.checks[0].name))
                service_checks = [c for c in profile.checks if c.prober in SERVICE_PROBERS]
                if service_checks:
                    self.service_devices.append(d)
                    self.service_window_s = max(self.service_window_s, *(float(c.interval) for c in service_checks))
            self.communes.setdefault(commune_id, CommuneInfo(commune_id, d.commune, d.province, ()))
        for cid, info in self.communes.items():
            self.communes[cid] = CommuneInfo(info.id, info.name, info.province, tuple(office[cid]))
        for vid, devs in members.items():
            cover = [d.id for d in devs if _is_coverage(d, profiles)] or [
                d.id for d in devs if _has_icmp(profiles.get(d.profile))]
            first = devs[0]
            self.villages.append(VillageInfo(
                vid, first.village, first.province, first.commune, "/".join(vid.split("/")[:2]),
                first.operator, tuple(cover), first.lat, first.lon))

    @classmethod
    def from_config(cls, config: Any) -> Inventory:
        """The inventory this agent probes (its shard), with its configured analysis windows."""
        from netmon.analysis.evaluator import window_tag

        a = config.settings.analysis
        return cls(config.devices, config.profiles, (window_tag(a.window_now), window_tag(a.window_trend)))


def _is_coverage(device: Device, profiles: Mapping[str, Any]) -> bool:
    return is_coverage(device, profiles.get(device.profile))


def _has_icmp(profile: Any) -> bool:
    return profile is not None and any(c.prober == "icmp" for c in profile.checks)


@dataclass(slots=True)
class VillageRow:
    """One village as the view shows it."""

    info: VillageInfo
    state: State = State.UNKNOWN
    source: Source = Source.PROVISIONAL
    availability_pct: float | None = None
    loss_pct: float | None = None
    rtt_p95_ms: float | None = None
    outages: int | None = None
    longest_outage_s: float | None = None
    cause: str = "none"
    flagged: bool = False
    flag_raised_ts: float | None = None
    evaluated_ts: float | None = None
    reason: str = ""
    trend: dict[str, Any] = field(default_factory=dict)
    window: str = ""
    """Tag of the window the state is judged over (the configured short window: `1h`, `60s`, ...)."""
    trend_window: str = ""
    spark: str = ""
    """The last hour drawn by the ui (netmon.ui.status_render.sparklines) for the rows on screen."""
    maintenance: dict[str, Any] | None = None
    """The maintenance window the village is in (reason, end_ts, measured_state), None outside one."""

    def as_dict(self) -> dict[str, Any]:
        """Plain values for `--format json`."""
        i = self.info
        return {
            "id": i.id, "province": i.province, "commune": i.commune, "village": i.name,
            "operator": i.operator, "state": self.state.value, "source": self.source.value,
            "availability_pct": self.availability_pct, "loss_pct": self.loss_pct,
            "rtt_p95_ms": self.rtt_p95_ms, "outages": self.outages,
            "longest_outage_s": self.longest_outage_s, "cause": self.cause, "flagged": self.flagged,
            "flag_raised_ts": self.flag_raised_ts, "evaluated_ts": self.evaluated_ts,
            "reason": self.reason, "window": self.window, "trend_window": self.trend_window,
            "trend": self.trend, "lat": i.lat, "lon": i.lon, "maintenance": self.maintenance,
        }


@dataclass(slots=True)
class CommuneRow:
    """Commune-level devices summarised: how many answer their main check."""

    info: CommuneInfo
    up: int = 0
    down: list[str] = field(default_factory=list)
    unknown: int = 0
    services: list[str] = field(default_factory=list)
    """Service problems seen from this commune, with the likely cause (portal vs. this commune's link)."""
    maintenance: list[str] = field(default_factory=list)
    """Devices not answering inside a maintenance window: not counted down."""

    def as_dict(self) -> dict[str, Any]:
        """Plain values for `--format json`."""
        return {"id": self.info.id, "province": self.info.province, "commune": self.info.name,
                "devices": len(self.info.office), "up": self.up, "down": self.down, "unknown": self.unknown,
                "services": self.services, "maintenance": self.maintenance}


@dataclass(frozen=True, slots=True)
class AgentHeader:
    """The agent's heartbeat as the daemon last recorded it, plus output backlogs."""

    name: str
    heartbeat_ts: float | None
    targets: int | None
    results_per_s: float | None
    last_round_ts: float | None
    scheduler_lag_s: float | None
    backlog: dict[str, int]
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per output, the forwarder's health as it last saved it (netmon/sinks/health.py)."""


@dataclass(frozen=True, slots=True)
class PcScore:
    """The latest pc_health verdict of one PC."""

    device_id: str
    name: str
    score: int
    reasons: str


@dataclass(slots=True)
class Snapshot:
    """Everything one frame of the view shows, read at `taken_ts`."""

    taken_ts: float
    header: AgentHeader
    villages: list[VillageRow]
    communes: dict[str, CommuneRow]
    worst_pcs: list[PcScore]
    flag_table: bool
    """False when the analysis `flags` table is not there (flags then come from village_status)."""

    def flagged_by_operator(self, rows: Iterable[VillageRow] | None = None) -> dict[str, int]:
        """Flagged villages counted per operator, most first."""
        counts = Counter(r.info.operator or "?" for r in (self.villages if rows is None else rows) if r.flagged)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def state_counts(self, rows: Iterable[VillageRow] | None = None) -> dict[State, int]:
        """Villages per state."""
        counts = Counter(r.state for r in (self.villages if rows is None else rows))
        return {s: counts[s] for s in State if counts[s]}


# ---------------------------------------------------------------- queries


def _open_flags(store: Store) -> dict[str, Flag] | None:
    """Open flags by village id; None when the flags table does not (yet) say who is flagged."""
    try:
        if not flags_say_who_is_flagged(store):
            return None
        return {f.village_id: f for f in open_flags(store)}
    except (sqlite3.Error, ValueError) as exc:  # a damaged table must not take the whole view down
        log.warning("cannot read the flags table (%s); flags read from village_status", exc)
        return None


def read_header(store: Store, name: str, outputs: Sequence[str]) -> AgentHeader:
    """Heartbeat values and, per output, results committed but not yet acknowledged."""
    state = store.state()
    top = store.max_seq()
    backlog = {o: max(0, top - store.cursor(o)) for o in outputs}
    return AgentHeader(
        name=str(state.get("agent") or name), heartbeat_ts=state.get("heartbeat_ts"),
        targets=state.get("targets"), results_per_s=state.get("results_per_s"),
        last_round_ts=state.get("last_round_ts") or None, scheduler_lag_s=state.get("scheduler_lag_s"),
        backlog=backlog, outputs={o: state[f"output:{o}"] for o in outputs
                                  if isinstance(state.get(f"output:{o}"), dict)})


def _fields_by_window(samples: Sequence[Any], tags: tuple[str, str] | None = None
                      ) -> tuple[tuple[str, dict[str, Any]], tuple[str, dict[str, Any]]]:
    """((tag, fields) of the short window, (tag, fields) of the long one) of a village_status result.

    Windows are found by the configured tags when they are there, else in the order the evaluator
    stores them (short first): the view must follow whatever windows the config names, and a
    status written under an older config still shows rather than turning every village unknown.
    """
    windows = {s.tags.get("window", ""): dict(s.fields) for s in samples if s.measurement == "village_status"}
    ordered = list(windows.items())
    if tags is not None and tags[0] in windows:
        now = (tags[0], windows[tags[0]])
    else:
        now = ordered[0] if ordered else ("", {})
    if tags is not None and tags[1] in windows and tags[1] != now[0]:
        trend = (tags[1], windows[tags[1]])
    else:
        trend = next(((t, f) for t, f in ordered if t != now[0]), ("", {}))
    return now, trend


def _state(value: Any) -> State:
    try:
        return State(str(value))
    except ValueError:
        return State.UNKNOWN


def _apply_status(row: VillageRow, ts: float, reason: str, samples_json: str,
                  tags: tuple[str, str] | None = None) -> None:
    (row.window, now), (row.trend_window, trend) = _fields_by_window(decode_samples(samples_json), tags)
    row.source = Source.ANALYSIS
    row.state = _state(now.get("state"))
    row.availability_pct = now.get("availability_pct")
    row.loss_pct = now.get("loss_pct")
    row.rtt_p95_ms = now.get("rtt_p95_ms")
    row.outages = now.get("outages")
    row.longest_outage_s = now.get("longest_outage_s")
    row.cause = str(now.get("cause", "none"))
    row.flagged = bool(now.get("flagged", 0))
    row.evaluated_ts, row.reason, row.trend = ts, reason, trend


def _provisional(row: VillageRow, statuses: Sequence[str | None]) -> None:
    """All coverage devices up = good, some down = degraded, all down = down, no results = unknown."""
    row.source = Source.PROVISIONAL
    known = [s for s in statuses if s is not None]
    up = sum(1 for s in known if s == "ok")
    if not known:
        row.state, row.reason = State.UNKNOWN, "no results yet"
        return
    if up == len(known):
        row.state = State.GOOD
    elif up == 0:
        row.state = State.DOWN
    else:
        row.state = State.DEGRADED
    row.reason = f"{up}/{len(known)} coverage devices answered their last ping"


def load_snapshot(store: Store, inventory: Inventory, agent_name: str, outputs: Sequence[str],
                  now: float | None = None, maintenance: Sequence[Window] = ()) -> Snapshot:
    """Read one frame's data: header, every village's latest state, communes, flags, worst PCs."""
    now = time.time() if now is None else now
    rows = [VillageRow(v) for v in inventory.villages]
    status = latest_by_device(store, [v.id for v in inventory.villages], check="village-status")
    missing = [r for r in rows if r.info.id not in status]
    for r in rows:
        if r.info.id in status:
            ts, _st, reason, samples = status[r.info.id]
            _apply_status(r, ts, reason, samples, inventory.windows)
    if missing:
        ping = latest_by_device(store, [d for r in missing for d in r.info.coverage], prober="icmp")
        for r in missing:
            _provisional(r, [ping[d][1] if d in ping else None for d in r.info.coverage])
    flags = _open_flags(store)
    if flags is not None:
        for r in rows:
            flag = flags.get(r.info.id)
            r.flagged = flag is not None
            if flag is not None:
                r.cause = flag.cause or r.cause
                r.flag_raised_ts = flag.raised_ts
    for r in rows:  # planned work shows as `maintenance`, not down or flagged; measurement goes on (issue 18)
        if (w := village_hold(maintenance, r.info.province, r.info.commune, r.info.name, r.info.coverage)):
            r.state, r.maintenance = State.MAINTENANCE, {**w.as_dict(), "measured_state": r.state.value}
    return Snapshot(now, read_header(store, agent_name, outputs), rows, _communes(store, inventory, now, maintenance),
                    _worst_pcs(store, inventory), flags is not None)


def _communes(store: Store, inventory: Inventory, now: float, maintenance: Sequence[Window] = ()
              ) -> dict[str, CommuneRow]:
    pairs = [(d.id, check) for c in inventory.communes.values() for d, check in c.office]
    latest = latest_pairs(store, pairs)
    out = {}
    for cid, info in inventory.communes.items():
        row = CommuneRow(info)
        for device, _check in info.office:
            st = latest.get(device.id)
            if st is None:
                row.unknown += 1
            elif st == "ok":
                row.up += 1
            elif device_hold(maintenance, info.province, info.name, device.id):
                row.maintenance.append(device.name)
            else:
                row.down.append(device.name)
        out[cid] = row
    problems_of = service_problems(store, inventory.service_devices, inventory.service_window_s, now)
    for cid, problems in problems_of.items():
        if cid in out:
            out[cid].services = problems
    return out


def _worst_pcs(store: Store, inventory: Inventory, limit: int = 5) -> list[PcScore]:
    latest = latest_by_device(store, inventory.pc_ids, check="pc-health")
    scores = []
    for device_id, (_ts, _st, reason, samples) in latest.items():
        for s in decode_samples(samples):
            if s.measurement == "pc_health" and isinstance(s.fields.get("score"), int | float):
                scores.append(PcScore(device_id, inventory.names.get(device_id, device_id),
                                      int(s.fields["score"]), str(s.fields.get("reasons", reason))))
    scores.sort(key=lambda p: (-p.score, p.device_id))
    return [p for p in scores if p.score > 0][:limit]
