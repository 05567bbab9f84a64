"""Village evaluation every `analysis.evaluate_every`, and the daemon component that runs it.

One evaluation: sum the short and the long window of every village's rollups, classify each
window, attribute the cause, step the flag hysteresis on the short window, store the latest
status and emit one `village-status` result per village (its `village_status` points: docs/series.md).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from netmon.analysis import flags as flagmod
from netmon.analysis.catalog import Catalog, VillageInfo
from netmon.analysis.maintenance import holding_windows, village_hold
from netmon.analysis.officehours import OfficeHours
from netmon.analysis.pending import undecided_villages
from netmon.analysis.power import village_power_evidence
from netmon.analysis.stability import MIN_AGENT_COVERAGE, Cause, Judgement, State, WindowMetrics, attribute
from netmon.analysis.windows import all_down_since, outage_rows, window_metrics, worst_hours
from netmon.model import ProbeResult, Sample, Status
from netmon.store import Store

if TYPE_CHECKING:  # config models arrive in the bookkeeping process as plain bags (netmon/bags.py)
    from netmon.config.schema import AgentConfig

log = logging.getLogger(__name__)


def window_tag(seconds: float) -> str:
    """`3600` -> `1h`, `86400` -> `24h`, `120` -> `2m`: the `window` tag of village_status points."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


STATE_CODES = {State.GOOD: 0, State.DEGRADED: 1, State.UNSTABLE: 2, State.DOWN: 3, State.UNKNOWN: 4}
"""Numeric state for InfluxQL, which can count and filter numbers but not group by a string field."""


def window_fields(state: State, cause: Cause, m: WindowMetrics, flagged: bool, v: VillageInfo) -> dict[str, Any]:
    """The village_status fields of one window; absent values are omitted, never zero-filled."""
    fields: dict[str, Any] = {"state": state.value, "state_code": STATE_CODES[state], "cause": cause.value,
                              "flagged": int(flagged),
                              "outages": int(m.outages), "longest_outage_s": round(float(m.longest_outage_s), 1)}
    if m.rounds:
        fields["availability_pct"] = round(100.0 * m.rounds_up / m.rounds, 2)
    if m.office_rounds:
        fields["office_availability_pct"] = round(100.0 * m.office_up / m.office_rounds, 2)
    if m.sent:
        fields["loss_pct"] = round(100.0 * (1.0 - m.received / m.sent), 2)
    p95 = m.rtt_p95_ms
    if p95 is not None:
        fields["rtt_p95_ms"] = round(p95, 2)
    if v.lat is not None and v.lon is not None:
        fields["lat"], fields["lon"] = float(v.lat), float(v.lon)
    if cause is Cause.UPSTREAM and m.raw_availability_pct is not None:
        # The state came from what the village saw, parents included: show the same availability.
        fields["availability_pct"] = round(m.raw_availability_pct, 2)
    return fields


def human_span(seconds: float) -> str:
    """`600` -> `10 minutes`, `5400` -> `1.5 hours`: how long, for a reason a person reads."""
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours".replace(".0 hours", " hours")


def unknown_reason(m: WindowMetrics, window_s: float) -> str:
    """Why a window is unknown: how much of it the agent watched, or that no round was judged yet."""
    if m.agent_coverage < MIN_AGENT_COVERAGE:
        watched = m.agent_coverage * window_s
        return (f"agent watched {human_span(watched)} of the last {human_span(window_s)}"
                f" (needs at least {MIN_AGENT_COVERAGE:.0%})")
    return f"no judged round in the last {human_span(window_s)} (rounds are judged once settled)"


