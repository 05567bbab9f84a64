"""Retention and the disk cap: bounded steps that keep every table of the store within its budget.

`Retention.prune_step(now, max_rows)` does one chunk of the most urgent work and returns True
while more remains, so a caller can run it in a worker thread, between other work, for as long
as it likes (`run` loops it with a time budget). Plain synchronous SQLite, one short IMMEDIATE
transaction per chunk: the writer waits at most one chunk.

Order of work in a step:
1. the disk cap (`max_disk_mb`, file + WAL) when exceeded: give free pages back, then drop the
   least valuable, oldest rows first (see `_cap_step`); unsent results only when nothing else is left;
2. age retention of each table (`store.retention`), raw results only once every output has them;
3. downsampling: rollups older than `rollups_fine` become hourly, device rollups older than
   `device_hourly` daily (UTC days); village rollups stay hourly (reports read hours of day);
4. incremental vacuum of free pages beyond a reserve (1/8 of the file), so the file shrinks again.
docs/storage.md has the rules, the defaults and the size model.
Every deletion is counted in `counters` (`retention:<table>`, `cap:<table>`, `dropped_unsent`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netmon.downsample import incremental_vacuum, merge_rollups
from netmon.schema import ROLLUP_STORAGE
from netmon.store import Store

log = logging.getLogger(__name__)

HOUR_S, DAY_S = 3600.0, 86400.0
MB = 1024 * 1024
VACUUM_RESERVE_PAGES = 2048
"""Free pages kept for the next inserts (8 MB at 4 KB pages, or 1/8 of the file if more): what one
retention pass frees is refilled by the next hours of results, and giving it back only to grow
again is churn. Shrinking is for when retention was shortened or the cap squeezes (reserve 0)."""
SCAN_FACTOR = 4
"""A results step examines at most max_rows * SCAN_FACTOR sequence numbers."""
LATE_SLACK_S = 600.0


@dataclass(frozen=True)
class Policy:
    """Retention in seconds per kind of row, and the cap in bytes (None: no cap)."""

    results_s: float = 8 * DAY_S
    results_icmp_s: float = DAY_S
    rollups_fine_s: float = 14 * DAY_S
    device_hourly_s: float = 35 * DAY_S
    rollups_s: float = 400 * DAY_S
    outages_s: float = 400 * DAY_S
    flags_s: float = 400 * DAY_S
    dead_letters_s: float = 90 * DAY_S
    agent_runs_s: float = 400 * DAY_S
    bucket_s: float = HOUR_S
    protect_s: float = DAY_S
    """Rollups and agent runs this recent feed the live evaluation: the cap never drops them."""
    max_disk_bytes: int | None = None

    @classmethod
    def from_config(cls, settings) -> Policy:
        """The policy of an `AgentConfig` (its `store` and `analysis` sections)."""
        r, a, cap = settings.store.retention, settings.analysis, settings.store.max_disk_mb
        return cls(r.results, r.results_icmp, r.rollups_fine, r.device_hourly, r.rollups, r.outages, r.flags,
                   r.dead_letters, r.agent_runs, a.bucket_s, a.window_trend + a.bucket_s,
                   cap * MB if cap else None)


class Retention:
    """Keeps one store within its policy; cheap to build, holds only scan positions."""

    def __init__(self, store: Store, policy: Policy, outputs: Sequence[str]) -> None:
        self.store = store
        self.conn = store.conn
        self.policy = policy
        self.outputs = list(outputs)
        self._stuck_logged = False
        self._cap_since: dict[str, int] | None = None
        self.last_task = ""
        """What the last step did ("cap", "vacuum" or an age task such as "merge rollup_device 1d"):
        benches and logs attribute a slow step to its task."""

    # ------------------------------------------------------------ measuring

    def disk_bytes(self) -> int:
        """What the store takes on disk now: pages (free ones too, unless they cannot be given back) + WAL."""
        pages, free, size = (self.conn.execute(f"PRAGMA {p}").fetchone()[0]
                             for p in ("page_count", "freelist_count", "page_size"))
        if self.conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            pages -= free  # never returned to the disk, but reused before the file grows
        return pages * size + self._wal_bytes()

    def _wal_bytes(self) -> int:
        try:
            return os.path.getsize(f"{self.store.path}-wal")
        except OSError:
            return 0

    def over_cap(self) -> bool:
        """True when a cap is set and the store exceeds it (a few PRAGMAs and one stat)."""
        cap = self.policy.max_disk_bytes
        return cap is not None and self.disk_bytes() > cap

    # ------------------------------------------------------------ driving

    def prune_step(self, now: float | None = None, max_rows: int = 10_000) -> bool:
        """Do one bounded chunk of the most urgent work; True while more remains."""
        now = time.time() if now is None else now
        if self.over_cap():
            if self._cap_since is None:
                self._cap_since = self.store.counters()
                log.warning("store is %.1f MB, over its %g MB cap: deleting the least valuable rows, oldest"
                            " first", self.disk_bytes() / MB, round((self.policy.max_disk_bytes or 0) / MB, 1))
            self.last_task = "cap"
            return self._cap_step(now, max_rows)
        if self._cap_since is not None:
            self._log_cap_episode()
        for name, task in self._age_tasks(now):
            self.last_task = name
            if task(max_rows):
                return True
        self.last_task = "vacuum"
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        # Moving a page costs about as much as deleting ten rows (measured: 10,000 pages 1.5 s).
        return incremental_vacuum(self.conn, reserve=max(VACUUM_RESERVE_PAGES, pages // 8),
                                  max_pages=max(64, max_rows // 8))

    def run(self, now: float | None = None, max_rows: int = 10_000, budget_s: float = 60.0) -> int:
        """Step until done or `budget_s` passed; returns the number of steps taken."""
        deadline, steps = time.monotonic() + budget_s, 0
        while time.monotonic() < deadline:
            steps += 1
            if not self.prune_step(now, max_rows):
                break
        return steps

    def _log_cap_episode(self) -> None:
        """Back under the cap: say once what it cost (the counters keep the totals)."""
        before, self._cap_since = self._cap_since or {}, None
        gone = {k: v - before.get(k, 0) for k, v in self.store.counters().items()
                if k.startswith("cap:") or k == "dropped_unsent"}
        text = ", ".join(f"{n:,} {k.removeprefix('cap:')}" for k, n in sorted(gone.items()) if n)
        level = logging.WARNING if gone.get("dropped_unsent") else logging.INFO
        log.log(level, "store back under its cap after deleting %s", text or "nothing")

    def _age_tasks(self, now: float) -> list[tuple[str, Callable[[int], bool]]]:
        p = self.policy
        tasks: list[tuple[str, Callable[[int], bool]]] = [
            ("results icmp", lambda n: self._results(now - p.results_icmp_s, n, icmp=True)),
            ("results other", lambda n: self._results(now - p.results_s, n, icmp=False)),
        ]
        for table in ROLLUP_STORAGE:
            tasks.append((f"delete {table}",
                          lambda n, t=table: self._delete_by(t, "bucket_ts", now - p.rollups_s, n, "retention")))
            if p.bucket_s < HOUR_S:
                tasks.append((f"merge {table} 1h",
                              lambda n, t=table: merge_rollups(self.store, t, HOUR_S, now - p.rollups_fine_s, n)))
        tasks.append(("merge rollup_device 1d",
                      lambda n: merge_rollups(self.store, "rollup_device", DAY_S, now - p.device_hourly_s, n)))
        for table, column, keep, extra in (
            ("analysis_outages", "end_ts", p.outages_s, ""),
            ("flags", "cleared_ts", p.flags_s, _OPEN_FLAG),
            ("dead_letters", "created_ts", p.dead_letters_s, ""),
            ("agent_runs", "last_seen_ts", p.agent_runs_s, ""),
            ("village_status", "ts", p.rollups_s, ""),
            ("analysis_device_state", "last_ts", p.rollups_s, ""),
        ):
            tasks.append((f"delete {table}", lambda n, t=table, c=column, k=keep, x=extra:
                          self._delete_by(t, c, now - k, n, "retention", x)))
        return tasks

    # ------------------------------------------------------------ the cap

    def _cap_step(self, now: float, max_rows: int) -> bool:
        if incremental_vacuum(self.conn, reserve=0, max_pages=max(max_rows, 4096)):
            return True
        wal = self._wal_bytes()
        if wal > (self.policy.max_disk_bytes or 0) // 8:
            # A checkpoint with no reader in the way truncates the WAL (journal_size_limit).
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if self._wal_bytes() < wal:
                return True
        keep = now - self.policy.protect_s
        acked = self._acked()
        for table, column, upto, extra in (
            ("results", "seq", acked + 0.5, ""),
            ("rollup_device", "bucket_ts", now, ""),  # nothing reads device rollups to evaluate
            ("dead_letters", "created_ts", now, ""),
            ("analysis_outages", "end_ts", keep, ""),
            ("flags", "cleared_ts", keep, _OPEN_FLAG),
            ("agent_runs", "last_seen_ts", keep, ""),
            ("rollup_village", "bucket_ts", keep, ""),
        ):
            if self._delete_by(table, column, upto, max_rows, "cap", extra):
                return True
        return self._drop_unsent(max_rows)

    def _drop_unsent(self, max_rows: int) -> bool:
        """Nothing else is left: the oldest unsent results go, counted and logged.

        Only about as many as the overshoot needs (results are then the whole store): these are
        the rows the store exists to keep.
        """
        size, cap = self.disk_bytes(), self.policy.max_disk_bytes or 0
        lo, hi = self.conn.execute("SELECT min(seq), max(seq) FROM results").fetchone()
        if lo is not None and size > 0:
            max_rows = max(1, min(max_rows, int((hi - lo + 1) * (size - cap) / size * 1.05) + 1))
        with self.store.transaction() as conn:
            row = conn.execute("SELECT seq FROM results ORDER BY seq LIMIT 1 OFFSET ?", (max_rows - 1,)).fetchone()
            upto = row[0] if row else self.store.max_seq()
            dropped = conn.execute("DELETE FROM results WHERE seq <= ?", (upto,)).rowcount
            if dropped:
                self.store.add_counter("dropped_unsent", dropped)
        if dropped:
            log.warning("store over its %g MB cap with nothing else left to delete: dropped %d results no"
                        " output had sent yet", round((self.policy.max_disk_bytes or 0) / MB, 1), dropped)
            self._stuck_logged = False
        elif not self._stuck_logged:
            self._stuck_logged = True
            log.error("store over its %g MB cap and nothing left that may be deleted; raise store.max_disk_mb",
                      round((self.policy.max_disk_bytes or 0) / MB, 1))
        return dropped > 0

    # ------------------------------------------------------------ the pieces

    def _acked(self) -> int:
        """Highest sequence number every output has acknowledged (everything when there is none)."""
        return min((self.store.cursor(o) for o in self.outputs), default=self.store.max_seq())

    def _seq_before(self, ts: float, lo: int, hi: int) -> int:
        """Largest seq in [lo, hi] whose row is older than `ts`, by bisection (results are ~time-ordered)."""
        while lo < hi:
            mid = (lo + hi + 1) // 2
            row = self.conn.execute("SELECT ts FROM results WHERE seq >= ? ORDER BY seq LIMIT 1", (mid,)).fetchone()
            if row is not None and row[0] < ts:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def _meta(self, key: str) -> float | None:
        row = self.conn.execute("SELECT value FROM analysis_meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, conn, **values: float) -> None:
        conn.executemany("INSERT INTO analysis_meta (key, value) VALUES (?, ?)"
                         " ON CONFLICT(key) DO UPDATE SET value = excluded.value", list(values.items()))

    def _results(self, cutoff: float, max_rows: int, icmp: bool) -> bool:
        """Delete acknowledged results of one kind older than `cutoff`, in a window of sequence numbers.

        The scan position is kept in analysis_meta (committed with the deletion), so any process
        or a fresh `Retention` continues where the last one stopped instead of walking again over
        the rows the other kind keeps longer.
        """
        kind = "icmp" if icmp else "other"
        floor_key, rescan_key, rescan_at_key = (f"retention_{kind}_{k}" for k in ("floor", "rescan", "rescan_at"))
        lowest = (self.conn.execute("SELECT min(seq) FROM results").fetchone()[0] or 1) - 1
        floor = max(int(self._meta(floor_key) or 0), lowest)
        rescan, rescan_at = self._meta(rescan_key), self._meta(rescan_at_key)
        if rescan is not None and rescan_at is not None and cutoff - rescan_at >= LATE_SLACK_S:
            floor = max(min(floor, int(rescan)), lowest)
            rescan_at = float("inf")  # used: the next one is set when this pass catches up
        bound = self._seq_before(cutoff, floor, min(self._acked(), self.store.max_seq()))
        if bound <= floor:
            return False
        upto = min(bound, floor + max_rows * SCAN_FACTOR)
        where = "prober = 'icmp'" if icmp else "prober != 'icmp'"
        # At most max_rows rows per step, not max_rows * SCAN_FACTOR: where one kind is all there is
        # (a day of ICMP results), the window would otherwise delete four times the step's worth
        # (measured: 37,000 rows and their index entries in one 1.9-6.7 s transaction).
        last = self.conn.execute(f"SELECT seq FROM results WHERE seq > ? AND seq <= ? AND ts < ? AND {where}"
                                 " ORDER BY seq LIMIT 1 OFFSET ?", (floor, upto, cutoff, max_rows - 1)).fetchone()
        if last is not None and last[0] < upto:
            upto = last[0]
        marks: dict[str, float] = {floor_key: upto}
        if upto >= bound:
            # Caught up. Once the cutoff has moved LATE_SLACK_S on, scan again from LATE_SLACK_S
            # before this one: rows committed a little out of time order are not skipped for good.
            marks[rescan_key] = self._seq_before(cutoff - LATE_SLACK_S, floor, upto)
            marks[rescan_at_key] = cutoff
        elif rescan_at == float("inf"):
            marks[rescan_at_key] = 1e300
        with self.store.transaction() as conn:
            deleted = conn.execute(f"DELETE FROM results WHERE seq > ? AND seq <= ? AND ts < ? AND {where}",
                                   (floor, upto, cutoff)).rowcount
            if deleted:
                self.store.add_counter("retention:results", deleted)
            self._set_meta(conn, **marks)
        return True

    def _delete_by(self, table: str, column: str, before: float, max_rows: int, why: str,
                   extra: str = "") -> bool:
        """Delete up to ~max_rows rows of `table` whose `column` < `before`, oldest first; True if any went.

        A rollup view ("rollup_device") deletes from its keyed table and counts under the view's name.
        """
        counter = f"{why}:{table}"
        storage = ROLLUP_STORAGE.get(table)
        rollup = storage is not None
        if storage is not None:
            table = storage.table
        where = f"{column} < ? {extra}"
        if self.conn.execute(f"SELECT 1 FROM {table} WHERE {where} LIMIT 1", (before,)).fetchone() is None:
            return False  # nothing to do: no write lock taken
        with self.store.transaction() as conn:
            if rollup:
                # Primary-key ranges over (bucket, key), so a step stops inside a bucket: a bucket holds
                # one row per device or village, 100,000 rows at 100,000 devices, far past max_rows.
                key = storage.key  # type: ignore[union-attr]
                row = conn.execute(f"SELECT {column}, {key} FROM {table} WHERE {where} ORDER BY {column}, {key}"
                                   f" LIMIT 1 OFFSET ?", (before, max_rows - 1)).fetchone()
                if row is None:
                    deleted = conn.execute(f"DELETE FROM {table} WHERE {where}", (before,)).rowcount
                else:
                    deleted = conn.execute(f"DELETE FROM {table} WHERE ({column}, {key}) <= (?, ?) AND {where}",
                                           (row[0], row[1], before)).rowcount
            elif table == "results":
                row = conn.execute(f"SELECT {column} FROM {table} WHERE {where} ORDER BY {column}"
                                   f" LIMIT 1 OFFSET ?", (before, max_rows - 1)).fetchone()
                deleted = conn.execute(f"DELETE FROM {table} WHERE {column} <= ? AND {where}",
                                       (row[0] if row else before, before)).rowcount
            else:
                deleted = conn.execute(f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table}"
                                       f" WHERE {where} ORDER BY {column} LIMIT ?)", (before, max_rows)).rowcount
            if deleted:
                self.store.add_counter(counter, deleted)
        if deleted and why == "cap":
            log.debug("store over its %g MB cap: deleted %d rows of %s",
                        round((self.policy.max_disk_bytes or 0) / MB, 1), deleted, table)
        return deleted > 0


_INSTANCES: dict[tuple[str, Policy, tuple[str, ...]], Retention] = {}


def prune_store(store: Store, policy: Policy, outputs: Sequence[str], max_rows: int = 2000,
                budget_s: float = 0.2, now: float | None = None) -> bool:
    """Plain-function entry for a worker thread or process: steps for up to `budget_s`; True while more remains.

    Scan positions live in the store, so any caller may use it; the instance kept per store and
    policy only remembers a cap episode, so it is logged once.
    """
    key = (str(store.path), policy, tuple(outputs))
    retention = _INSTANCES.get(key)
    if retention is None or retention.store is not store:
        retention = _INSTANCES[key] = Retention(store, policy, outputs)
    deadline = time.monotonic() + budget_s
    more = retention.prune_step(now, max_rows)
    while more and time.monotonic() < deadline:
        more = retention.prune_step(now, max_rows)
    return more


_OPEN_FLAG = "AND id NOT IN (SELECT flag_id FROM village_eval WHERE flag_id IS NOT NULL)"
"""A flag the hysteresis still points at is never deleted, whatever its age."""
