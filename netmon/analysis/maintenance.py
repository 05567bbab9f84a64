"""Maintenance windows as analysis reads them: which place is in planned work, when (issue 18).

Windows come from the config (`notify.maintenance`: one-off and recurring, explicit timezone) and
from the store (`maintenance` table: `netmon maintenance add|import`, `netmon mute`). During a
window measurement goes on; the evaluator holds the flag (neither raises nor clears), the status
view shows `maintenance`, the availability report counts the time apart, and notify records events
as muted. Writing windows (the CLI) stays in netmon/notify/maintenance.py.

Recurring windows are RFC 5545 RRULEs (or cron) over the *local wall-clock* start in the window's
own timezone, so "every Saturday 22:00 for 4 h" stays at 22:00 across a DST change; the duration
is elapsed time. Scopes name a province, commune, village or device by name or id; an empty scope
is the whole agent.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from netmon.config.slugs import slug

if TYPE_CHECKING:  # config models arrive in the bookkeeping process as plain bags (netmon/bags.py)
    from netmon.config.notify_schema import MaintenanceSpec

SCOPE_KEYS = ("province", "commune", "village", "device")


@dataclass(frozen=True, slots=True)
class Window:
    """One concrete window: [start_ts, end_ts) over a scope."""

    start_ts: float
    end_ts: float
    scope: Mapping[str, str]
    reason: str
    source: str
    """`config: NAME` or `mute #ID`."""

    def covers(self, ev: Mapping[str, Any]) -> bool:
        """True when the event's place lies inside the scope (time is checked by the caller)."""
        for key, want in self.scope.items():
            if not want:
                continue
            have = ev.get(key) or ""
            if key == "device":
                if slug(want) not in (slug(have), slug(have.rsplit("/", 1)[-1])) and want != have:
                    return False
            elif slug(want.rsplit("/", 1)[-1]) != slug(have):  # a name, or an id whose last part is the name
                return False
        return True

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON (status, reports)."""
        return {"reason": self.reason, "start_ts": self.start_ts, "end_ts": self.end_ts, "source": self.source,
                "scope": dict(self.scope)}


def occurrences(spec: MaintenanceSpec, since_ts: float, until_ts: float) -> list[Window]:
    """The windows of one config entry (every frame) that overlap [since_ts, until_ts]."""
    from dateutil.rrule import rrulestr

    from netmon.config.cron import cron_to_rrule

    zone = ZoneInfo(spec.timezone)
    scope = {k: v for k in SCOPE_KEYS if (v := getattr(spec.scope, k))}
    name = spec.name or spec.reason or spec.cron or spec.start
    rule_text = cron_to_rrule(spec.cron) if spec.cron else spec.rrule
    frames = [(spec.start or "2000-01-01 00:00", spec.duration)] + [(f.start, f.duration) for f in spec.frames]
    out = []
    for start, duration in frames:
        start_local = datetime.fromisoformat(start)
        lo = datetime.fromtimestamp(since_ts - duration, zone).replace(tzinfo=None) - timedelta(days=1)
        hi = datetime.fromtimestamp(until_ts, zone).replace(tzinfo=None) + timedelta(days=1)
        starts: Iterable[datetime]
        if rule_text is None:
            starts = [start_local]
        else:
            if spec.cron:
                # cron matches do not depend on the start (no INTERVAL), so iterate from near the
                # query instead of from the first day: rrule walks every occurrence from dtstart
                start_local = max(start_local, lo.replace(hour=0, minute=0, second=0, microsecond=0))
            starts = rrulestr(rule_text, dtstart=start_local).between(lo, hi, inc=True)
        for local in starts:
            begin = local.replace(tzinfo=zone).timestamp()  # fold=0: the first of a repeated hour
            end = begin + duration
            if begin <= until_ts and end > since_ts:
                out.append(Window(begin, end, scope, spec.reason, f"config: {name}"))
    return out


def stored_windows(conn: sqlite3.Connection, since_ts: float, until_ts: float) -> list[Window]:
    """Ad-hoc windows from the store overlapping [since_ts, until_ts] (ended ones stop at `ended_ts`)."""
    rows = conn.execute(
        "SELECT id, scope, start_ts, min(end_ts, coalesce(ended_ts, end_ts)), reason FROM maintenance"
        " WHERE start_ts <= ? AND min(end_ts, coalesce(ended_ts, end_ts)) > ?", (until_ts, since_ts))
    return [Window(s, e, json.loads(scope), reason, f"mute #{i}") for i, scope, s, e, reason in rows]


def _has_table(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='maintenance'").fetchone() is not None


def windows_between(specs: Sequence[MaintenanceSpec], conn: sqlite3.Connection | None, since_ts: float,
                    until_ts: float) -> list[Window]:
    """Every window (config and store) overlapping [since_ts, until_ts]; a store without the table has none."""
    found = [w for spec in specs for w in occurrences(spec, since_ts, until_ts)]
    if conn is not None and _has_table(conn):
        found += stored_windows(conn, since_ts, until_ts)
    return found


def windows_at(specs: Sequence[MaintenanceSpec], conn: sqlite3.Connection | None, ts: float) -> list[Window]:
    """Every window (config and store) open at `ts`."""
    return [w for w in windows_between(specs, conn, ts, ts) if w.start_ts <= ts < w.end_ts]


def specs_of(settings: Any) -> Sequence[MaintenanceSpec]:
    """The configured windows of an agent config (`notify.maintenance`); none without a notify section."""
    notify = getattr(settings, "notify", None)
    return notify.maintenance if notify is not None else []


def maintenance_windows(conn: sqlite3.Connection, settings: Any, ts: float) -> list[Window]:
    """Windows open at `ts` for an agent config (config entries plus the store's); the evaluator calls
    this once per evaluation, the status view once per frame."""
    return windows_at(specs_of(settings), conn, ts)


def holding_windows(conn: sqlite3.Connection, settings: Any, now: float, span_s: float) -> list[Window]:
    """Windows overlapping the span the evaluator judges, [now - span_s, now].

    Not only the windows open now: a power cut inside a window that ended ten minutes ago is still
    in the last hour's figures, and judging them would raise the flag the window was meant to hold.
    """
    return windows_between(specs_of(settings), conn, now - span_s, now)


def muting(windows: Iterable[Window], ev: Mapping[str, Any]) -> Window | None:
    """The first window covering the event's place, if any."""
    return next((w for w in windows if w.covers(ev)), None)


def place_in_maintenance(specs: Sequence[MaintenanceSpec], conn: sqlite3.Connection | None, ts: float,
                         province: str, commune: str, village: str = "", device: str = "") -> Window | None:
    """The window covering a place at `ts`, if any."""
    return muting(windows_at(specs, conn, ts), {"province": province, "commune": commune, "village": village,
                                                 "device": device})


def _device_scoped(w: Window) -> bool:
    return bool(w.scope.get("device"))


def village_hold(windows: Sequence[Window], province: str, commune: str, village: str,
                 devices: Sequence[str] = ()) -> Window | None:
    """The window that puts a village in `maintenance`: one over its place (agent, province, commune,
    village), or device windows over every one of its coverage devices (the last to end is returned).

    A window on one device of a village that has two leaves the village judged: the other still
    measures its coverage.
    """
    place = {"province": province, "commune": commune, "village": village, "device": ""}
    found = next((w for w in windows if not _device_scoped(w) and w.covers(place)), None)
    if found is not None or not devices:
        return found
    per_device = []
    for d in devices:
        w = next((w for w in windows if _device_scoped(w) and w.covers({**place, "device": d})), None)
        if w is None:
            return None
        per_device.append(w)
    return max(per_device, key=lambda w: w.end_ts)


def device_hold(windows: Sequence[Window], province: str, commune: str, device: str,
                village: str = "") -> Window | None:
    """The window that puts a device (a commune router, a PC, a service) in `maintenance`."""
    return muting(windows, {"province": province, "commune": commune, "village": village, "device": device})


# ---------------------------------------------------------------- time inside windows (reports)

Spans = list[tuple[float, float]]


def merge(spans: Iterable[tuple[float, float]]) -> Spans:
    """Sorted, non-overlapping union of [start, end) spans."""
    out: Spans = []
    for a, b in sorted(s for s in spans if s[1] > s[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def intersect(a: Spans, b: Spans) -> Spans:
    """Spans inside both merged span lists."""
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def overlap_s(spans: Spans, start: float, end: float) -> float:
    """Seconds of [start, end) inside merged `spans`."""
    return sum(max(0.0, min(b, end) - max(a, start)) for a, b in spans)


def village_spans(windows: Sequence[Window], province: str, commune: str, village: str,
                  devices: Sequence[str], start: float, end: float) -> Spans:
    """When a village was in maintenance within [start, end), by the same rule as `village_hold`."""
    place = {"province": province, "commune": commune, "village": village, "device": ""}
    spans = merge((max(w.start_ts, start), min(w.end_ts, end)) for w in windows
                  if not _device_scoped(w) and w.covers(place))
    if devices:
        every: Spans | None = None
        for d in devices:
            mine = merge((max(w.start_ts, start), min(w.end_ts, end)) for w in windows
                         if _device_scoped(w) and w.covers({**place, "device": d}))
            every = mine if every is None else intersect(every, mine)
        spans = merge(spans + (every or []))
    return spans
