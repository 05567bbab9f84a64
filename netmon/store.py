"""The embedded store: SQLite in WAL mode, the agent's single source of truth.

Every result is committed here before anything else uses it. The `results` table is an
append-only log with an integer sequence that never goes backwards (AUTOINCREMENT, so a
deleted row's number is never reused), which is what output cursors point into. Readers in
other processes (`netmon status`, `netmon report`) open the same file; WAL lets them read
while the daemon writes.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from netmon.fieldtypes import REFUSED_COUNTER, FieldTypes
from netmon.model import Device, ProbeResult, Sample, Status

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    ts         REAL    NOT NULL,
    device_id  TEXT    NOT NULL,
    check_name TEXT    NOT NULL,
    prober     TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    duration_s REAL    NOT NULL,
    samples    TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS results_device_ts ON results (device_id, ts);
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, profile TEXT NOT NULL,
    province TEXT NOT NULL, commune TEXT NOT NULL, village TEXT NOT NULL,
    operator TEXT NOT NULL, host TEXT, url TEXT, parent TEXT, lat REAL, lon REAL
);
CREATE TABLE IF NOT EXISTS cursors (
    output TEXT PRIMARY KEY, seq INTEGER NOT NULL, updated_ts REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS agent_state (
    key TEXT PRIMARY KEY, value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agent_runs (
    started_ts REAL PRIMARY KEY, last_seen_ts REAL NOT NULL, pid INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY, value INTEGER NOT NULL
);
"""

_COLUMNS = "seq, ts, device_id, check_name, prober, status, reason, duration_s, samples"


def encode_samples(samples: Sequence[Sample]) -> str:
    """Samples as compact JSON; JSON keeps int, float, bool and str apart, so types survive.

    `allow_nan=False`: checked samples never hold NaN, and a NaN must never reach the store as
    the non-standard token that other JSON readers refuse.
    """
    return json.dumps(
        [[s.measurement, dict(s.tags), dict(s.fields)] for s in samples],
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    )


def decode_samples(text: str) -> tuple[Sample, ...]:
    """Inverse of `encode_samples`; a row that cannot be read yields no samples (logged once).

    Rows are checked before they are stored, so this only meets rows damaged on disk or written
    by something else; a reader (analysis, status) must not fail on every cycle because of one.
    The forwarder reads rows itself and sets such a row aside in its dead letters (batches.py).
    """
    try:
        samples = tuple(Sample(m, fields, tags) for m, tags, fields in json.loads(text))
        if all(type(s.measurement) is str and type(s.fields) is dict and type(s.tags) is dict for s in samples):
            return samples
        raise ValueError("a sample is not [measurement, {tags}, {fields}]")
    except (ValueError, TypeError) as exc:
        global _undecodable_logged
        if not _undecodable_logged:
            _undecodable_logged = True
            log.warning("a stored result's samples cannot be read (%s); read as a result without samples", exc)
        return ()


_undecodable_logged = False


def row_to_result(row: Sequence[Any]) -> ProbeResult:
    """Build a ProbeResult from a `results` row selected with `_COLUMNS`."""
    _seq, ts, device_id, check, prober, status, reason, duration_s, samples = row
    return ProbeResult(device_id, check, prober, Status(status), reason, ts, duration_s,
                       decode_samples(samples))


