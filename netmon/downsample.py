"""Giving space back: rollups merged into coarser buckets as they age, and free pages returned to the file system.

Both are steps of `netmon.retention.Retention` (its module drives them in bounded chunks, this one
holds what each step does to the rows and pages).
"""

from __future__ import annotations

import sqlite3

from netmon.schema import HIST_COLUMNS, ROLLUP_COUNTERS, ROLLUP_STORAGE
from netmon.store import Store

_COLS = [*ROLLUP_COUNTERS, *HIST_COLUMNS.split(", ")]


def merge_rollups(store: Store, table: str, width: float, before: float, max_rows: int) -> bool:
    """Merge up to `max_rows` rows of one source bucket older than `before` into its `width`-wide
    bucket; True if work was done.

    Counters and packed histograms are additive, so a bucket merged into a row that already
    holds earlier buckets of the same period just adds. Each slice's rows are added and deleted
    in one transaction, so what is left of the source bucket is exactly what is not merged yet
    (a crash never merges a row twice); progress past whole buckets is kept in analysis_meta.
    A bucket holds one row per device: at 100,000 devices merging it whole held the write
    lock for seconds.
    """
    meta_key = f"merged_upto:{table}:{width:g}"
    counter = f"merged:{table}"
    table, key = ROLLUP_STORAGE[table].table, ROLLUP_STORAGE[table].key
    row = store.conn.execute("SELECT value FROM analysis_meta WHERE key = ?", (meta_key,)).fetchone()
    start = row[0] if row else -1e18
    nxt = store.conn.execute(f"SELECT min(bucket_ts) FROM {table} WHERE bucket_ts >= ?", (start,)).fetchone()[0]
    if nxt is None or nxt - nxt % width + width > before:
        return False
    target = nxt - nxt % width
    with store.transaction() as conn:
        done = True
        if nxt != target:
            last = conn.execute(f"SELECT {key} FROM {table} WHERE bucket_ts = ? ORDER BY {key}"
                                " LIMIT 1 OFFSET ?", (nxt, max(1, max_rows) - 1)).fetchone()
            upto = last[0] if last is not None else 1 << 62
            cols = ", ".join(_COLS)
            conn.execute(
                f"INSERT INTO {table} (bucket_ts, {key}, {cols}) SELECT ?, {key}, {cols} FROM {table}"
                f" WHERE bucket_ts = ? AND {key} <= ? ON CONFLICT (bucket_ts, {key}) DO UPDATE SET "
                + ", ".join(f"{c} = {c} + excluded.{c}" for c in _COLS), (target, nxt, upto))
            merged = conn.execute(f"DELETE FROM {table} WHERE bucket_ts = ? AND {key} <= ?",
                                  (nxt, upto)).rowcount
            store.add_counter(counter, merged)
            done = conn.execute(f"SELECT 1 FROM {table} WHERE bucket_ts = ? LIMIT 1", (nxt,)).fetchone() is None
        # Part of the bucket left: the next step resumes at it (not at the earlier target bucket).
        conn.execute("INSERT INTO analysis_meta (key, value) VALUES (?, ?)"
                     " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (meta_key, nxt + 1e-3 * done))
    return True


def incremental_vacuum(conn: sqlite3.Connection, reserve: int, max_pages: int) -> bool:
    """Give free pages beyond `reserve` back to the file system, at most `max_pages`; True if any."""
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
        return False
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    if free <= reserve:
        return False
    # sqlite3's execute() steps a statement once, which frees one page; executescript runs it to the end.
    conn.executescript(f"PRAGMA incremental_vacuum({int(min(free - reserve, max_pages))});")
    return conn.execute("PRAGMA freelist_count").fetchone()[0] < free
