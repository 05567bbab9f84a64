"""The analysis tables in the store: rollups, per-device running state, outages, flags, village status.

All of them are created here by `ensure_schema` (called when the analysis component starts) and
live next to the `results` log in the same SQLite file, so a restart resumes where it stopped.
Rollup rows are keyed by (bucket_ts, id) so a window read is a range scan whose cost depends on
the window, never on how much history the store holds.
"""

from __future__ import annotations

from typing import Any

from netmon.store import Store

HIST_BUCKETS = 24
"""RTT histogram: log-spaced buckets from 1 ms, x1.5 each (bucket 23 holds everything >= ~8.5 s)."""
PACK_BITS = 20
PER_COLUMN = 3
"""Three 20-bit bucket counts per 64-bit column: SQL `sum()` then adds whole histograms 3x faster.
A count must stay below 2**20 (1,048,576 rounds in one bucket of one village in one window read)."""
PACKED = HIST_BUCKETS // PER_COLUMN
HIST_COLUMNS = ", ".join(f"p{i}" for i in range(PACKED))
_HIST_DDL = ", ".join(f"p{i} INTEGER NOT NULL DEFAULT 0" for i in range(PACKED))
_MASK = (1 << PACK_BITS) - 1


def pack_hist(hist: list[float] | tuple[int, ...]) -> list[int]:
    """24 bucket counts -> 8 packed integers."""
    return [sum(int(hist[c * PER_COLUMN + k]) << (PACK_BITS * k) for k in range(PER_COLUMN)) for c in range(PACKED)]


def unpack_hist(packed: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """Inverse of `pack_hist`, also valid for sums of packed values."""
    return tuple((int(v) >> (PACK_BITS * k)) & _MASK for v in packed for k in range(PER_COLUMN))

ROLLUP_COUNTERS = ("rounds", "rounds_up", "rounds_excused", "sent", "received", "office_rounds",
                   "office_up", "outages", "down_s", "excused_down_s")
"""Additive per-bucket counters; `*_excused` are rounds/time lost while a parent device was down."""
_COUNTER_DDL = ", ".join(f"{c} {'REAL' if c.endswith('_s') else 'INTEGER'} NOT NULL DEFAULT 0"
                         for c in ROLLUP_COUNTERS)


def _rollup_table(name: str, key: str) -> str:
    return (f"CREATE TABLE IF NOT EXISTS {name} (bucket_ts REAL NOT NULL, {key} TEXT NOT NULL, "
            f"{_COUNTER_DDL}, {_HIST_DDL}, PRIMARY KEY (bucket_ts, {key})) WITHOUT ROWID;")


SCHEMA = "\n".join([
    _rollup_table("rollup_device", "device_id"),
    _rollup_table("rollup_village", "village_id"),
    """
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
""",
])


def ensure_schema(store: Store) -> None:
    """Create the analysis tables if missing (idempotent; needs a writable store)."""
    store.conn.executescript(SCHEMA)


def has_schema(store: Store) -> bool:
    """True when the analysis tables exist (a readonly reader of a fresh store finds none)."""
    row = store.conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='flags'").fetchone()
    return row is not None


def meta(store: Store, key: str, default: float | None = None) -> float | None:
    """A persisted analysis number (the rollup cursor, ...)."""
    row = store.conn.execute("SELECT value FROM analysis_meta WHERE key = ?", (key,)).fetchone()
    return float(row[0]) if row else default


def set_meta(store: Store, key: str, value: Any) -> None:
    """Persist an analysis number; call inside the transaction that made it true."""
    store.conn.execute("INSERT INTO analysis_meta (key, value) VALUES (?, ?)"
                       " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, float(value)))
