"""Everything slow that is not probing runs here, off the event loop that sends and times probes.

One worker *process* with its own SQLite connection runs the daemon's bookkeeping one job at a
time: rollups (and the 24 h catch-up at first start) in bounded steps, evaluation, PC scoring,
retention, WAL checkpoints and the heartbeat. A process rather than a thread because a thread
would share the interpreter lock and the garbage collector with the event loop: measured at
20,000 targets, a catch-up in a thread still stalled the loop up to 193 ms (93 full collections
of the catch-up's objects in 4 minutes, and every GIL hand-over costing the loop up to 5 ms).
One worker, so bookkeeping writes never contend with each other; jobs are short, so the writer
thread never waits long for the WAL's single write lock, and an urgent job (the heartbeat) is
never stuck behind an hour of catch-up.

A job is a module-level function `fn(store, *args)` (it crosses the process boundary by name);
its arguments and result are pickled. State that must live in the worker (the rollup engine)
is built by a *setup* job, which is replayed if the worker process ever has to be restarted.

A failing job is logged through `netmon.logs.FailureLog`: once when it starts, once when its
reason changes and once when it is over, never a traceback per cycle.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import multiprocessing
import os
import signal
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

from netmon.logs import FailureLog, describe
from netmon.store import Store

log = logging.getLogger(__name__)

T = TypeVar("T")

CHECKPOINT_EVERY_S = 10.0
"""WAL checkpoints (PASSIVE: never waits for readers) at most this often, never inside a commit."""


class _Worker:
    """What the worker process keeps between jobs: its store connection and the checkpoint clock."""

    store: Store | None = None
    last_checkpoint = 0.0
    checkpoints: FailureLog | None = None


def _init_worker(path: str, level: int) -> None:
    # The daemon decides when to stop: systemd's SIGTERM to the whole cgroup, a terminal's SIGINT
    # or a SIGHUP must not kill the worker under a job; it ends when the daemon shuts the pool down.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    # Bookkeeping can wait, probing cannot: on a busy box the scheduler serves the loop first.
    with contextlib.suppress(OSError):
        os.nice(10)
    from netmon.logs import setup_logging

    setup_logging(1 if level <= logging.DEBUG else 0)
    from netmon import gcwatch

    gcwatch.install()
    _Worker.store = Store.open(path)
    _Worker.store.conn.execute("PRAGMA wal_autocheckpoint=0")
    _Worker.last_checkpoint = time.monotonic()
    _Worker.checkpoints = FailureLog("WAL checkpoint", log)


def _checkpoint() -> None:
    assert _Worker.store is not None and _Worker.checkpoints is not None
    _Worker.last_checkpoint = time.monotonic()
    try:
        _Worker.store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.Error as exc:  # e.g. a full disk: the next one catches up
        _Worker.checkpoints.failed(exc)
    else:
        _Worker.checkpoints.ok()


def _call(fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    assert _Worker.store is not None
    try:
        return fn(_Worker.store, *args)
    finally:
        if time.monotonic() - _Worker.last_checkpoint >= CHECKPOINT_EVERY_S:
            _checkpoint()


def _close(_store: Store) -> None:
    _checkpoint()
    if _Worker.store is not None:
        _Worker.store.close()
        _Worker.store = None


class Bookkeeper:
    """One worker process owning one store connection; `await run(fn, *args)` calls fn(store, *args) there."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._setups: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {}
        self._restarts = FailureLog("bookkeeping process", log)
        self._executor = self._spawn()

    def _spawn(self) -> concurrent.futures.ProcessPoolExecutor:
        # spawn, not fork: the daemon has threads (writer, executors) that fork would copy mid-state.
        return concurrent.futures.ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
            initargs=(str(self.path), logging.getLogger().getEffectiveLevel()))

    async def _submit(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        return await asyncio.wrap_future(self._executor.submit(_call, fn, args))

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(store, *args)` in the worker; jobs run one at a time, in order.

        If the worker died (killed, out of memory), a new one is started with every setup job
        replayed, and the job's caller gets the error (its next attempt runs in the new worker).
        """
        try:
            return await self._submit(fn, args)
        except BrokenProcessPool as exc:
            self._restarts.failed(exc, "starting a new one")
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._spawn()
            for setup_fn, setup_args in list(self._setups.values()):
                await self._submit(setup_fn, setup_args)
            self._restarts.ok()
            raise

    async def setup(self, key: str, fn: Callable[..., T], *args: Any) -> T:
        """Run a job that builds worker state, and remember it (by `key`) for a restarted worker."""
        self._setups[key] = (fn, args)
        return await self.run(fn, *args)

    async def close(self) -> None:
        """Finish the job in progress, checkpoint, close the connection and end the worker."""
        try:
            await self.run(_close)
        except Exception as exc:
            log.warning("closing the bookkeeping connection failed: %s", describe(exc))
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)
