"""The embedded store: SQLite in WAL mode, the agent's single source of truth.

Every result is committed here before anything else uses it. The `results` table is an
append-only log with an integer sequence that never goes backwards (AUTOINCREMENT, so a
deleted row's number is never reused), which is what output cursors point into. Readers in
other processes (`netmon status`, `netmon report`) open the same file; WAL lets them read
while the daemon writes. The schema of every table lives in `netmon.schema`; opening for
writing migrates the file to the current version, and a store from a newer netmon is refused.
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

from netmon.codec import decode_samples, encode_samples
from netmon.fieldtypes import REFUSED_COUNTER, FieldTypes
from netmon.model import Device, ProbeResult, Status
from netmon.schema import check_version, migrate

log = logging.getLogger(__name__)

__all__ = ["Store", "decode_samples", "encode_samples", "row_to_result"]
"""`encode_samples`/`decode_samples` live in netmon.codec and are re-exported here."""

_COLUMNS = "seq, ts, device_id, check_name, prober, status, reason, duration_s, samples"


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


WAL_SIZE_LIMIT = 64 * 1024 * 1024
VACUUM_ON_OPEN_MB = 256
"""A store from before incremental vacuum is rebuilt at open up to this size (seconds of work)."""


def _incremental_vacuum_mode(conn: sqlite3.Connection, path: Path) -> None:
    """Make freed pages returnable to the file system (`PRAGMA incremental_vacuum`).

    A new file gets the mode before its first table. An older store needs one full VACUUM,
    which rewrites the file: done here when small, otherwise logged with the command to run.
    """
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
        return
    size_mb = path.stat().st_size / 1e6 if path.exists() else 0.0
    if size_mb > VACUUM_ON_OPEN_MB:
        log.warning("store %s (%.0f MB) cannot give freed space back to the disk; with netmon stopped, run"
                    " once: sqlite3 %s 'PRAGMA auto_vacuum=INCREMENTAL; VACUUM' (needs as much free disk"
                    " as the store); retention still deletes old rows and reuses their space", path,
                    size_mb, path)
        return
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    conn.execute("VACUUM")
    log.info("store %s converted to incremental vacuum (%.0f MB rewritten)", path, size_mb)


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
            try:
                check_version(conn, str(path))  # before anything writes to a newer netmon's file
            except BaseException:
                conn.close()
                raise
            # Only takes effect on a new, empty file; older stores are converted by `vacuum_mode`.
            conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            # A checkpoint truncates the WAL back to this size, so a burst never leaves a huge file.
            conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        conn.execute("PRAGMA busy_timeout=10000")
        try:
            if readonly:
                check_version(conn, str(path))
            else:
                migrate(conn, str(path))
                _incremental_vacuum_mode(conn, path)
        except BaseException:
            conn.close()
            raise
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
        """Delete acknowledged results older than `older_than_ts` and enforce the cap; returns rows deleted.

        A shorthand for `netmon.retention.Retention` with only the raw results' retention (every
        other table kept): the daemon uses the full policy. Unsent results go only past the cap,
        when nothing else is left, and are counted in `dropped_unsent`.
        """
        from netmon.retention import MB, Policy, Retention

        now = time.time()
        forever = 1e12
        policy = Policy(results_s=now - older_than_ts, results_icmp_s=now - older_than_ts,
                        rollups_fine_s=forever, device_hourly_s=forever, rollups_s=forever, outages_s=forever,
                        flags_s=forever, dead_letters_s=forever, agent_runs_s=forever,
                        max_disk_bytes=max_disk_mb * MB if max_disk_mb else None)
        before = self.count()
        Retention(self, policy, outputs).run(now, budget_s=3600.0)
        return before - self.count()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error (the connection is in autocommit mode)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
