"""The one owner of every table in the store: ordered migrations and `PRAGMA user_version`.

A store's `user_version` is the number of migrations applied to it. Opening a store for writing
applies the missing ones in order, each in its own IMMEDIATE transaction together with the new
version number, so a crash mid-way leaves a store at a whole version. A store whose version is
higher than `SCHEMA_VERSION` was written by a newer netmon: it is refused, never guessed at.

Migrations are history: once released, a migration's text never changes; a new table, column
or index is a new entry at the end of `MIGRATIONS`. Version 0 is a store from before versions
existed (netmon up to commit 83cbe8f): migration 1 creates exactly the tables that release
had, with `IF NOT EXISTS`, so such a store keeps every row and gains the tables it lacked
(e.g. `dead_letters` when no output was configured).

Every table also declares how it is bounded (`TABLE_RETENTION`): by a retention setting under
`store.retention`, or by construction (one row per device, village, output or key).
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from netmon.errors import StoreError

log = logging.getLogger(__name__)

# ------------------------------------------------------------ rollup row layout

HIST_BUCKETS = 24
"""RTT histogram: log-spaced buckets from 1 ms, x1.5 each (bucket 23 holds everything >= ~8.5 s)."""
PACK_BITS = 20
PER_COLUMN = 3
"""Three 20-bit bucket counts per 64-bit column: SQL `sum()` then adds whole histograms 3x faster.
A count must stay below 2**20 (1,048,576 rounds in one bucket of one village in one window read)."""
PACKED = HIST_BUCKETS // PER_COLUMN
HIST_COLUMNS = ", ".join(f"p{i}" for i in range(PACKED))
ROLLUP_COUNTERS = ("rounds", "rounds_up", "rounds_excused", "sent", "received", "office_rounds",
                   "office_up", "outages", "down_s", "excused_down_s")
"""Additive per-bucket counters; `*_excused` are rounds/time lost while a parent device was down."""
ROLLUP_TABLES = {"rollup_device": "device_id", "rollup_village": "village_id"}
"""Rollups as SQL readers see them (views since version 5): bucket, text id, counters, histogram."""


@dataclass(frozen=True)
class RollupStorage:
    """Where a rollup view's rows are stored: an integer key per id instead of the id's text."""

    table: str
    """The WITHOUT ROWID table, keyed (bucket_ts, key)."""
    key: str
    """Its integer key column."""
    keys: str
    """The table mapping key <-> text id (`key INTEGER PRIMARY KEY`, id UNIQUE)."""
    id: str
    """The text id column of `keys` (and of the view)."""


ROLLUP_STORAGE = {
    "rollup_device": RollupStorage("rollup_device_k", "device_key", "device_keys", "device_id"),
    "rollup_village": RollupStorage("rollup_village_k", "village_key", "village_keys", "village_id"),
}
"""Since version 5. A device id is ~30 bytes of text, repeated in every hourly row (and in the
village index): an integer key takes 1-2 bytes. Measured per row with dbstat: device rollups
73 -> 46 bytes, village rollups with their index 103 -> 61 bytes."""

# ------------------------------------------------------------ migrations


class StoreVersionError(StoreError, RuntimeError):
    """The store was written by a newer netmon (or is not a netmon store); nothing was changed."""


@dataclass(frozen=True)
class Migration:
    """One step from version `version - 1` to `version`."""

    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]


def _script(sql: str) -> Callable[[sqlite3.Connection], None]:
    def run(conn: sqlite3.Connection) -> None:
        # executescript would COMMIT the open transaction; run statement by statement instead.
        for statement in sql.split(";"):
            if statement.strip():
                conn.execute(statement)
    return run


_V1_ROLLUP_COLUMNS = (
    "rounds INTEGER NOT NULL DEFAULT 0, rounds_up INTEGER NOT NULL DEFAULT 0, "
    "rounds_excused INTEGER NOT NULL DEFAULT 0, sent INTEGER NOT NULL DEFAULT 0, "
    "received INTEGER NOT NULL DEFAULT 0, office_rounds INTEGER NOT NULL DEFAULT 0, "
    "office_up INTEGER NOT NULL DEFAULT 0, outages INTEGER NOT NULL DEFAULT 0, "
    "down_s REAL NOT NULL DEFAULT 0, excused_down_s REAL NOT NULL DEFAULT 0, "
    "p0 INTEGER NOT NULL DEFAULT 0, p1 INTEGER NOT NULL DEFAULT 0, p2 INTEGER NOT NULL DEFAULT 0, "
    "p3 INTEGER NOT NULL DEFAULT 0, p4 INTEGER NOT NULL DEFAULT 0, p5 INTEGER NOT NULL DEFAULT 0, "
    "p6 INTEGER NOT NULL DEFAULT 0, p7 INTEGER NOT NULL DEFAULT 0")

V1_TABLES_OF_83CBE8F = f"""
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
CREATE TABLE IF NOT EXISTS rollup_device (bucket_ts REAL NOT NULL, device_id TEXT NOT NULL,
    {_V1_ROLLUP_COLUMNS}, PRIMARY KEY (bucket_ts, device_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_village (bucket_ts REAL NOT NULL, village_id TEXT NOT NULL,
    {_V1_ROLLUP_COLUMNS}, PRIMARY KEY (bucket_ts, village_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rollup_village_by_id ON rollup_village (village_id, bucket_ts);
CREATE TABLE IF NOT EXISTS analysis_device_state (
    device_id TEXT PRIMARY KEY, up INTEGER NOT NULL, since_ts REAL NOT NULL, last_ts REAL NOT NULL,
    boot_ts REAL, outage_id INTEGER, last_up_ts REAL
);
CREATE TABLE IF NOT EXISTS analysis_outages (
    id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, village_id TEXT NOT NULL, start_ts REAL NOT NULL,
    end_ts REAL, cause TEXT NOT NULL, prev_up_ts REAL
);
CREATE INDEX IF NOT EXISTS analysis_outages_end ON analysis_outages (end_ts);
CREATE INDEX IF NOT EXISTS analysis_outages_device ON analysis_outages (device_id, start_ts);
CREATE TABLE IF NOT EXISTS analysis_meta (key TEXT PRIMARY KEY, value REAL NOT NULL);
CREATE TABLE IF NOT EXISTS flags (
    id INTEGER PRIMARY KEY, village_id TEXT NOT NULL, province TEXT NOT NULL, commune TEXT NOT NULL,
    village TEXT NOT NULL, operator TEXT NOT NULL, cause TEXT NOT NULL, raised_ts REAL NOT NULL,
    cleared_ts REAL, evidence TEXT NOT NULL, updated_ts REAL NOT NULL, lat REAL, lon REAL
);
CREATE INDEX IF NOT EXISTS flags_open ON flags (cleared_ts, village_id);
CREATE TABLE IF NOT EXISTS village_eval (
    village_id TEXT PRIMARY KEY, bad_streak INTEGER NOT NULL, good_streak INTEGER NOT NULL,
    flag_id INTEGER
);
CREATE TABLE IF NOT EXISTS village_status (
    village_id TEXT PRIMARY KEY, ts REAL NOT NULL, state TEXT NOT NULL, cause TEXT NOT NULL,
    flagged INTEGER NOT NULL, reason TEXT NOT NULL, province TEXT NOT NULL, commune TEXT NOT NULL,
    village TEXT NOT NULL, operator TEXT NOT NULL, windows TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY, output TEXT NOT NULL, seq INTEGER NOT NULL, line TEXT NOT NULL,
    status INTEGER NOT NULL, message TEXT NOT NULL, created_ts REAL NOT NULL
);
"""

V2_RETENTION_INDEXES = """
CREATE INDEX IF NOT EXISTS dead_letters_created ON dead_letters (created_ts);
CREATE INDEX IF NOT EXISTS agent_runs_last_seen ON agent_runs (last_seen_ts);
"""

V3_FIELD_TYPES = """
CREATE TABLE IF NOT EXISTS field_types (
    measurement TEXT NOT NULL, field TEXT NOT NULL, type TEXT NOT NULL, first_ts REAL NOT NULL,
    PRIMARY KEY (measurement, field)
);
"""
V3_DEAD_LETTER_COLUMNS = (
    ("kind", "TEXT NOT NULL DEFAULT 'transient'"),
    ("attempts", "INTEGER NOT NULL DEFAULT 0"),
    ("next_ts", "REAL NOT NULL DEFAULT 0"),
    ("replayed_ts", "REAL"),
)


V3_DATA_FAULT = re.compile(r"field type conflict|unable to parse|invalid (field|number|boolean|tag|measurement|"
                           r"timestamp|line)|bad timestamp|beyond retention|out of range|missing (field|tag)|"
                           r"schema conflict|conflicting field type")
"""The outputs' rule (netmon.sinks.deadletters.kind_of) as it was when migration 3 was released,
frozen here: a migration must classify an old store the same way whatever the outputs learn later."""


def _v3_kind(message: str) -> str:
    """Kind of a letter an older agent stored (it kept only refusals answered 400): data or transient."""
    return "data" if V3_DATA_FAULT.search(message.lower()) else "transient"


def _v3_checked_values_and_replayable_letters(conn: sqlite3.Connection) -> None:
    """field_types (netmon.fieldtypes) and the dead-letter replay columns (netmon.sinks.deadletters)."""
    _script(V3_FIELD_TYPES)(conn)
    have = {row[1] for row in conn.execute("PRAGMA table_info(dead_letters)")}
    for name, decl in V3_DEAD_LETTER_COLUMNS:
        if name not in have:
            conn.execute(f"ALTER TABLE dead_letters ADD COLUMN {name} {decl}")
    if "kind" not in have:
        # Letters of an older agent: the ones that name a data fault are not retried.
        for row_id, message in list(conn.execute("SELECT id, message FROM dead_letters")):
            conn.execute("UPDATE dead_letters SET kind = ? WHERE id = ?", (_v3_kind(message), row_id))
    conn.execute("CREATE INDEX IF NOT EXISTS dead_letters_pending ON dead_letters (output, replayed_ts)")


V4_NOTIFY_TABLES = """
CREATE TABLE IF NOT EXISTS notify_events (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, action TEXT NOT NULL,
    severity TEXT NOT NULL, event_ts REAL NOT NULL, created_ts REAL NOT NULL,
    province TEXT NOT NULL, commune TEXT NOT NULL, village TEXT NOT NULL, operator TEXT NOT NULL,
    device TEXT NOT NULL, payload TEXT NOT NULL,
    muted TEXT, composed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS notify_events_open ON notify_events (composed, event_ts);
CREATE TABLE IF NOT EXISTS notify_outbox (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, channel TEXT NOT NULL, commune TEXT NOT NULL,
    created_ts REAL NOT NULL, event_ts REAL NOT NULL, severity TEXT NOT NULL,
    subject TEXT NOT NULL, body TEXT NOT NULL, payload TEXT NOT NULL,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_try_ts REAL NOT NULL,
    sent_ts REAL, last_error TEXT, in_doubt INTEGER NOT NULL DEFAULT 0, attach TEXT
);
CREATE INDEX IF NOT EXISTS notify_outbox_channel ON notify_outbox (channel, status, id);
CREATE TABLE IF NOT EXISTS notify_links (
    event_id INTEGER NOT NULL, channel TEXT NOT NULL, outbox_id INTEGER NOT NULL,
    PRIMARY KEY (event_id, channel)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS maintenance (
    id INTEGER PRIMARY KEY, scope TEXT NOT NULL, start_ts REAL NOT NULL, end_ts REAL NOT NULL,
    reason TEXT NOT NULL, created_ts REAL NOT NULL, ended_ts REAL
);
CREATE TABLE IF NOT EXISTS notify_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
"""Notifications (issue 18): events, the durable outbox, event-to-message links, maintenance, cursors."""

def rollup_view_sql(view: str) -> str:
    """The view that shows a keyed rollup table as before version 5 (text ids), for SQL readers."""
    st = ROLLUP_STORAGE[view]
    cols = ", ".join(f"r.{c}" for c in (*ROLLUP_COUNTERS, *HIST_COLUMNS.split(", ")))
    return (f"CREATE VIEW {view} AS SELECT r.bucket_ts AS bucket_ts, k.{st.id} AS {st.id}, {cols}"
            f" FROM {st.table} r JOIN {st.keys} k ON k.key = r.{st.key}")


def rollup_trigger_sql(view: str) -> list[str]:
    """INSERT and DELETE on a rollup view go to its keyed table (tests, benches, tools write text ids).

    The rollup engine and retention write the keyed tables directly; these are for convenience.
    A column left out of an INSERT is 0, as the old table's default was.
    """
    st = ROLLUP_STORAGE[view]
    cols = (*ROLLUP_COUNTERS, *HIST_COLUMNS.split(", "))
    key = f"(SELECT key FROM {st.keys} WHERE {st.id} = NEW.{st.id})"
    return [
        f"CREATE TRIGGER {view}_insert INSTEAD OF INSERT ON {view} BEGIN"
        f" INSERT OR IGNORE INTO {st.keys} ({st.id}) VALUES (NEW.{st.id});"
        f" INSERT INTO {st.table} (bucket_ts, {st.key}, {', '.join(cols)}) VALUES (NEW.bucket_ts, {key}, "
        + ", ".join(f"coalesce(NEW.{c}, 0)" for c in cols) + "); END",
        f"CREATE TRIGGER {view}_delete INSTEAD OF DELETE ON {view} BEGIN"
        f" DELETE FROM {st.table} WHERE bucket_ts = OLD.bucket_ts AND {st.key} ="
        f" (SELECT key FROM {st.keys} WHERE {st.id} = OLD.{st.id}); END",
    ]


def _v5_rollups_with_integer_keys(conn: sqlite3.Connection) -> None:
    """Rollup rows keyed by an integer per device/village; the old tables become views of the same rows.

    Self-contained (reads only the version-1 rollup tables), so it can be ordered after other
    migrations. Every row is copied: keys are given in id order, so within a bucket the new rows
    are in the order of the old ones and the copy appends.
    """
    for view, st in ROLLUP_STORAGE.items():
        conn.execute(f"CREATE TABLE {st.keys} (key INTEGER PRIMARY KEY, {st.id} TEXT NOT NULL UNIQUE)")
        conn.execute(f"INSERT INTO {st.keys} ({st.id}) SELECT DISTINCT {st.id} FROM {view} ORDER BY {st.id}")
        conn.execute(f"CREATE TABLE {st.table} (bucket_ts REAL NOT NULL, {st.key} INTEGER NOT NULL,"
                     f" {_V1_ROLLUP_COLUMNS}, PRIMARY KEY (bucket_ts, {st.key})) WITHOUT ROWID")
        cols = ", ".join((*ROLLUP_COUNTERS, *HIST_COLUMNS.split(", ")))
        conn.execute(f"INSERT INTO {st.table} (bucket_ts, {st.key}, {cols})"
                     f" SELECT r.bucket_ts, k.key, {', '.join(f'r.{c}' for c in cols.split(', '))}"
                     f" FROM {view} r JOIN {st.keys} k ON k.{st.id} = r.{st.id} ORDER BY r.bucket_ts, k.key")
        conn.execute(f"DROP TABLE {view}")  # its index goes with it
        conn.execute(rollup_view_sql(view))
        for sql in rollup_trigger_sql(view):
            conn.execute(sql)
    # Per-village reads (worst hours, reports of one village) by key and time.
    conn.execute("CREATE INDEX rollup_village_k_by_key ON rollup_village_k (village_key, bucket_ts)")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "tables of netmon 83cbe8f (stores from before schema versions)", _script(V1_TABLES_OF_83CBE8F)),
    Migration(2, "indexes that let retention delete by age in bounded steps", _script(V2_RETENTION_INDEXES)),
    Migration(3, "checked field types; dead letters that can be replayed", _v3_checked_values_and_replayable_letters),
    Migration(4, "notifications: events, outbox, links, maintenance windows, notify cursors",
              _script(V4_NOTIFY_TABLES)),
    Migration(5, "rollups keyed by integer device/village keys (views keep the old tables' shape)",
              _v5_rollups_with_integer_keys),
)
SCHEMA_VERSION = len(MIGRATIONS)

TABLE_RETENTION: dict[str, str] = {
    "results": "results_icmp (icmp) and results (every other prober), once every output has them",
    "rollup_device_k": "rollup_fine, then hourly to rollup_hourly, then daily to rollups (view rollup_device)",
    "rollup_village_k": "rollup_fine, then hourly to rollups (view rollup_village)",
    "device_keys": "one row per device ever rolled up (a key and its id: kept so old rollups keep their name)",
    "village_keys": "one row per village ever rolled up (a key and its id)",
    "analysis_outages": "outages (closed outages, by end time)",
    "flags": "flags (cleared flags, by clear time; open flags are kept)",
    "dead_letters": "dead_letters",
    "agent_runs": "agent_runs (by last heartbeat)",
    "village_status": "one row per village (rows of villages gone from the inventory: rollups)",
    "analysis_device_state": "one row per device (rows of devices gone from the inventory: rollups)",
    "devices": "one row per device of the current inventory",
    "cursors": "one row per output",
    "agent_state": "one row per key",
    "counters": "one row per counter name",
    "analysis_meta": "one row per key",
    "village_eval": "one row per village",
    "field_types": "one row per measurement and field ever stored",
    "notify_events": "notify prune: events of sent messages after 90 days (netmon.notify.db.prune)",
    "notify_outbox": "notify prune: sent messages after 90 days; pending ones are kept until sent",
    "notify_links": "one row per event and channel, deleted with their message",
    "maintenance": "notify prune: ad-hoc windows 90 days after they end",
    "notify_meta": "one row per key",
}
"""How each table is kept from growing without bound; tests check every table is listed."""


def version(conn: sqlite3.Connection) -> int:
    """The store's schema version (`PRAGMA user_version`; 0 before versions existed)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_version(conn: sqlite3.Connection, where: str) -> int:
    """The store's version, or StoreVersionError when it is newer than this code knows."""
    found = version(conn)
    if found > SCHEMA_VERSION:
        raise StoreVersionError(
            f"the store {where} has schema version {found}, but this netmon only knows versions up to "
            f"{SCHEMA_VERSION}: it was written by a newer netmon. Run that version (or newer), or point "
            f"agent.state_dir at another folder; the store was not changed.")
    return found


def migrate(conn: sqlite3.Connection, where: str = "") -> int:
    """Apply every missing migration in order; returns how many were applied.

    `conn` must be in autocommit mode (isolation_level=None). Each step re-reads the version
    inside its write transaction, so two processes opening one store at once apply it once.
    """
    applied = 0
    fresh = check_version(conn, where) == 0 and not conn.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'results'").fetchone()
    while check_version(conn, where) < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = check_version(conn, where)
            if current >= SCHEMA_VERSION:
                conn.execute("COMMIT")
                break
            step = MIGRATIONS[current]
            step.apply(conn)
            conn.execute(f"PRAGMA user_version = {step.version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied += 1
        if current and not fresh:  # a new store is simply created: only upgrades are worth a line
            log.info("store %s migrated to schema version %d: %s", where, step.version, step.description)
    return applied
