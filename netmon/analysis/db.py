"""The analysis tables in the store: rollups, per-device running state, outages, flags, village status.

Their schema is owned by `netmon.schema`, with every other table's. They live next to the
`results` log in the same SQLite file, so a restart resumes where it stopped.
Rollup rows are keyed by (bucket_ts, id) so a window read is a range scan whose cost depends on
the window, never on how much history the store holds.
"""

from __future__ import annotations

from typing import Any

from netmon.schema import (  # noqa: F401  (re-exported: analysis code imports them from here)
    HIST_BUCKETS,
    HIST_COLUMNS,
    PACK_BITS,
    PACKED,
    PER_COLUMN,
    ROLLUP_COUNTERS,
    migrate,
)
from netmon.store import Store

_MASK = (1 << PACK_BITS) - 1


def pack_hist(hist: list[float] | tuple[int, ...]) -> list[int]:
    """24 bucket counts -> 8 packed integers."""
    return [sum(int(hist[c * PER_COLUMN + k]) << (PACK_BITS * k) for k in range(PER_COLUMN)) for c in range(PACKED)]


def unpack_hist(packed: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """Inverse of `pack_hist`, also valid for sums of packed values."""
    return tuple((int(v) >> (PACK_BITS * k)) & _MASK for v in packed for k in range(PER_COLUMN))


def ensure_schema(store: Store) -> None:
    """Bring the store to the current schema (a no-op once `Store.open` has; needs a writable store)."""
    migrate(store.conn, str(store.path))


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
