"""From recorded events to outbox messages: routing, grouping per commune, and the flood guard.

An event waits `group_wait` for its siblings; then all events of one commune that route to one
channel become one message, at most one per `group_interval` (a flapping village produces one
message per interval, listing what happened). When a channel has had `flood.max_messages` messages
in `flood.per`, the next ones are folded into one summary per `group_interval`.

The message row and the links from its events are written in the same transaction, with a key
derived from its first event, so composing twice (after a crash) cannot make two messages.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from netmon.config.notify_schema import NotifySettings, RouteSpec
from netmon.config.slugs import slug
from netmon.notify import texts

NOT_SENT_MUTED, NOT_SENT_UNROUTED = 2, 3
"""`notify_events.composed`: 0 waiting (or linked to some of its channels), 1 in a message for each,
2 muted (maintenance/upstream), 3 no route."""


def _matches(values: Sequence[str], have: str) -> bool:
    return not values or any(v == have or slug(v) == slug(have) for v in values)


def route(routes: Sequence[RouteSpec], ev: Mapping[str, Any]) -> list[str]:
    """Channel names an event goes to: the union of every matching route, in config order."""
    out: list[str] = []
    for r in routes:
        if (_matches(r.province, ev["province"]) and _matches(r.commune, ev["commune"])
                and _matches(r.village, ev["village"]) and _matches(r.operator, ev["operator"])
                and (not r.severity or ev["severity"] in r.severity) and (not r.kind or ev["kind"] in r.kind)):
            out += [c for c in r.channels if c not in out]
    return out


def _pending_events(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    cols = ("id", "key", "kind", "action", "severity", "event_ts", "created_ts", "province", "commune", "village",
            "operator", "device", "payload", "muted")
    rows = conn.execute(f"SELECT {', '.join(cols)} FROM notify_events WHERE composed = 0 ORDER BY event_ts, id")
    out = []
    for row in rows.fetchall():
        ev = dict(zip(cols, row, strict=True))
        ev["payload"] = json.loads(ev["payload"])
        out.append(ev)
    return out


def compose(conn: sqlite3.Connection, settings: NotifySettings, now: float, tz: str) -> int:
    """Turn ready events into outbox messages; returns how many messages were created. Call in a transaction."""
    created = 0
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    routed: dict[int, set[str]] = {}
    # no routes written: every channel hears everything (a silent default would lose messages)
    routes = settings.routes or [RouteSpec(channels=list(settings.channels))] if settings.channels else []
    for ev in _pending_events(conn):
        if ev["muted"]:
            conn.execute("UPDATE notify_events SET composed = ? WHERE id = ?", (NOT_SENT_MUTED, ev["id"]))
            continue
        channels = [c for c in route(routes, ev) if c in settings.channels]
        if not channels:
            conn.execute("UPDATE notify_events SET composed = ? WHERE id = ?", (NOT_SENT_UNROUTED, ev["id"]))
            continue
        routed[ev["id"]] = set(channels)
        linked = {c for (c,) in conn.execute("SELECT channel FROM notify_links WHERE event_id = ?", (ev["id"],))}
        for channel in [c for c in channels if c not in linked]:
            groups[(channel, f"{ev['province']}/{ev['commune']}")].append(ev)
    for (channel, commune), events in groups.items():
        if now - min(e["created_ts"] for e in events) < settings.group_wait:
            continue
        last = conn.execute("SELECT max(created_ts) FROM notify_outbox WHERE channel = ? AND commune = ?",
                            (channel, commune)).fetchone()[0]
        if last is not None and now - last < settings.group_interval:
            continue
        if _flooding(conn, settings, channel, now):
            created += _summary(conn, settings, channel, now, tz)
            continue
        created += _message(conn, settings, channel, commune, events, now, tz)
    for event_id, channels in routed.items():  # done once in a message for every channel it routes to
        linked = {c for (c,) in conn.execute("SELECT channel FROM notify_links WHERE event_id = ?", (event_id,))}
        if channels <= linked:
            conn.execute("UPDATE notify_events SET composed = 1 WHERE id = ?", (event_id,))
    return created


def _lang(settings: NotifySettings, channel: str) -> str:
    return settings.channels[channel].language or settings.language


def _severity(events: Sequence[Mapping[str, Any]]) -> str:
    order = {"info": 0, "warning": 1, "critical": 2}
    return max((e["severity"] for e in events), key=lambda s: order.get(s, 1))


def _message(conn: sqlite3.Connection, settings: NotifySettings, channel: str, commune: str,
             events: Sequence[Mapping[str, Any]], now: float, tz: str) -> int:
    subject, body = texts.message(_lang(settings, channel), events, tz)
    first = events[0]
    payload = {"events": [e["key"] for e in events], "province": first["province"], "commune": first["commune"],
               "village": first["village"] if len({e["village"] for e in events}) == 1 else "",
               "operator": first["operator"] if len({e["operator"] for e in events}) == 1 else ""}
    return _insert(conn, f"msg:{channel}:{first['key']}", channel, commune, events, subject, body, payload, now)


def _insert(conn: sqlite3.Connection, key: str, channel: str, commune: str, events: Sequence[Mapping[str, Any]],
            subject: str, body: str, payload: dict[str, Any], now: float) -> int:
    cur = conn.execute(
        "INSERT OR IGNORE INTO notify_outbox (key, channel, commune, created_ts, event_ts, severity, subject, body,"
        " payload, status, next_try_ts) VALUES (?,?,?,?,?,?,?,?,?, 'pending', ?)",
        (key, channel, commune, now, min(e["event_ts"] for e in events), _severity(events), subject, body,
         json.dumps(payload, ensure_ascii=False), now))
    row = conn.execute("SELECT id FROM notify_outbox WHERE key = ?", (key,)).fetchone()
    conn.executemany("INSERT OR IGNORE INTO notify_links VALUES (?, ?, ?)",
                     [(e["id"], channel, row[0]) for e in events])
    return cur.rowcount


def _flooding(conn: sqlite3.Connection, settings: NotifySettings, channel: str, now: float) -> bool:
    n = conn.execute("SELECT count(*) FROM notify_outbox WHERE channel = ? AND created_ts > ?",
                     (channel, now - settings.flood.per)).fetchone()[0]
    return n >= settings.flood.max_messages


def _summary(conn: sqlite3.Connection, settings: NotifySettings, channel: str, now: float, tz: str) -> int:
    """One message folding every waiting event of the channel, at most once per group_interval."""
    last = conn.execute("SELECT max(created_ts) FROM notify_outbox WHERE channel = ? AND commune = '*'",
                        (channel,)).fetchone()[0]
    if last is not None and now - last < settings.group_interval:
        return 0
    events = [ev for ev in _pending_events(conn)
              if not ev["muted"] and channel in route(settings.routes or [RouteSpec(channels=[channel])], ev)
              and not conn.execute("SELECT 1 FROM notify_links WHERE event_id = ? AND channel = ?",
                                   (ev["id"], channel)).fetchone()]
    if not events:
        return 0
    lang = _lang(settings, channel)
    communes = len({(e["province"], e["commune"]) for e in events})
    subject = texts.t(lang, "flood.subject", count=len(events), communes=communes)
    lines = [texts.t(lang, "flood.body", count=len(events), communes=communes), ""]
    lines += [f"- {texts.local_time(e['event_ts'], tz, with_date=False)} {texts.where(e)}: {texts.headline(lang, e)}"
              for e in events[:50]]
    payload = {"events": [e["key"] for e in events], "province": "", "commune": "*", "village": "", "operator": ""}
    return _insert(conn, f"flood:{channel}:{events[0]['key']}", channel, "*", events, subject, "\n".join(lines),
                   payload, now)

