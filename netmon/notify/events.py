"""Events worth a message, derived from what the store already records.

Sources, all written by other parts of the daemon:
- `flags` (analysis): a village flag raised, its cause changed (pending -> link/power/upstream),
  cleared (after the analysis hysteresis), and still open after `repeat_interval`;
- `analysis_outages` (rollups): a device of a watched kind down for `down_after`, and back;
- `results` of http/tcp checks: a service failing `service_down_after` rounds in a row, and back.

Parents suppress children: an outage the rollups excused (`upstream`: a parent was down) and an
`upstream` flag are recorded muted, and the parent's message lists what is unreachable behind it,
so a commune router outage is one message, not one per village.

Every event has a stable key (`flag:12:raise`, `outage:40:down`, ...): found again after a
restart it inserts nothing, which is what makes the outbox free of duplicates.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netmon.config.notify_schema import NotifySettings
from netmon.model import Device
from netmon.notify.db import get_meta, set_meta

RESCAN_S = 3600.0
"""Closed outages and updated flags are looked at again for this long (keys make it idempotent)."""
FIRST_LOOKBACK_S = 3600.0
MEMO_MAX = 200_000
_OVERLAP = ("SELECT 1 FROM analysis_outages WHERE device_id = ? AND start_ts <= ?"
            " AND (end_ts IS NULL OR end_ts >= ?)")
"""On the first start, events older than this are history, not news."""


@dataclass
class Event:
    """One thing worth telling; `payload` holds what the texts need."""

    key: str
    kind: str
    action: str
    severity: str
    event_ts: float
    province: str
    commune: str
    village: str
    operator: str
    device: str
    payload: dict[str, Any] = field(default_factory=dict)
    muted: str | None = None

    def as_row(self) -> dict[str, Any]:
        """The mapping the texts and routing read."""
        return {"key": self.key, "kind": self.kind, "action": self.action, "severity": self.severity,
                "event_ts": self.event_ts, "province": self.province, "commune": self.commune,
                "village": self.village, "operator": self.operator, "device": self.device,
                "payload": self.payload}


class Deriver:
    """Finds new events in the store on each tick; keeps its cursors in `notify_meta`."""

    def __init__(self, conn: sqlite3.Connection, settings: NotifySettings, devices: Mapping[str, Device],
                 memo: dict[str, tuple[str | None, dict[str, Any]]] | None = None) -> None:
        self.conn = conn
        self.memo = {} if memo is None else memo
        """Events already in the store (they never change once inserted): saves a lookup per open problem per tick."""
        self.settings = settings
        self.devices = devices
        self.children: dict[str, list[str]] = {}
        self.commune_router: dict[tuple[str, str], str] = {}
        for d in devices.values():
            if d.parent:
                self.children.setdefault(d.parent, []).append(d.id)
            if d.kind == "router" and not d.village:
                self.commune_router.setdefault((d.province, d.commune), d.id)

    # ------------------------------------------------------------ helpers

    def _known(self, key: str) -> tuple[str | None, dict[str, Any]] | None:
        hit = self.memo.get(key)
        if hit is not None:
            return hit
        row = self.conn.execute("SELECT muted, payload FROM notify_events WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        if len(self.memo) > MEMO_MAX:
            self.memo.clear()
        found = self.memo[key] = (row[0], json.loads(row[1]))
        return found

    def _descendants(self, device_id: str) -> list[str]:
        out, todo, seen = [], list(self.children.get(device_id, ())), {device_id}
        while todo:
            d = todo.pop()
            if d in seen:
                continue
            seen.add(d)
            out.append(d)
            todo += self.children.get(d, ())
        return out

    def _parent(self, d: Device) -> str | None:
        """The declared parent; a commune-level device without one (a service check) sits behind the
        commune's router, which is how its traffic leaves the commune."""
        if d.parent:
            return d.parent
        router = self.commune_router.get((d.province, d.commune))
        return router if router != d.id and not d.village else None

    def _ancestor_down(self, device_id: str, ts: float) -> bool:
        d, seen = self.devices.get(device_id), set()
        while d is not None and (parent := self._parent(d)) and parent not in seen:
            seen.add(parent)
            if self.conn.execute(_OVERLAP, (parent, ts, ts)).fetchone():
                return True
            d = self.devices.get(parent)
        return False

    def _device_event(self, key: str, action: str, severity: str, ts: float, d: Device, **payload: Any) -> Event:
        kind, muted = payload.pop("kind", "device"), payload.pop("muted", None)
        return Event(key, kind, action, severity, ts, d.province, d.commune, d.village, d.operator, d.id,
                     {"device_name": d.name, "device_kind": d.kind, **payload}, muted)

    # ------------------------------------------------------------ sources

    def flags(self, now: float) -> Iterator[Event]:
        """Raise, cause change, clear and reminders of village flags."""
        since = float(get_meta(self.conn, "flags_scan_ts") or now - FIRST_LOOKBACK_S)
        rows = self.conn.execute(
            "SELECT id, village_id, province, commune, village, operator, cause, raised_ts, cleared_ts, evidence,"
            " updated_ts FROM flags WHERE updated_ts >= ? OR cleared_ts IS NULL ORDER BY id", (since - RESCAN_S,))
        for fid, vid, prov, com, vil, op, cause, raised, cleared, evidence, updated in rows.fetchall():
            base = dict(province=prov, commune=com, village=vil, operator=op, device=vid)
            ev = json.loads(evidence or "{}")
            payload = {"cause": cause, "since_ts": raised, "evidence": ev}
            muted = "upstream" if cause == "upstream" else None
            raise_key = f"flag:{fid}:raise"
            known = self._known(raise_key)
            if known is None:
                if raised < since - RESCAN_S and cleared is not None:
                    continue
                yield Event(raise_key, "flag", "raise", "warning", raised, payload=payload, muted=muted, **base)
                last_cause, raise_muted = cause, muted
            else:
                last_cause = self._last_flag_cause(fid) or known[1].get("cause")
                raise_muted = known[0]
            # A problem whose raise was held back (maintenance, upstream) stays held back: its cause
            # change, reminders and clear are recorded but not sent either.
            follow = raise_muted or muted
            if cause != last_cause and cleared is None:
                yield Event(f"flag:{fid}:cause:{cause}", "flag", "cause", "warning", updated, payload=payload,
                            muted=follow, **base)
            if cleared is not None:
                yield Event(f"flag:{fid}:clear", "flag", "clear", "warning", cleared, payload=payload,
                            muted=raise_muted, **base)
            elif (n := math.floor((now - raised) / self.settings.repeat_interval)) >= 1:
                yield Event(f"flag:{fid}:repeat:{n}", "flag", "repeat", "warning", now, payload=payload,
                            muted=follow, **base)
        set_meta(self.conn, "flags_scan_ts", repr(now))

    def _last_flag_cause(self, fid: int) -> str | None:
        row = self.conn.execute(
            # a key range (';' follows ':'), which the unique index on key serves; LIKE would scan
            "SELECT payload FROM notify_events WHERE key >= ? AND key < ? AND action IN ('raise', 'cause')"
            " ORDER BY id DESC LIMIT 1",
            (f"flag:{fid}:", f"flag:{fid};")).fetchone()
        return json.loads(row[0]).get("cause") if row else None

    def outages(self, now: float) -> Iterator[Event]:
        """Devices of the watched kinds down for `down_after`, back up, and still down after `repeat_interval`."""
        since = float(get_meta(self.conn, "outages_scan_ts") or now - FIRST_LOOKBACK_S)
        kinds = set(self.settings.device_kinds)
        wait = self.settings.down_after
        sql = "SELECT id, device_id, start_ts, end_ts, cause FROM analysis_outages WHERE "
        rows = self.conn.execute(sql + "end_ts IS NULL ORDER BY id").fetchall()
        rows += self.conn.execute(sql + "end_ts >= ? ORDER BY id", (since - RESCAN_S,)).fetchall()
        for oid, dev, start, end, cause in sorted(rows):
            d = self.devices.get(dev)
            if d is None or d.kind not in kinds:
                continue
            lasted = (end if end is not None else now) - start
            if lasted < wait:
                continue
            down_key = f"outage:{oid}:down"
            known = self._known(down_key)
            upstream = cause == "upstream" or self._ancestor_down(dev, start)
            # the recovery has its problem's severity, so it reaches every channel the problem reached
            severity = "critical" if d.kind == "router" and not d.village else "warning"
            muted = "upstream" if upstream else None
            if known is None:
                if end is not None and end < since - RESCAN_S:
                    continue
                behind = [] if upstream else self._behind(dev, start, end, now)
                yield self._device_event(down_key, "down", severity, start + wait, d, since_ts=start,
                                         cause=cause, behind=behind, evidence=self._evidence(d, start),
                                         muted=muted)
                down_muted = muted
            else:
                down_muted = known[0]
            if end is not None:
                yield self._device_event(f"outage:{oid}:up", "up", severity, end, d, since_ts=start, cause=cause,
                                         muted=down_muted)
            elif (n := math.floor((now - start) / self.settings.repeat_interval)) >= 1:
                yield self._device_event(f"outage:{oid}:repeat:{n}", "repeat", "warning", now, d, since_ts=start,
                                         cause=cause, muted=down_muted)
        set_meta(self.conn, "outages_scan_ts", repr(now))

    def _behind(self, dev: str, start: float, end: float | None, now: float) -> list[str]:
        """Names of the villages (or devices) behind `dev` that were down in the same outage."""
        names: list[str] = []
        for child in self._descendants(dev):
            row = self.conn.execute(
                _OVERLAP,
                (child, end if end is not None else now, start)).fetchone()
            c = self.devices[child]
            label = c.village or c.name
            if row and label not in names:
                names.append(label)
        return names

    def _evidence(self, d: Device, start: float) -> str:
        row = self.conn.execute(
            "SELECT reason FROM results WHERE device_id = ? AND prober = 'icmp' AND ts >= ? ORDER BY seq LIMIT 1",
            (d.id, start - 1)).fetchone()
        return f"{d.target}: {row[0]}" if row else d.target

    def services(self, now: float) -> Iterator[Event]:
        """http/tcp checks failing `service_down_after` rounds in a row, and back."""
        top = self.conn.execute("SELECT coalesce(max(seq), 0) FROM results").fetchone()[0]
        cursor = int(get_meta(self.conn, "services_seq") or top)
        state: dict[str, list[Any]] = json.loads(get_meta(self.conn, "services_state") or "{}")
        need = self.settings.service_down_after
        for _seq, ts, dev, check, status, reason in self.conn.execute(
                "SELECT seq, ts, device_id, check_name, status, reason FROM results"
                " WHERE seq > ? AND seq <= ? AND prober IN ('http', 'tcp') ORDER BY seq", (cursor, top)).fetchall():
            d = self.devices.get(dev)
            if d is None:
                continue
            key = f"{dev}|{check}"
            streak, first_ts, reported = state.get(key, [0, None, False])
            if status != "ok":
                streak, first_ts = streak + 1, first_ts if streak else ts
                if streak >= need and not reported:
                    reported = True
                    muted = "upstream" if self._ancestor_down(dev, ts) else None
                    yield self._device_event(f"svc:{dev}:{check}:{first_ts!r}:down", "down", "warning", ts, d,
                                             kind="service", since_ts=first_ts, evidence=f"{check}: {reason}",
                                             muted=muted)
            else:
                if reported:
                    down = self._known(f"svc:{dev}:{check}:{first_ts!r}:down")
                    yield self._device_event(f"svc:{dev}:{check}:{first_ts!r}:up", "up", "warning", ts, d,
                                             kind="service", since_ts=first_ts, evidence=f"{check}: {reason}",
                                             muted=down[0] if down else None)
                streak, first_ts, reported = 0, None, False
            state[key] = [streak, first_ts, reported]
        set_meta(self.conn, "services_seq", str(top))
        set_meta(self.conn, "services_state", json.dumps(state))

    def derive(self, now: float) -> list[Event]:
        """Every source, in one list (the caller inserts them in the same transaction as the cursors)."""
        out: list[Event] = []
        if _has_table(self.conn, "flags"):
            out += self.flags(now)
        if _has_table(self.conn, "analysis_outages"):
            out += self.outages(now)
        out += self.services(now)
        return out


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def insert_events(conn: sqlite3.Connection, events: Sequence[Event], now: float) -> int:
    """Insert events not seen before (by key); returns how many were new."""
    before = conn.total_changes
    conn.executemany(
        "INSERT OR IGNORE INTO notify_events (key, kind, action, severity, event_ts, created_ts, province, commune,"
        " village, operator, device, payload, muted) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [(e.key, e.kind, e.action, e.severity, e.event_ts, now, e.province, e.commune, e.village, e.operator,
          e.device, json.dumps(e.payload, ensure_ascii=False), e.muted) for e in events])
    return conn.total_changes - before
