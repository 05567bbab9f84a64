"""Sum a time window of village rollups and outages into `WindowMetrics`, one query per table.

Rollup rows are read by a range on their bucket time, outages by their end time, so the cost of a
window depends on the window and the number of villages, never on how much history is kept.
"""

from __future__ import annotations

from collections import defaultdict

from netmon.analysis.db import HIST_COLUMNS, PACKED, rollup_names, unpack_hist
from netmon.analysis.stability import WindowMetrics
from netmon.store import Store

HEARTBEAT_SLACK_S = 30.0
"""A run's last heartbeat may be this old and the agent still running."""

_SUMS = ", ".join(f"sum({c})" for c in ("rounds", "rounds_up", "rounds_excused", "sent", "received",
                                        "office_rounds", "office_up"))
_HSUMS = ", ".join(f"sum({c})" for c in HIST_COLUMNS.split(", "))


def agent_coverage(store: Store, start_ts: float, end_ts: float) -> float:
    """Share (0..1) of [start, end] during which the agent was running (from `agent_runs`)."""
    if end_ts <= start_ts:
        return 0.0
    covered, cursor = 0.0, start_ts
    for started, last_seen in store.agent_runs(start_ts - HEARTBEAT_SLACK_S):
        lo, hi = max(started, cursor), min(last_seen + HEARTBEAT_SLACK_S, end_ts)
        if hi > lo:
            covered += hi - lo
            cursor = hi
    return min(1.0, covered / (end_ts - start_ts))


def rollup_sums(store: Store, start_ts: float, end_ts: float, bucket_s: float) -> dict[str, WindowMetrics]:
    """Village rollups of buckets mostly inside [start, end), summed per village."""
    lo = start_ts - bucket_s / 2
    out: dict[str, WindowMetrics] = {}
    names = rollup_names(store.conn, "rollup_village")  # the stored table is keyed by integers (schema v5)
    for row in store.conn.execute(
            f"SELECT village_key, {_SUMS}, {_HSUMS} FROM rollup_village_k WHERE bucket_ts >= ? AND bucket_ts < ?"
            " GROUP BY village_key", (lo, end_ts)):
        m = WindowMetrics(*(int(x) for x in row[1:8]))
        m.hist = unpack_hist(row[8:8 + PACKED])
        out[names[row[0]]] = m
    return out


def outage_rows(store: Store, start_ts: float, end_ts: float) -> list[tuple[str, float, float | None, str]]:
    """(village_id, start, end, cause) of village outages overlapping [start, end)."""
    sql = ("SELECT village_id, start_ts, end_ts, cause FROM analysis_outages WHERE village_id != ''"
           " AND start_ts < ? AND ")
    rows = store.conn.execute(sql + "end_ts >= ?", (end_ts, start_ts)).fetchall()
    rows += store.conn.execute(sql + "end_ts IS NULL", (end_ts,)).fetchall()
    return rows


def add_outages(metrics: dict[str, WindowMetrics], rows, start_ts: float, end_ts: float) -> None:
    """Count outages starting in the window and split the down time by cause (upstream excluded)."""
    for vid, start, end, cause in rows:
        if cause == "upstream" or start >= end_ts or (end is not None and end < start_ts):
            continue
        m = metrics.setdefault(vid, WindowMetrics())
        stop = min(end if end is not None else end_ts, end_ts)
        if start >= start_ts:
            m.outages += 1
        m.longest_outage_s = max(m.longest_outage_s, stop - start)
        inside = max(0.0, stop - max(start, start_ts))
        if cause == "power":
            m.power_down_s += inside
        else:
            m.link_down_s += inside


def all_down_since(store: Store, villages: dict[str, list[str]]) -> dict[str, float]:
    """Villages whose every coverage device is down (not upstream): since when the last one went down."""
    states = {}
    for dev, up, since, cause in store.conn.execute(
            "SELECT s.device_id, s.up, s.since_ts, o.cause FROM analysis_device_state s"
            " LEFT JOIN analysis_outages o ON o.id = s.outage_id"):
        states[dev] = (bool(up), since, cause)
    out = {}
    for vid, devices in villages.items():
        seen = [states[d] for d in devices if d in states]
        if seen and all(not up and cause != "upstream" for up, _, cause in seen):
            out[vid] = max(since for _, since, _ in seen)
    return out


def window_metrics(store: Store, villages: dict[str, list[str]], start_ts: float, end_ts: float,
                   bucket_s: float, outages: list | None = None) -> dict[str, WindowMetrics]:
    """Metrics of every village over [start, end): rollups, outages and agent coverage."""
    metrics = rollup_sums(store, start_ts, end_ts, bucket_s)
    add_outages(metrics, outages if outages is not None else outage_rows(store, start_ts, end_ts),
                start_ts, end_ts)
    coverage = agent_coverage(store, start_ts, end_ts)
    for m in metrics.values():
        m.agent_coverage = coverage
    return metrics


def worst_hours(store: Store, village_id: str, start_ts: float, end_ts: float, hour_of,
                top: int = 3) -> list[int]:
    """Local hours of day with the most lost rounds, worst first (only hours that lost any)."""
    lost: dict[int, int] = defaultdict(int)
    for bucket, rounds, up in store.conn.execute(
            "SELECT bucket_ts, rounds, rounds_up FROM rollup_village_k WHERE bucket_ts >= ? AND bucket_ts < ?"
            " AND village_key = (SELECT key FROM village_keys WHERE village_id = ?)",
            (start_ts, end_ts, village_id)):
        if rounds > up:
            lost[hour_of(bucket)] += rounds - up
    return [h for h, _ in sorted(lost.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
