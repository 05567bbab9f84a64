"""Maintenance windows, the writing side: `netmon maintenance add|import|end` and `netmon mute`.

Reading windows (config occurrences, stored windows, which place is covered when) is analysis's
job: netmon/analysis/maintenance.py, which the evaluator, the status view, the availability report
and the notifier all use. This module turns a name the technician typed into a scope and stores
ad-hoc windows; the running daemon reads them on its next tick.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence

from netmon.config.slugs import slug
from netmon.errors import ConfigurationError
from netmon.i18n import _
from netmon.model import Device


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
