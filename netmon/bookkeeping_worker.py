"""The bookkeeping process itself (started by netmon.bookkeeping): read a job, run it, answer; repeat.

It talks to the daemon over its stdin and stdout, one frame at a time: an 8-byte length and a
pickle. The first frame is the daemon's `sys.path`, store path and log level; every later one
is a job `(fn, args)`, answered by `(True, result)` or `(False, exception, traceback text)`.
End of input (the daemon closed the pipe, or died) ends the process.

This module imports only what every job needs (the store, logging): the process pays for each
module it imports, and jobs import their own (netmon.analysis.worker brings the analysis).
multiprocessing is not used, so no resource tracker process runs beside this one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import sqlite3
import struct
import sys
import time
import traceback
from collections.abc import Callable
from typing import IO, Any

from netmon.logs import FailureLog
from netmon.store import Store

log = logging.getLogger("netmon.bookkeeping")

HEADER = struct.Struct("!Q")

CHECKPOINT_EVERY_S = 10.0
"""WAL checkpoints (PASSIVE: never waits for readers) at most this often, never inside a commit."""


def read_frame(stream: IO[bytes]) -> bytes | None:
    """The next frame's payload, or None at end of input."""
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        return None
    (size,) = HEADER.unpack(head)
    body = stream.read(size)
    return body if len(body) == size else None


def write_frame(stream: IO[bytes], payload: bytes) -> None:
    """Send one frame and flush it."""
    stream.write(HEADER.pack(len(payload)))
    stream.write(payload)
    stream.flush()


class _Worker:
    """What the worker process keeps between jobs: its store connection and the checkpoint clock."""

    store: Store | None = None
    last_checkpoint = 0.0
    checkpoints: FailureLog | None = None


def _init(path: str, level: int) -> None:
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


def close_store(_store: Store) -> None:
    """Job: checkpoint and close the worker's connection (the daemon's last job)."""
    _checkpoint()
    if _Worker.store is not None:
        _Worker.store.close()
        _Worker.store = None


def _call(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    assert _Worker.store is not None, "the store was closed"
    try:
        return fn(_Worker.store, *args)
    finally:
        if _Worker.store is not None and time.monotonic() - _Worker.last_checkpoint >= CHECKPOINT_EVERY_S:
            _checkpoint()


def _answer(request: bytes) -> bytes:
    """Run one pickled job; its pickled answer (an exception that does not pickle travels as text)."""
    try:
        fn, args = pickle.loads(request)
        answer: tuple[Any, ...] = (True, _call(fn, args))
    except Exception as exc:
        answer = (False, exc, traceback.format_exc())
    try:
        return pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # an unpicklable result or exception: the daemon still learns what happened
        text = answer[2] if len(answer) == 3 else f"the result of the job does not pickle: {exc!r}"
        return pickle.dumps((False, RuntimeError(text.strip().splitlines()[-1]), text), pickle.HIGHEST_PROTOCOL)


def main() -> None:
    """Serve jobs on stdin/stdout until the daemon closes the pipe."""
    # The daemon decides when to stop: systemd's SIGTERM to the whole cgroup, a terminal's SIGINT
    # or a SIGHUP must not kill the worker under a job; it ends when the daemon closes the pipe.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    requests, answers = sys.stdin.buffer, open(os.dup(1), "wb")  # noqa: SIM115 (lives as long as the process)
    # A stray print in a job must not corrupt the answers: fd 1 becomes the log (stderr).
    os.dup2(2, 1)
    sys.stdin = open(os.devnull)  # noqa: SIM115
    first = read_frame(requests)
    if first is None:
        return
    sys.path[:], path, level = pickle.loads(first)
    _init(path, level)
    while (request := read_frame(requests)) is not None:
        write_frame(answers, _answer(request))
