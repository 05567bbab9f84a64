"""Time the garbage collector's full (generation 2) collections, for benchmarks and diagnosis.

Off unless the environment sets `NETMON_GC_LOG=1` (the bookkeeping process inherits it): a full
collection stops every thread of the process, and on the daemon's event loop that delays probe
replies, so how long they take is worth measuring on a real inventory. Each full collection is
logged at INFO with its duration and the longest so far, under the logger `netmon.gc`.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from typing import Any

log = logging.getLogger("netmon.gc")

ENV = "NETMON_GC_LOG"


class _Watch:
    started = 0.0
    longest_ms = 0.0
    count = 0


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if info.get("generation") != 2:
        return
    if phase == "start":
        _Watch.started = time.perf_counter()
        return
    ms = 1000 * (time.perf_counter() - _Watch.started)
    _Watch.count += 1
    _Watch.longest_ms = max(_Watch.longest_ms, ms)
    log.info("gen-2 collection %.1f ms at %.3f (%d collected, pid %d); longest %.1f ms of %d",
             ms, time.time(), info.get("collected", 0), os.getpid(), _Watch.longest_ms, _Watch.count)


def install() -> bool:
    """Start timing full collections if `NETMON_GC_LOG` asks for it; True when installed."""
    if os.environ.get(ENV, "") in ("", "0") or _on_gc in gc.callbacks:
        return False
    gc.callbacks.append(_on_gc)
    return True
