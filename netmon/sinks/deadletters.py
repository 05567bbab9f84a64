"""Points set aside: the `dead_letters` table, why each point is there, and which come back.

A point lands here when InfluxDB refused it on its own (after the forwarder proved the server
takes good data, see influx.py), or when its stored row cannot be read back at all. Each letter
has a kind:
- `data`: the server named a fault of the point itself (field type conflict, unparsable line,
  beyond retention). Resending cannot help until someone changes the database; replayed only
  on request (`netmon deadletters replay --id N` / `--all`).
- `transient`: any other refusal (a proxy's error page, a limit, a message we do not know).
  Replayed automatically while the output is healthy, with a backoff per letter.
- `undecodable`: the stored row itself is broken; kept with its text for a human, never sent.

A replayed letter keeps its row with `replayed_ts` set, so `list --all` shows what happened.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netmon.schema import migrate
from netmon.sinks.transport import Answer, Outcome
from netmon.store import Store

if TYPE_CHECKING:
    from netmon.sinks.batches import Batch
    from netmon.sinks.health import OutputHealth

DATA, TRANSIENT, UNDECODABLE = "data", "transient", "undecodable"
# What InfluxDB 1.x/2.x/3.x say when the point itself is at fault (lower case).
_DATA_FAULT = re.compile(r"field type conflict|unable to parse|invalid (field|number|boolean|tag|measurement|"
                         r"timestamp|line)|bad timestamp|beyond retention|out of range|missing (field|tag)|"
                         r"schema conflict|conflicting field type")
FIRST_REPLAY_S = 60.0
MAX_REPLAY_S = 24 * 3600.0


@dataclass(frozen=True)
class Letter:
    """One row of `dead_letters`."""

    id: int
    output: str
    seq: int
    line: str
    status: int
    message: str
    created_ts: float
    kind: str
    attempts: int
    next_ts: float
    replayed_ts: float | None

    def as_dict(self) -> dict:
        """For `--format json`."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def ensure_schema(store: Store) -> None:
    """Bring the store to the current schema; `dead_letters` is owned by netmon.schema (migrations 1-3)."""
    migrate(store.conn, str(store.path))


def kind_of(status: int, message: str) -> str:
    """`data` when the server blamed the point itself, else `transient`.

    Letters stored before they had a kind were classified once, by migration 3 with the rule of
    that day (netmon.schema.V3_DATA_FAULT); changing this rule does not reclassify them.
    """
    if status == 0:
        return UNDECODABLE
    return DATA if status in (413, 422) or _DATA_FAULT.search(message.lower()) else TRANSIENT


def counter(output: str) -> str:
    """Name of the persistent counter of points an output set aside."""
    return f"dead_lettered:{output}"


def add(store: Store, output: str, seq: int, line: str, status: int, message: str,
        first_replay_s: float = FIRST_REPLAY_S) -> str:
    """Record one refused point (inside the caller's transaction if any); returns its kind."""
    kind = kind_of(status, message)
    now = time.time()
    store.conn.execute(
        "INSERT INTO dead_letters (output, seq, line, status, message, created_ts, kind, attempts, next_ts)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)", (output, seq, line, status, message[:2000], now, kind,
                                                 now + first_replay_s))
    store.add_counter(counter(output), 1)
    return kind


_COLUMNS = "id, output, seq, line, status, message, created_ts, kind, attempts, next_ts, replayed_ts"


def letters(store: Store, output: str | None = None, ids: Sequence[int] = (), pending_only: bool = True,
            kinds: Sequence[str] = (), due_before: float | None = None, limit: int = 1_000_000) -> list[Letter]:
    """Letters matching every given filter, oldest first."""
    where, args = [], []
    if output:
        where.append("output = ?")
        args.append(output)
    if ids:
        where.append(f"id IN ({','.join('?' * len(ids))})")
        args += list(ids)
    if pending_only:
        where.append("replayed_ts IS NULL")
    if kinds:
        where.append(f"kind IN ({','.join('?' * len(kinds))})")
        args += list(kinds)
    if due_before is not None:
        where.append("next_ts <= ?")
        args.append(due_before)
    sql = f"SELECT {_COLUMNS} FROM dead_letters" + (" WHERE " + " AND ".join(where) if where else "")
    rows = store.conn.execute(sql + " ORDER BY id LIMIT ?", (*args, limit))
    return [Letter(*row) for row in rows]


def pending_count(store: Store, output: str) -> int:
    """Letters of `output` not replayed yet (every kind)."""
    return int(store.conn.execute("SELECT count(*) FROM dead_letters WHERE output = ? AND replayed_ts IS NULL",
                                  (output,)).fetchone()[0])


def mark_replayed(store: Store, ids: Sequence[int]) -> None:
    """The server accepted these letters."""
    now = time.time()
    store.conn.executemany("UPDATE dead_letters SET replayed_ts = ?, attempts = attempts + 1 WHERE id = ?",
                           [(now, i) for i in ids])


def mark_refused(store: Store, letter: Letter, status: int, message: str,
                 first_replay_s: float = FIRST_REPLAY_S) -> str:
    """Refused again: new message and kind, next automatic try later (doubling, at most a day)."""
    kind = kind_of(status, message)
    delay = min(MAX_REPLAY_S, first_replay_s * 2 ** min(letter.attempts + 1, 20))
    store.conn.execute("UPDATE dead_letters SET status = ?, message = ?, kind = ?, attempts = attempts + 1,"
                       " next_ts = ? WHERE id = ?", (status, message[:2000], kind, time.time() + delay, letter.id))
    return kind


def set_aside(store: Store, output: str, batch: Batch, refused: Sequence[tuple[int, Answer]],
              first_replay_s: float, health: OutputHealth) -> None:
    """Set a batch's refused and unreadable points aside and advance the output's cursor past the
    batch, in one transaction; the output's health says what was set aside."""
    kinds = []
    with store.transaction():
        for index, answer in refused:
            kinds.append(add(store, output, batch.seqs[index], batch.lines[index].decode(errors="replace"),
                             answer.status, answer.message, first_replay_s))
        for seq, text, reason in batch.unreadable:
            add(store, output, seq, text, 0, reason)
        store.set_cursor(output, batch.last_seq)
    if refused or batch.unreadable:
        health.publish(dead_letters_pending=pending_count(store, output))
    if refused:
        index, answer = refused[0]
        health.lettered(len(refused), kinds[0], batch.seqs[index], answer, batch.lines[index].decode(errors="replace"))
    if batch.unreadable:
        seq, text, reason = batch.unreadable[0]
        health.lettered(len(batch.unreadable), UNDECODABLE, seq, Answer(Outcome.REJECTED, 0, reason), text)
