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
    ROLLUP_STORAGE,
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


class RollupKeys:
    """The integer keys that stand for device and village ids in the rollup tables, cached.

    A key, once given, never changes nor goes (`device_keys`/`village_keys`), so a cache is
    only wrong after a rolled-back transaction gave one: `forget()` then.
    """

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self._keys: dict[str, dict[str, int]] = {view: {} for view in ROLLUP_STORAGE}

    def key(self, view: str, ident: str) -> int:
        """The key of `ident` in rollup view `view` ("rollup_device"), given now if it has none."""
        cache = self._keys[view]
        found = cache.get(ident)
        if found is None:
            st = ROLLUP_STORAGE[view]
            self.conn.execute(f"INSERT INTO {st.keys} ({st.id}) VALUES (?) ON CONFLICT DO NOTHING", (ident,))
            found = cache[ident] = int(self.conn.execute(
                f"SELECT key FROM {st.keys} WHERE {st.id} = ?", (ident,)).fetchone()[0])
        return found

    def forget(self) -> None:
        """Drop the cache (after a rollback)."""
        for cache in self._keys.values():
            cache.clear()


def rollup_names(conn: Any, view: str) -> dict[int, str]:
    """key -> text id of every device or village of a rollup view (one small table read)."""
    st = ROLLUP_STORAGE[view]
    return {int(k): name for k, name in conn.execute(f"SELECT key, {st.id} FROM {st.keys}")}
