"""The durable outbox: committed before sending, sent in order per channel, retried with backoff.

A row's life: `pending` -> `sending` (committed before the network call) -> `sent`. A failure puts
it back to `pending` with `attempts`, `last_error` and `next_try_ts` (exponential backoff capped by
`max_backoff`); nothing is ever given up while its channel exists, so an uplink outage of a day
delays messages but loses none. A channel delivers strictly in id order: the head of its queue
blocks the rest, so after an outage messages arrive in the order the events happened.

Exactly-once over SMTP or HTTP cannot be promised by a sender alone. A crash after the receiver
took a message but before `sent` was committed leaves the row in `sending`; on the next start it
is sent again, marked as a possible repeat and carrying the same key (the webhook sends it as
`Idempotency-Key`, every text ends with it), so a receiver can drop it. Every other crash point
sends each message once: composing and marking are single transactions keyed by the event.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netmon.notify import texts
from netmon.notify.channels import Outgoing

FIRST_RETRY_S = 5.0

COLUMNS = ("id", "key", "channel", "commune", "created_ts", "event_ts", "severity", "subject", "body", "payload",
           "status", "attempts", "next_try_ts", "sent_ts", "last_error", "in_doubt", "attach")


@dataclass(frozen=True, slots=True)
class Row:
    """One outbox row."""

    id: int
    key: str
    channel: str
    commune: str
    created_ts: float
    event_ts: float
    severity: str
    subject: str
    body: str
    payload: str
    status: str
    attempts: int
    next_try_ts: float
    sent_ts: float | None
    last_error: str | None
    in_doubt: int
    attach: str | None = None
    """JSON {file name: text} of attachments (digests' CSV)."""


def recover(conn: sqlite3.Connection) -> int:
    """After a crash: rows left in `sending` are in doubt; send them again, marked as such."""
    cur = conn.execute("UPDATE notify_outbox SET status = 'pending', in_doubt = 1 WHERE status = 'sending'")
    return cur.rowcount


def head(conn: sqlite3.Connection, channel: str) -> Row | None:
    """The oldest unsent message of a channel (due or not)."""
    row = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM notify_outbox WHERE channel = ? AND status = 'pending'"
                       " ORDER BY id LIMIT 1", (channel,)).fetchone()
    return Row(*row) if row else None


def channels_with_pending(conn: sqlite3.Connection) -> list[str]:
    """Channels that have something to send."""
    return [c for (c,) in conn.execute("SELECT DISTINCT channel FROM notify_outbox WHERE status = 'pending'")]


def mark_sending(conn: sqlite3.Connection, row_id: int) -> None:
    """Committed before the network call, so a crash during it is known afterwards."""
    conn.execute("UPDATE notify_outbox SET status = 'sending', attempts = attempts + 1 WHERE id = ?", (row_id,))


def mark_sent(conn: sqlite3.Connection, row_id: int, now: float) -> None:
    """The receiver accepted the message."""
    conn.execute("UPDATE notify_outbox SET status = 'sent', sent_ts = ?, last_error = NULL WHERE id = ?",
                 (now, row_id))


def mark_retry(conn: sqlite3.Connection, row_id: int, now: float, reason: str, max_backoff: float) -> float:
    """Back to pending with the reason; returns when the next try is due."""
    attempts = conn.execute("SELECT attempts FROM notify_outbox WHERE id = ?", (row_id,)).fetchone()[0]
    delay = min(max_backoff, FIRST_RETRY_S * 2 ** max(0, attempts - 1))
    conn.execute("UPDATE notify_outbox SET status = 'pending', next_try_ts = ?, last_error = ? WHERE id = ?",
                 (now + delay, reason, row_id))
    return now + delay


def mark_failed(conn: sqlite3.Connection, row_id: int, reason: str) -> None:
    """A permanent failure (the channel is gone from the config): kept, shown by `notify log`, not retried."""
    conn.execute("UPDATE notify_outbox SET status = 'failed', last_error = ? WHERE id = ?", (reason, row_id))


def outgoing(row: Row, lang: str, tz: str, now: float, late_after: float, agent: str) -> Outgoing:
    """The texts as sent now: a late note when the event is old, a repeat note when in doubt, the key."""
    notes = []
    # Late is measured from when the message was committed: waiting for siblings (group_wait,
    # group_interval) is by design, waiting for the receiver is what the reader must be told.
    late = now - row.created_ts > late_after
    if late:
        notes.append(texts.t(lang, "late", event=texts.local_time(row.event_ts, tz),
                             sent=texts.local_time(now, tz, with_date=_day(row.event_ts, tz) != _day(now, tz))))
    if row.in_doubt:
        notes.append(texts.t(lang, "resend", key=row.key))
    body = "\n".join(notes + ([""] if notes else []) + [row.body, "", f"-- netmon {agent} · {row.key}"])
    payload: Mapping[str, Any] = json.loads(row.payload)
    fields = {"severity": row.severity, "province": payload.get("province", ""),
              "commune": payload.get("commune", ""), "village": payload.get("village", ""),
              "operator": payload.get("operator", ""), "event_ts": row.event_ts, "sent_ts": now,
              "late": int(late), "repeat": row.in_doubt,
              "agent": agent}
    return Outgoing(row.key, row.subject, body, fields, json.loads(row.attach) if row.attach else {})


def _day(ts: float, tz: str) -> str:
    return texts.local_time(ts, tz)[:10]