def summary(v: VillageInfo, state: State, cause: Cause, f: dict[str, Any], tag: str,
            notes: str = "") -> str:
    """One human line: `Tả Phìn: unstable (link) over 1h: availability 97.2%, loss 8.1%, ...`."""
    if state is State.UNKNOWN:
        return f"{v.village}: unknown over {tag}: {notes}"
    parts = [f"availability {f['availability_pct']:.1f}%" if "availability_pct" in f else "no own rounds"]
    if "loss_pct" in f:
        parts.append(f"loss {f['loss_pct']:.1f}%")
    if "rtt_p95_ms" in f:
        parts.append(f"p95 {f['rtt_p95_ms']:.0f} ms")
    parts.append(f"{f['outages']} outage(s)")
    why = f" ({cause.value})" if cause is not Cause.NONE else ""
    return f"{v.village}: {state.value}{why} over {tag}: " + ", ".join(parts) + (f"; {notes}" if notes else "")


@dataclass(slots=True)
class Evaluation:
    """One village's evaluation: per-window state, cause and metrics, and what happened to its flag."""

    village: VillageInfo
    windows: dict[str, tuple[State, Cause, WindowMetrics]]
    flagged: bool
    action: flagmod.Action
    flagged_since: float | None = None
    """When the open flag was raised (unix seconds); dashboards show it as since-when."""
    judgements: dict[str, Judgement] | None = None
    """Grounds and doubts of each window's state."""


@dataclass(slots=True)
class _Plan:
    """One village judged, before its flag change is written."""

    village: VillageInfo
    streaks: flagmod.Streaks
    action: flagmod.Action
    cause: Cause
    judgement: Judgement
    m: WindowMetrics
    trend: WindowMetrics
    undecided: bool
    evidence: dict[str, Any] | None
    evaluation: Evaluation


EVAL_BATCH = 50
"""Villages written per transaction. Judging is done before the transaction, so one batch holds
the write lock for a few milliseconds; the writer's busy wait is bounded by that, not by the
number of villages (5,000 villages in one transaction held it for the whole evaluation)."""