def _row(r: ProbeResult) -> tuple:
    try:
        samples = encode_samples(r.samples)
    except (TypeError, ValueError) as exc:  # checked samples always encode; this is the last guard
        log.error("%s %s: samples cannot be stored (%s); stored as an error without them", r.device_id, r.check, exc)
        return (r.ts, r.device_id, r.check, r.prober, "error", f"samples cannot be stored: {exc}", r.duration_s, "[]")
    return (r.ts, r.device_id, r.check, r.prober, r.status.value, r.reason, r.duration_s, samples)


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection, also for a reader who may not write the state folder.

    A WAL reader needs the `-shm` file. While the daemon runs it exists and a group-readable one
    is enough; when the daemon has stopped, SQLite has removed it, and a technician in the netmon
    group (read-only on the state folder) cannot create it. No `-shm` means no writer has the
    file open, so it is at rest and can be read as immutable.
    """
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.OperationalError:
        conn.close()
        if Path(f"{path}-shm").exists() or os.access(path.parent, os.W_OK):
            raise
        conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, timeout=10)
    return conn


class Store:
    """One SQLite file under the agent's state_dir; cheap to open from any process."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._field_types: FieldTypes | None = None

    @classmethod
    def open(cls, path: str | Path, readonly: bool = False) -> Store:
        """Open (creating if needed) the store at `path` (a file, or a folder holding netmon.db)."""
        path = Path(path)
        if path.is_dir() or path.suffix == "":
            path = path / "netmon.db"
        if readonly:
            if not path.exists():
                raise FileNotFoundError(f"no netmon store at {path}; has `netmon run` been started with this config?")
            conn = _connect_readonly(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=10, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
        conn.execute("PRAGMA busy_timeout=10000")
        return cls(conn, path)

    def close(self) -> None:
        """Close the connection; committed data is already durable."""
        self.conn.close()

    # ------------------------------------------------------------ writing

    def append(self, results: Iterable[ProbeResult]) -> int:
        """Commit results in one transaction; return the sequence number of the last one.

        Every value is checked first (`netmon.fieldtypes`): a value that cannot be stored or
        sent makes its result an `error` with a reason instead of failing the whole batch.
        """
        if self._field_types is None:
            self._field_types = FieldTypes(self.conn)
        checked = self._field_types.check(results)
        rows = [_row(r) for r in checked.results]
        if not rows:
            return self.max_seq()
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO results (ts, device_id, check_name, prober, status, reason, duration_s, samples)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            if checked.new_types:
                self.conn.executemany("INSERT OR IGNORE INTO field_types (measurement, field, type, first_ts)"
                                      " VALUES (?, ?, ?, ?)", checked.new_types)
            if checked.refused:
                self.add_counter(REFUSED_COUNTER, checked.refused)
        self._field_types.saved()
        return self.max_seq()

    def transaction(self) -> _Transaction:
        """`with store.transaction():` runs the block in one IMMEDIATE transaction."""
        return _Transaction(self.conn)

    def sync_devices(self, devices: Sequence[Device]) -> None:
        """Record the inventory so other processes can label results without the config."""
        with self.transaction():
            self.conn.execute("DELETE FROM devices")
            self.conn.executemany(
                "INSERT INTO devices VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(d.id, d.name, d.kind, d.profile, d.province, d.commune, d.village, d.operator,
                  d.host, d.url, d.parent, d.lat, d.lon) for d in devices],
            )

    def set_state(self, **values: Any) -> None:
        """Upsert agent state values (JSON-encoded): heartbeat, lag, probes per second..."""
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO agent_state (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [(k, json.dumps(v)) for k, v in values.items()],
            )

    def state(self) -> dict[str, Any]:
        """All agent state values."""
        return {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM agent_state")}

    def mark_alive(self, started_ts: float, pid: int, now: float | None = None) -> None:
        """Extend the current agent run; gaps between runs are when the agent was not watching."""
        now = time.time() if now is None else now
        self.conn.execute(
            "INSERT INTO agent_runs (started_ts, last_seen_ts, pid) VALUES (?, ?, ?)"
            " ON CONFLICT(started_ts) DO UPDATE SET last_seen_ts = excluded.last_seen_ts",
            (started_ts, now, pid),
        )

    def agent_runs(self, since_ts: float = 0.0) -> list[tuple[float, float]]:
        """(started, last_seen) of every agent run that overlaps [since_ts, now]."""
        return list(self.conn.execute(
            "SELECT started_ts, last_seen_ts FROM agent_runs WHERE last_seen_ts >= ? ORDER BY started_ts",
            (since_ts,),
        ))

    def add_counter(self, name: str, delta: int) -> None:
        """Add to a persistent counter (dropped points, dead-lettered points...)."""
        self.conn.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?)"
            " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (name, delta),
        )

    def counters(self) -> dict[str, int]:
        """All persistent counters."""
        return dict(self.conn.execute("SELECT name, value FROM counters"))

    # ------------------------------------------------------------ reading

    def max_seq(self) -> int:
        """Sequence number of the newest result (0 when empty)."""
        row = self.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'results'").fetchone()
        return int(row[0]) if row else 0

    def count(self) -> int:
        """Number of results kept."""
        return int(self.conn.execute("SELECT count(*) FROM results").fetchone()[0])

    def results_after(self, seq: int, limit: int) -> list[tuple[int, ProbeResult]]:
        """Up to `limit` results with a sequence above `seq`, oldest first (forwarders' read)."""
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM results WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        ).fetchall()
        return [(row[0], row_to_result(row)) for row in rows]

    def results_between(self, after_seq: int, upto_seq: int, limit: int) -> list[tuple[int, ProbeResult]]:
        """Up to `limit` results with after_seq < seq <= upto_seq, oldest first."""
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM results WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
            (after_seq, upto_seq, limit),
        ).fetchall()
        return [(row[0], row_to_result(row)) for row in rows]

    def iter_results(self, device_id: str | None = None, check: str | None = None,
                     since_ts: float | None = None, until_ts: float | None = None,
                     prober: str | None = None) -> Iterator[ProbeResult]:
        """Results matching every given filter, in time order."""
        where, args = [], []
        for column, op, value in (("device_id", "=", device_id), ("check_name", "=", check),
                                  ("ts", ">=", since_ts), ("ts", "<", until_ts), ("prober", "=", prober)):
            if value is not None:
                where.append(f"{column} {op} ?")
                args.append(value)
        sql = f"SELECT {_COLUMNS} FROM results"
        if where:
            sql += " WHERE " + " AND ".join(where)
        for row in self.conn.execute(sql + " ORDER BY ts, seq", args):
            yield row_to_result(row)

    def latest(self, device_id: str, check: str) -> ProbeResult | None:
        """The newest result of one check on one device."""
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM results WHERE device_id = ? AND check_name = ? ORDER BY ts DESC LIMIT 1",
            (device_id, check),
        ).fetchone()
        return row_to_result(row) if row else None

    def devices(self) -> list[Device]:
        """The inventory as last recorded by the daemon."""
        rows = self.conn.execute(
            "SELECT id, name, kind, profile, province, commune, village, host, url, parent, operator, lat, lon"
            " FROM devices ORDER BY rowid"
        )
        return [Device(id=r[0], name=r[1], kind=r[2], profile=r[3], province=r[4], commune=r[5],
                       village=r[6], host=r[7], url=r[8], parent=r[9], operator=r[10], lat=r[11],
                       lon=r[12]) for r in rows]

    # ------------------------------------------------------------ cursors and retention

    def cursor(self, output: str) -> int:
        """Sequence number up to which `output` has acknowledged results (0 if never)."""
        row = self.conn.execute("SELECT seq FROM cursors WHERE output = ?", (output,)).fetchone()
        return int(row[0]) if row else 0

    def set_cursor(self, output: str, seq: int) -> None:
        """Advance `output`'s cursor; call only after the output acknowledged everything up to `seq`."""
        self.conn.execute(
            "INSERT INTO cursors (output, seq, updated_ts) VALUES (?, ?, ?)"
            " ON CONFLICT(output) DO UPDATE SET seq = excluded.seq, updated_ts = excluded.updated_ts",
            (output, seq, time.time()),
        )

    def prune(self, older_than_ts: float, outputs: Sequence[str], max_disk_mb: int | None = None) -> int:
        """Delete old results every output has acknowledged; past the disk cap, delete unsent ones too.

        Returns the number of rows deleted. Rows dropped before an output sent them are counted
        in the `dropped_unsent` counter and logged, never silently lost.
        """
        acked = min((self.cursor(o) for o in outputs), default=self.max_seq())
        with self.transaction():
            deleted = self.conn.execute(
                "DELETE FROM results WHERE ts < ? AND seq <= ?", (older_than_ts, acked)
            ).rowcount
        if max_disk_mb is not None:
            deleted += self._enforce_cap(max_disk_mb, acked)
        return deleted

    def _enforce_cap(self, max_disk_mb: int, acked: int) -> int:
        limit = max_disk_mb * 1024 * 1024
        page_size = self.conn.execute("PRAGMA page_size").fetchone()[0]
        deleted = 0
        while True:
            pages, free = (self.conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "freelist_count"))
            used = (pages - free) * page_size
            total = self.count()
            if used <= limit or total == 0:
                break
            batch = max(1, int(total * min(0.5, (used - limit) / used + 0.01)))
            with self.transaction():
                cut = self.conn.execute(
                    "SELECT seq FROM results ORDER BY seq LIMIT 1 OFFSET ?", (batch - 1,)
                ).fetchone()[0]
                unsent = self.conn.execute(
                    "SELECT count(*) FROM results WHERE seq <= ? AND seq > ?", (cut, acked)
                ).fetchone()[0]
                deleted += self.conn.execute("DELETE FROM results WHERE seq <= ?", (cut,)).rowcount
                if unsent:
                    self.add_counter("dropped_unsent", unsent)
            if unsent:
                log.warning("store over its %d MB cap: dropped %d results no output had sent yet",
                            max_disk_mb, unsent)
        return deleted


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error (the connection is in autocommit mode)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
