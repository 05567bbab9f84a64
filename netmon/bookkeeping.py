"""Everything slow that is not probing runs here, off the event loop that sends and times probes.

One worker thread with its own SQLite connection runs the daemon's bookkeeping one job at a
time: rollups (and the 24 h catch-up at first start) in bounded chunks, evaluation, PC scoring,
retention, WAL checkpoints and the heartbeat. One thread, so bookkeeping writes never contend
with each other; jobs are short, so the writer thread never waits long for the WAL's single
write lock, and an urgent job (the heartbeat) is never stuck behind an hour of catch-up.

`FailureLog` says a persistent failure once when it starts (with its traceback, once), once when
its reason changes and once when it is over: never a traceback per cycle.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from netmon.logs import describe
from netmon.store import Store
from netmon.writer_log import human_duration

log = logging.getLogger(__name__)

T = TypeVar("T")

CHECKPOINT_EVERY_S = 10.0
"""WAL checkpoints (PASSIVE: never waits for readers) at most this often, never inside a commit."""


class Bookkeeper:
    """A single worker thread owning one store connection; `await run(fn, *args)` calls fn(store, *args) there."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="netmon-bookkeeping")
        self._store: Store | None = None
        self._last_checkpoint = time.monotonic()
        self._checkpoints = FailureLog("WAL checkpoint")

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._store is None:
            self._store = Store.open(self.path)
            self._store.conn.execute("PRAGMA wal_autocheckpoint=0")
        try:
            return fn(self._store, *args)
        finally:
            if time.monotonic() - self._last_checkpoint >= CHECKPOINT_EVERY_S:
                self._last_checkpoint = time.monotonic()
                self._checkpoint()

    def _checkpoint(self) -> None:
        assert self._store is not None
        try:
            self._store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:  # e.g. a full disk: the next one catches up
            self._checkpoints.failed(exc)
        else:
            self._checkpoints.ok()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(store, *args)` in the bookkeeping thread; jobs run one at a time, in order."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._call, fn, args)

    def _close(self) -> None:
        if self._store is not None:
            self._checkpoint()
            self._store.close()
            self._store = None

    async def close(self) -> None:
        """Finish the job in progress, checkpoint, close the connection and end the thread."""
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        except Exception as exc:
            log.warning("closing the bookkeeping connection failed: %s", describe(exc))
        self._executor.shutdown(wait=True)


class FailureLog:
    """One line per change of state for a task that fails persistently (housekeeping, analysis, ...)."""

    def __init__(self, what: str, logger: logging.Logger | None = None) -> None:
        self.what = what
        self.log = logger or log
        self.failing: str | None = None
        self._since = 0.0
        self._tracebacks: set[str] = set()

    def failed(self, exc: BaseException, retry: str = "") -> None:
        """Log the failure if it is new or its reason changed.

        A store or OS error (a full disk, a lock) is the environment: its message says it all. Any
        other exception is a bug and gets its traceback, once per exception type.
        """
        why = describe(exc)
        if why == self.failing:
            return
        if self.failing is None:
            self._since = time.monotonic()
        self.failing = why
        suffix = f"; {retry}" if retry else ""
        first = type(exc).__name__ not in self._tracebacks and not isinstance(exc, sqlite3.Error | OSError)
        self._tracebacks.add(type(exc).__name__)
        self.log.error("%s failed: %s%s", self.what, why, suffix, exc_info=exc if first else None)

    def ok(self) -> None:
        """The task succeeded: say so once if it had been failing."""
        if self.failing is not None:
            self.log.info("%s works again after %s (it failed with: %s)", self.what,
                          human_duration(time.monotonic() - self._since), self.failing)
            self.failing = None
