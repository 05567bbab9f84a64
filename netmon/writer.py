"""Batches probe results into store commits and tells listeners only after each commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence

from netmon.model import ProbeResult
from netmon.store import Store

log = logging.getLogger(__name__)

Listener = Callable[[Sequence[ProbeResult]], None]


class ResultWriter:
    """Collects results and commits them every `flush_s` seconds or `max_batch` results.

    Listeners (state-change logging, rollups, the status counters) see a result only once it
    is committed, so nothing downstream ever knows of a result the store could lose.
    """

    def __init__(self, store: Store, flush_s: float = 0.25, max_batch: int = 2000) -> None:
        self.store = store
        self.flush_s = flush_s
        self.max_batch = max_batch
        self.listeners: list[Listener] = []
        self.committed = 0
        self._buffer: list[ProbeResult] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None

    def emit(self, result: ProbeResult) -> None:
        """Queue a result (called by probers, from the event loop)."""
        self._buffer.append(result)
        if len(self._buffer) >= self.max_batch:
            self._wakeup.set()

    def flush(self) -> int:
        """Commit everything queued now; returns how many results were committed (0 if the commit failed).

        The queue is emptied only after the commit succeeded: a locked or full disk keeps the
        results queued for the next attempt instead of losing them.
        """
        if not self._buffer:
            return 0
        batch = self._buffer
        try:
            self.store.append(batch)
        except sqlite3.Error:
            log.exception("committing %d results failed; they stay queued and are retried", len(batch))
            return 0
        self._buffer = []
        self.committed += len(batch)
        for listener in self.listeners:
            try:
                listener(batch)
            except Exception:
                log.exception("result listener %r failed; the results are stored regardless", listener)
        return len(batch)

    def start(self) -> None:
        """Start the periodic flush task."""
        self._task = asyncio.create_task(self._loop(), name="result-writer")

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.flush_s)
            self._wakeup.clear()
            try:
                self.flush()
            except Exception:
                log.exception("result writer step failed; retrying")

    async def stop(self) -> None:
        """Stop the flush task and commit whatever is still queued."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.flush()


class StateChangeLog:
    """Logs each device going down (warning) and recovering (info) once, never per round."""

    def __init__(self, describe: Callable[[str], str]) -> None:
        self.describe = describe
        self._down: dict[tuple[str, str], float] = {}

    def __call__(self, results: Sequence[ProbeResult]) -> None:
        """Listener entry point."""
        for r in results:
            key = (r.device_id, r.check)
            if not r.up and key not in self._down:
                self._down[key] = r.ts
                log.warning("%s: %s down: %s", self.describe(r.device_id), r.check, r.reason)
            elif r.up and key in self._down:
                since = self._down.pop(key)
                log.info("%s: %s recovered after %s: %s", self.describe(r.device_id), r.check,
                         _human_duration(r.ts - since), r.reason)


def _human_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


class RateMeter:
    """Results per second over a sliding minute, for the heartbeat and `netmon_agent`."""

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self._marks: list[tuple[float, int]] = []

    def __call__(self, results: Sequence[ProbeResult]) -> None:
        """Listener entry point."""
        now = time.monotonic()
        self._marks.append((now, len(results)))
        while self._marks and self._marks[0][0] < now - self.window_s:
            self._marks.pop(0)

    def per_second(self) -> float:
        """Average results per second over the window."""
        if not self._marks:
            return 0.0
        span = max(1.0, time.monotonic() - self._marks[0][0])
        return sum(n for _, n in self._marks) / span
