"""The notification tables: events, the outbox, ad-hoc maintenance windows, and notify's own cursors.

Their schema is owned by netmon/schema.py (migration 4), with every other table's; this module
only reads and writes them. The notifier declares them as its tables (netmon.component).

- `notify_events`: one row per thing worth telling, unique by `key` (the idempotency key: the same
  flag raise or outage found again after a restart inserts nothing).
- `notify_outbox`: one row per message and channel, committed *before* it is sent; `status` goes
  pending -> sending -> sent (or back to pending with `next_try_ts` after a failure). A row found
  in `sending` after a crash is in doubt and is sent again with the same key.
- `maintenance`: windows added from the CLI (`netmon mute`), read by analysis (netmon/analysis/maintenance.py)
  every evaluation; kept 90 days after they end, so a month report still counts them.
"""

from __future__ import annotations

import sqlite3


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Bring the store to the current schema; the notification tables are migration 4 of netmon.schema."""
    from netmon.schema import migrate

    migrate(conn)


def has_schema(conn: sqlite3.Connection) -> bool:
    """True when the tables exist (a read-only reader of a fresh store finds none)."""
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='notify_outbox'").fetchone()
    return row is not None


def get_meta(conn: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    """A persisted notify value (scan cursors, service streaks)."""
    row = conn.execute("SELECT value FROM notify_meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    """Persist a notify value; call inside the transaction that made it true."""
    conn.execute("INSERT INTO notify_meta (key, value) VALUES (?, ?)"
                 " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))


KEEP_S = 90 * 86400.0
"""Sent messages and finished events are kept this long for `netmon notify log`, then deleted."""


def prune(conn: sqlite3.Connection, now: float, keep_s: float = KEEP_S) -> int:
    """Delete old sent messages, finished events and windows; pending messages are never deleted."""
    cut = now - keep_s
    n = conn.execute("DELETE FROM notify_outbox WHERE status = 'sent' AND sent_ts < ?", (cut,)).rowcount
    n += conn.execute("DELETE FROM notify_events WHERE composed != 0 AND created_ts < ? AND id NOT IN"
                      " (SELECT l.event_id FROM notify_links l JOIN notify_outbox o ON o.id = l.outbox_id"
                      " WHERE o.status != 'sent')", (cut,)).rowcount
    n += conn.execute("DELETE FROM notify_links WHERE outbox_id NOT IN (SELECT id FROM notify_outbox)").rowcount
    n += conn.execute("DELETE FROM maintenance WHERE coalesce(ended_ts, end_ts) < ?", (cut,)).rowcount
    return n
