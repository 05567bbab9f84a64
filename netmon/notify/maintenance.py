"""Maintenance windows: planned (config, recurring, explicit timezone) and ad hoc (`netmon mute`).

During a window measurement goes on and events are still recorded, but they are marked `muted`
with the window's reason and no message is sent. Recurring windows are RFC 5545 RRULEs over the
*local wall-clock* start in the window's own timezone, so "every Saturday 22:00 for 4 h" stays at
22:00 across a DST change; the duration is elapsed time.

Scopes name a province, commune, village or device by name or id; an empty scope is the agent.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from netmon.config.notify_schema import MaintenanceSpec
from netmon.config.resolve import slug
from netmon.errors import ConfigurationError
from netmon.i18n import _
from netmon.model import Device

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


def windows_at(specs: Sequence[MaintenanceSpec], conn: sqlite3.Connection | None, ts: float) -> list[Window]:
    """Every window (config and store) open at `ts`."""
    found = [w for spec in specs for w in occurrences(spec, ts, ts) if w.start_ts <= ts < w.end_ts]
    if conn is not None:
        found += [w for w in stored_windows(conn, ts, ts) if w.start_ts <= ts < w.end_ts]
    return found


def maintenance_windows(conn: sqlite3.Connection, settings: Any, ts: float) -> list[Window]:
    """Windows open at `ts` for an agent config (`notify.maintenance` plus `netmon mute`); [] when there is
    no notify section and no mute table yet. The analysis evaluator calls this once per evaluation."""
    specs = settings.notify.maintenance if getattr(settings, "notify", None) is not None else []
    has_table = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='maintenance'").fetchone()
    return windows_at(specs, conn if has_table else None, ts)


def muting(windows: Iterable[Window], ev: Mapping[str, Any]) -> Window | None:
    """The first window covering the event's place, if any."""
    return next((w for w in windows if w.covers(ev)), None)


def place_in_maintenance(specs: Sequence[MaintenanceSpec], conn: sqlite3.Connection | None, ts: float,
                         province: str, commune: str, village: str = "", device: str = "") -> Window | None:
    """The window covering a place at `ts`, if any: the one call analysis needs to hold back a flag.

    Hook (analysis evaluator, before `flags.step`): when this returns a window for the village,
    step with `State.UNKNOWN` so streaks neither grow nor reset and no flag is raised.
    """
    return muting(windows_at(specs, conn, ts), {"province": province, "commune": commune, "village": village,
                                                 "device": device})


class TargetError(ConfigurationError, ValueError):
    """A mute target names nothing, or several things."""


def resolve_target(target: str, devices: Sequence[Device]) -> dict[str, str]:
    """Turn `Tả Phìn`, `lai-chau/sin-ho`, a device name or id into a scope; ambiguous names are errors."""
    want = slug(target)
    found: dict[str, dict[str, str]] = {}
    for d in devices:
        candidates = {
            "device": (d.id, d.name, {"province": d.province, "commune": d.commune, "village": d.village,
                                      "device": d.id}),
            "village": ("/".join(d.id.split("/")[:3]) if d.village else None, d.village,
                        {"province": d.province, "commune": d.commune, "village": d.village}),
            "commune": ("/".join(d.id.split("/")[:2]), d.commune, {"province": d.province, "commune": d.commune}),
            "province": (d.id.split("/")[0], d.province, {"province": d.province}),
        }
        for level, (ident, name, scope) in candidates.items():
            if name and (target == ident or want == slug(name)):
                found.setdefault(f"{level}:{json.dumps(scope, ensure_ascii=False)}", scope)
    if not found:
        raise TargetError(_("{target} names no device, village, commune or province of this config").format(
            target=repr(target)))
    if len(found) > 1:
        options = "; ".join(" / ".join(v.values()) for v in found.values())
        raise TargetError(_("{target} is ambiguous: {options}; give the id (e.g. province/commune/village)").format(
            target=repr(target), options=options))
    return next(iter(found.values()))


def add_window(conn: sqlite3.Connection, scope: Mapping[str, str], duration_s: float, reason: str,
               start_ts: float | None = None) -> int:
    """Store an ad-hoc window; the running daemon reads it on its next tick (no reload needed)."""
    now = time.time()
    start = now if start_ts is None else start_ts
    cur = conn.execute("INSERT INTO maintenance (scope, start_ts, end_ts, reason, created_ts) VALUES (?,?,?,?,?)",
                       (json.dumps(dict(scope), ensure_ascii=False), start, start + duration_s, reason, now))
    return int(cur.lastrowid)


def end_window(conn: sqlite3.Connection, window_id: int) -> bool:
    """End an ad-hoc window now; False if there is no such open window."""
    cur = conn.execute("UPDATE maintenance SET ended_ts = ? WHERE id = ? AND ended_ts IS NULL",
                       (time.time(), window_id))
    return cur.rowcount > 0