class Evaluator:
    """Evaluates every village of a catalog against its thresholds; keeps flags in the store."""

    def __init__(self, store: Store, catalog: Catalog, settings: AgentConfig) -> None:
        self.store = store
        self.catalog = catalog
        self.settings = settings
        agent = settings.agent
        self.office = OfficeHours(agent.office_hours, agent.timezone, getattr(agent, "public_holidays", ()))
        self._all_down: dict[str, float] = {}

    def metrics(self, now: float) -> dict[str, dict[str, WindowMetrics]]:
        """Window metrics per window tag per village."""
        a = self.settings.analysis
        devices = {vid: v.devices for vid, v in self.catalog.villages.items()}
        longest = max(a.window_now, a.window_trend)
        outages = outage_rows(self.store, now - longest, now)
        down = all_down_since(self.store, devices)
        self._all_down = down
        out = {}
        for seconds in (a.window_now, a.window_trend):
            per = window_metrics(self.store, devices, now - seconds, now, a.bucket_s, outages)
            coverage = next(iter(per.values())).agent_coverage if per else None
            for vid in devices:
                m = per.setdefault(vid, WindowMetrics())
                if coverage is not None:
                    m.agent_coverage = coverage
                if vid in down:
                    m.all_down_s = now - down[vid]
            out[window_tag(seconds)] = per
        return out

    def evaluate(self, now: float | None = None) -> tuple[list[ProbeResult], list[Evaluation]]:
        """Run one evaluation; returns the village-status results to emit and the evaluations.

        Writes go in one short transaction per `EVAL_BATCH` villages (flag changes, streaks and
        status of those villages together), with everything that only reads done before it: the
        writer's commit waits for one batch at most, never for the whole evaluation.
        """
        now = time.time() if now is None else now
        a = self.settings.analysis
        per_window = self.metrics(now)
        tag_now = window_tag(a.window_now)
        results, evals = [], []
        seconds_of = {window_tag(x): x for x in (a.window_now, a.window_trend)}
        undecided = undecided_villages(self.store, self._all_down, now - a.window_now, now, a.window_trend)
        with self.store.transaction() as conn:
            flagmod.close_removed(conn, set(self.catalog.villages), now)
        streaks = flagmod.load_streaks(self.store.conn)
        held = holding_windows(self.store.conn, self.settings, now, a.window_now)
        villages = list(self.catalog.villages.items())
        for i in range(0, len(villages), EVAL_BATCH):
            plans = [self._plan(vid, v, per_window, streaks, held, vid in undecided, now)
                     for vid, v in villages[i:i + EVAL_BATCH]]
            with self.store.transaction() as conn:
                for plan in plans:
                    self._apply(conn, plan, now)
                flagmod.save_streaks(conn, {p.village.id: p.streaks for p in plans})
                batch = [p.evaluation for p in plans]
            status_rows = []
            for ev in batch:
                evals.append(ev)
                result, fields_by_tag = self._result(ev, tag_now, now, seconds_of[tag_now])
                results.append(result)
                state, cause, _ = ev.windows[tag_now]
                v = ev.village
                status_rows.append((v.id, now, state.value, cause.value, int(ev.flagged), result.reason,
                                    v.province, v.commune, v.village, v.operator,
                                    json.dumps(fields_by_tag, ensure_ascii=False)))
            with self.store.transaction() as conn:
                conn.executemany("INSERT OR REPLACE INTO village_status VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                                 status_rows)
        return results, evals

    def _plan(self, vid: str, v: VillageInfo, per_window: dict[str, dict[str, WindowMetrics]],
              streaks: dict[str, flagmod.Streaks], held: list, undecided: bool, now: float) -> _Plan:
        """Judge one village and step its streaks; read the evidence its flag needs (no write)."""
        a = self.settings.analysis
        tag_now, tag_trend = window_tag(a.window_now), window_tag(a.window_trend)
        th = v.thresholds or a.thresholds
        windows, judged = {}, {}
        for tag in per_window:
            m = per_window[tag][vid]
            judgement, cause = attribute(m, th, a.evaluate_every, a.confidence)
            if cause is Cause.LINK and undecided:
                cause = Cause.PENDING
            windows[tag], judged[tag] = (judgement.state, cause, m), judgement
        s = streaks.setdefault(vid, flagmod.Streaks())
        state, cause, m_now = windows[tag_now]
        # in a maintenance window (issue 18), and while one is inside the judged window, measurement
        # goes on but the flag neither rises nor clears
        in_window = held and village_hold(held, v.province, v.commune, v.village, v.devices) is not None
        action = flagmod.step(s, State.UNKNOWN if in_window else state, a.raise_after, a.clear_after)
        trend = windows[tag_trend][2]
        evidence = None
        if action is flagmod.Action.RAISE or (
                action is not flagmod.Action.CLEAR and s.flag_id is not None and judged[tag_now].state.bad):
            evidence = self.evidence(v, judged[tag_now], m_now, tag_now, trend, now, cause)
        return _Plan(v, s, action, cause, judged[tag_now], m_now, trend, undecided, evidence,
                     Evaluation(v, windows, False, action, None, judged))

    def _apply(self, conn, p: _Plan, now: float) -> None:
        """Write one village's flag change (inside its batch's transaction) and complete its evaluation."""
        s, ev = p.streaks, p.evaluation
        if p.action is flagmod.Action.RAISE:
            s.flag_id = flagmod.raise_flag(conn, p.village, p.cause, p.evidence or {}, now)
        elif p.action is flagmod.Action.CLEAR and s.flag_id is not None:
            flagmod.clear_flag(conn, p.village, s.flag_id, now)
            s.flag_id = None
        elif s.flag_id is not None and p.judgement.state.bad:
            # Only an evaluation that still meets the flag's condition may refresh its evidence.
            flagmod.update_flag(conn, s.flag_id, p.cause, p.evidence or {}, now)
        elif s.flag_id is not None and not p.undecided and flagmod.flag_cause(conn, s.flag_id) is Cause.PENDING:
            decided = decided_cause(p.m) or decided_cause(p.trend)
            if decided is not None:
                flagmod.settle_cause(conn, s.flag_id, decided, now)
        ev.flagged = s.flag_id is not None
        if s.flag_id is not None:
            row = conn.execute("SELECT raised_ts FROM flags WHERE id = ?", (s.flag_id,)).fetchone()
            ev.flagged_since = float(row[0]) if row else None

    def evidence(self, v: VillageInfo, j: Judgement, m: WindowMetrics, tag: str, trend: WindowMetrics,
                 now: float, cause: Cause) -> dict[str, Any]:
        """What the operator is shown: the numbers of the window that justified the flag, and why.

        The window judged (the short one) is the one whose state raised or keeps the flag, so its
        numbers meet the flag's threshold; the long window's numbers come along as context only.
        """
        a = self.settings.analysis
        out = self._numbers(m, cause)
        out.update({"window": tag, "grounds": list(j.grounds), "confidence": a.confidence,
                    "trend": {**self._numbers(trend, cause), "window": window_tag(a.window_trend)},
                    "worst_hours": worst_hours(self.store, v.id, now - a.window_trend, now, self.office.local_hour)})
        if v.id in self._all_down:
            out["down_since"] = self._all_down[v.id]
        if cause is Cause.POWER:
            # Other devices of the village that booted in the same outage corroborate a power cut.
            out.update(village_power_evidence(self.store.conn, self.catalog, v.id, now - a.window_now))
        return out

    @staticmethod
    def _numbers(m: WindowMetrics, cause: Cause) -> dict[str, Any]:
        avail = m.raw_availability_pct if cause is Cause.UPSTREAM else m.availability_pct
        return {"availability_pct": _r(avail), "office_availability_pct": _r(m.office_availability_pct),
                "loss_pct": _r(m.loss_pct), "rtt_p95_ms": _r(m.rtt_p95_ms), "outages": m.outages,
                "longest_outage_s": round(m.longest_outage_s, 1)}

    def _result(self, ev: Evaluation, tag_now: str, now: float,
                window_s: float) -> tuple[ProbeResult, dict[str, dict]]:
        samples, by_tag = [], {}
        for tag, (state, cause, m) in ev.windows.items():
            fields = window_fields(state, cause, m, ev.flagged, ev.village)
            if ev.flagged_since is not None:
                fields["flagged_since"] = ev.flagged_since
            by_tag[tag] = fields
            samples.append(Sample("village_status", fields, {"window": tag}))
        state, cause, m = ev.windows[tag_now]
        j = (ev.judgements or {}).get(tag_now)
        if state is State.UNKNOWN:
            notes = unknown_reason(m, window_s)
        else:
            notes = "; ".join(j.grounds + j.doubts) if j is not None else ""
            if cause is Cause.PENDING:
                notes = "cause not known yet (link or power: waiting for the devices to answer)" + (
                    f"; {notes}" if notes else "")
        reason = summary(ev.village, state, cause, by_tag[tag_now], tag_now, notes)
        if ev.flagged:
            reason += "; flagged"
        return ProbeResult(ev.village.id, "village-status", "analysis", Status.OK, reason, now, 0.0,
                           tuple(samples)), by_tag


def decided_cause(m: WindowMetrics) -> Cause | None:
    """The cause the window's closed outages settle on once nothing is pending: power, link or upstream."""
    if m.power_down_s > 0 and m.power_down_s >= m.link_down_s:
        return Cause.POWER
    if m.link_down_s > 0:
        return Cause.LINK
    if m.rounds_excused:
        return Cause.UPSTREAM
    return None


def default_settle_s(catalog: Catalog) -> float:
    """Two of the slowest ICMP round intervals: by then the parents' rounds of the moment are in.

    Devices no ICMP check probes (a service URL, a port) have no rounds to wait for: counting them
    at the default 60 s made a short-interval inventory wait 120 s before judging anything."""
    return 2 * max((d.interval_s for d in catalog.devices.values() if d.pinged), default=60.0)
