"""Batches probe results into store commits and tells listeners only after each commit.

The commits run in one writer thread with its own SQLite connection, so a slow disk, a WAL
checkpoint or a lock held by another connection delays commits but never the event loop that
sends and times the probes. The queue in front of it is bounded: when the store cannot take
results (a full disk), probing goes on, the oldest results beyond `max_queued` are dropped and
counted, and the state is logged once per change, never per attempt. Commits are bounded to
`max_batch` results; after a failure the batch halves at each attempt, so once some space
returns whatever fits is committed at once and the rest follows as it can.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Sequence

from netmon.model import ProbeResult
from netmon.store import Store
from netmon.writer_log import RateMeter, StateChangeLog, human_duration

__all__ = ["Listener", "RateMeter", "ResultWriter", "StateChangeLog", "describe_error"]

log = logging.getLogger(__name__)

Listener = Callable[[Sequence[ProbeResult]], None]

RETRY_MAX_S = 5.0
"""Longest wait between two commit attempts while the store refuses them."""
STOP_GRACE_S = 15.0
"""How long `stop()` keeps retrying a store that refuses commits before giving the queue up."""
DROPPED_COUNTER = "dropped_write_queue"


def describe_error(exc: BaseException) -> str:
    """A one-line reason for a failed commit; `disk full` for SQLITE_FULL/ENOSPC, the type name if empty."""
    code = getattr(exc, "sqlite_errorcode", None)
    text = str(exc).strip()
    if code == 13 or "full" in text.lower() or getattr(exc, "errno", None) == 28:
        return "disk full"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ResultWriter:
    """Collects results and commits them every `flush_s` seconds or `max_batch` results.

    `max_queued` bounds memory while the store refuses commits: a queued ICMP result takes about
    850 bytes, so the default 100,000 is ~85 MB, a minute of a 100k-target agent, five of a 20k one.

    Listeners (state-change logging, rollups, the status counters) see a result only once it
    is committed, so nothing downstream ever knows of a result the store could lose.
    """

    def __init__(self, store: Store, flush_s: float = 0.25, max_batch: int = 2000,
                 max_queued: int = 100_000) -> None:
        self.store = store
        self.flush_s = flush_s
        self.max_batch = max_batch
        self.max_queued = max(max_queued, max_batch)
        self.stop_grace_s = STOP_GRACE_S
        self.listeners: list[Listener] = []
        self.committed = 0
        self.dropped = 0
        """Results dropped (oldest first) because the queue was at `max_queued`."""
        self.failure: str | None = None
        """Why the store refuses commits now (`disk full`, ...); None while commits succeed."""
        self._queue: deque[ProbeResult] = deque()
        self._batch = max_batch
        self._failed_since = 0.0
        self._dropped_in_failure = 0
        self._unrecorded_drops = 0
        self._stopping = False
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._thread_store: Store | None = None

    @property
    def queued(self) -> int:
        """Results waiting for a commit."""
        return len(self._queue)

    def emit(self, result: ProbeResult) -> None:
        """Queue a result (called by probers, from the event loop); drops the oldest past the cap."""
        self._queue.append(result)
        if len(self._queue) > self.max_queued:
            self._queue.popleft()
            self._note_drop()
        if self._wakeup is not None and len(self._queue) >= self.max_batch and self.failure is None:
            self._wakeup.set()

    def _note_drop(self) -> None:
        self.dropped += 1
        self._unrecorded_drops += 1
        self._dropped_in_failure += 1
        if self._dropped_in_failure == 1:
            log.error("%s: %d results waiting, dropping the oldest from now on (%d dropped)",
                      self.failure or "store too slow", len(self._queue), self.dropped)

    # ------------------------------------------------------------ committing

    def _commit(self, store: Store, batch: list[ProbeResult], drops: int) -> None:
        """Commit one batch through `store` (runs in the writer thread, or the caller's for flush)."""
        store.append(batch)
        if drops:
            store.add_counter(DROPPED_COUNTER, drops)

    def _commit_in_thread(self, batch: list[ProbeResult], drops: int) -> None:
        if self._thread_store is None:
            self._thread_store = Store.open(self.store.path)
            # Checkpoints are the bookkeeping thread's job: a commit that also checkpoints the WAL
            # takes hundreds of milliseconds, and every one of them delays the results behind it.
            self._thread_store.conn.execute("PRAGMA wal_autocheckpoint=0")
        self._commit(self._thread_store, batch, drops)

    def _close_thread_store(self) -> None:
        if self._thread_store is not None:
            self._thread_store.close()
            self._thread_store = None

    def _take(self) -> tuple[list[ProbeResult], int]:
        n = min(self._batch, len(self._queue))
        batch = [self._queue.popleft() for _ in range(n)]
        drops, self._unrecorded_drops = self._unrecorded_drops, 0
        return batch, drops

    def _put_back(self, batch: list[ProbeResult], drops: int) -> None:
        """A failed batch goes back to the head of the queue; the cap then drops the oldest."""
        self._queue.extendleft(reversed(batch))
        self._unrecorded_drops += drops
        while len(self._queue) > self.max_queued:
            self._queue.popleft()
            self._note_drop()

    def _succeeded(self, batch: list[ProbeResult]) -> None:
        self.committed += len(batch)
        if self.failure is not None:
            log.warning("store writable again after %s (%s): committing %d waiting results; %d dropped meanwhile",
                        human_duration(time.monotonic() - self._failed_since), self.failure,
                        len(self._queue) + len(batch), self._dropped_in_failure)
            self.failure = None
            self._dropped_in_failure = 0
        self._batch = min(self.max_batch, self._batch * 2)
        for listener in self.listeners:
            try:
                listener(batch)
            except Exception:
                log.exception("result listener %r failed; the results are stored regardless", listener)

    def _failed(self, exc: BaseException, size: int) -> None:
        why = describe_error(exc)
        if self.failure != why:
            if self.failure is None:
                self._failed_since = time.monotonic()
                self._dropped_in_failure = 0
            self.failure = why
            log.error("%s: %d results waiting, %d dropped; probing goes on, the results stay queued and"
                      " are retried in smaller batches (at most %d are kept)",
                      why, len(self._queue), self.dropped, self.max_queued)
        self._batch = max(1, size // 2)

    def flush(self) -> int:
        """Commit everything queued now, on the caller's thread; returns how many results were committed.

        For `run --once` and tests. Results are removed from the queue only once committed: a
        failure keeps them queued for the next attempt instead of losing them.
        """
        total = 0
        while self._queue:
            batch, drops = self._take()
            try:
                self._commit(self.store, batch, drops)
            except (sqlite3.Error, OSError) as exc:
                self._put_back(batch, drops)
                self._failed(exc, len(batch))
                return total
            total += len(batch)
            self._succeeded(batch)
        return total

    # ------------------------------------------------------------ the flush task

    def start(self) -> None:
        """Start the periodic flush task and the writer thread."""
        self._wakeup = asyncio.Event()
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="netmon-writer")
        self._task = asyncio.create_task(self._loop(), name="result-writer")

    async def _sleep(self, seconds: float) -> None:
        """Wait for `seconds` or a wake-up; never cancelled, so it cannot swallow a stop (no wait_for)."""
        assert self._wakeup is not None
        handle = asyncio.get_running_loop().call_later(seconds, self._wakeup.set)
        try:
            await self._wakeup.wait()
        finally:
            handle.cancel()
            self._wakeup.clear()

    async def _step(self) -> bool:
        """Commit one bounded batch in the writer thread; False when the store refused it."""
        batch, drops = self._take()
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._commit_in_thread, batch, drops)
        except (sqlite3.Error, OSError) as exc:
            self._put_back(batch, drops)
            self._failed(exc, len(batch))
            return False
        except Exception:
            # Not the store's fault: keep the results so nothing is lost, and say so once.
            self._put_back(batch, drops)
            if self.failure is None:
                log.exception("committing %d results failed; they stay queued", len(batch))
            self._failed(RuntimeError("commit failed (a bug; see the first traceback)"), len(batch))
            return False
        self._succeeded(batch)
        return True

    async def _loop(self) -> None:
        retry_s = self.flush_s
        stop_deadline: float | None = None
        while True:
            if self._stopping and stop_deadline is None:
                stop_deadline = time.monotonic() + self.stop_grace_s
            ok = True
            while self._queue and ok:
                ok = await self._step()
                if self._queue and ok and not self._stopping:
                    await asyncio.sleep(0)  # a backlog is committed batch by batch, the loop runs between
            if self._stopping and (not self._queue or time.monotonic() >= (stop_deadline or 0)):
                break
            retry_s = self.flush_s if ok else min(RETRY_MAX_S, max(retry_s * 2, 0.5))
            await self._sleep(min(retry_s, 0.5) if self._stopping else retry_s)
        if self._queue:
            log.error("stopping with the store refusing commits (%s): %d queued results are lost",
                      self.failure, len(self._queue))
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close_thread_store)

    async def stop(self) -> None:
        """Commit whatever is still queued (bounded retries if the store refuses), then end the thread."""
        self._stopping = True
        if self._task is None:
            self.flush()
            return
        assert self._wakeup is not None
        self._wakeup.set()
        await asyncio.shield(self._task)
        self._task = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
