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

The worker is a plain child process (`python -c`, netmon.bookkeeping_worker) spoken to over a
pipe, not a multiprocessing pool: a spawn-context pool also starts multiprocessing's resource
tracker, an 11 MB process that bought nothing here, and its worker imported multiprocessing,
concurrent.futures and asyncio for its own plumbing (25 MB idle; 17 MB now, BENCHMARKS.md,
memory). A job cannot live in a script's `__main__`: spawn ran the script again in the worker
to find it, this worker does not (netmon's jobs all live in modules). One thread of the daemon
owns the pipe, so jobs go out one at a time and in order, and a job whose caller was cancelled
is still answered before the next one is sent.

A failing job is logged through `netmon.logs.FailureLog`: once when it starts, once when its
reason changes and once when it is over, never a traceback per cycle.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import netmon
from netmon.bags import to_worker
from netmon.bookkeeping_worker import close_store, read_frame, write_frame
from netmon.errors import StoreError
from netmon.logs import FailureLog, describe

log = logging.getLogger(__name__)

T = TypeVar("T")

ROOT = str(Path(netmon.__file__).resolve().parents[1])
BOOT = f"import sys; sys.path.insert(0, {ROOT!r}); from netmon.bookkeeping_worker import main; main()"
"""The worker's command: netmon's own folder first, the daemon's sys.path follows in the first frame."""

STOP_WAIT_S = 60.0
"""How long a closing worker may take to exit after its last job before it is killed."""


class WorkerLost(StoreError):
    """The bookkeeping process ended (killed, out of memory) while a job was running or queued."""


class Bookkeeper:
    """One worker process owning one store connection; `await run(fn, *args)` calls fn(store, *args) there."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._setups: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {}
        self._restarts = FailureLog("bookkeeping process", log)
        # One thread sends every job and reads its answer: one job at a time, in order.
        self._pipe = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="netmon-bookkeeping")
        self._proc: subprocess.Popen[bytes] | None = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        # A fresh interpreter, not a fork: the daemon has threads (writer, executors) that fork
        # would copy mid-state. stderr is the daemon's, so the worker's log lines go where its go.
        proc = subprocess.Popen([sys.executable, "-c", BOOT], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert proc.stdin is not None
        write_frame(proc.stdin, pickle.dumps((list(sys.path), str(self.path),
                                              logging.getLogger().getEffectiveLevel())))
        return proc

    def _exchange(self, proc: subprocess.Popen[bytes], fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        assert proc.stdin is not None and proc.stdout is not None
        request = to_worker((fn, args))  # here, not on the loop: it can be MBs
        try:
            write_frame(proc.stdin, request)
            answer = read_frame(proc.stdout)
        except OSError as exc:  # BrokenPipeError: it is gone
            raise WorkerLost(f"the bookkeeping process ended: {describe(exc)}") from exc
        if answer is None:
            code = proc.wait()
            raise WorkerLost(f"the bookkeeping process ended (exit code {code}) during a job")
        ok, value, *remote = pickle.loads(answer)
        if ok:
            return value
        value.add_note(f"in the bookkeeping process:\n{remote[0]}")
        raise value

    def _job(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """In the pipe thread: run one job, starting a new worker first if the last one could not be."""
        if self._proc is None:
            self._restart()
        assert self._proc is not None
        try:
            return self._exchange(self._proc, fn, args)
        except WorkerLost as exc:
            self._restarts.failed(exc, "starting a new one")
            self._restart()
            raise

    def _restart(self) -> None:
        """A new worker with every setup job replayed (in the pipe thread, so no job slips in between)."""
        old, self._proc = self._proc, None
        if old is not None:
            old.kill()
            old.wait()
            for stream in (old.stdin, old.stdout):
                if stream is not None:
                    stream.close()
        self._proc = proc = self._spawn()
        for setup_fn, setup_args in list(self._setups.values()):
            self._exchange(proc, setup_fn, setup_args)  # a failing one raises to the job's caller
        self._restarts.ok()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(store, *args)` in the worker; jobs run one at a time, in order.

        If the worker died (killed, out of memory), a new one is started with every setup job
        replayed, and the job's caller gets `WorkerLost` (its next attempt runs in the new worker).
        """
        return await asyncio.wrap_future(self._pipe.submit(self._job, fn, args))

    async def setup(self, key: str, fn: Callable[..., T], *args: Any) -> T:
        """Run a job that builds worker state, and remember it (by `key`) for a restarted worker."""
        self._setups[key] = (fn, args)
        return await self.run(fn, *args)

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()  # end of input: the worker returns
        try:
            proc.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            log.warning("the bookkeeping process did not end within %.0f s; killing it", STOP_WAIT_S)
            proc.kill()
            proc.wait()
        proc.stdout.close()

    async def close(self) -> None:
        """Finish the job in progress, checkpoint, close the connection and end the worker."""
        try:
            await self.run(close_store)
        except Exception as exc:
            log.warning("closing the bookkeeping connection failed: %s", describe(exc))
        await asyncio.wrap_future(self._pipe.submit(self._stop))
        self._pipe.shutdown(wait=True)
