"""Bookkeeping jobs for tests that look at the worker process itself.

A job crosses to the worker by module name, so unpickling it imports its module: these live
apart from the test modules (which import pytest, asyncio and the daemon's helpers) to leave
the worker's imports as the daemon's jobs would.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any


def worker_facts(_store: Any) -> dict[str, Any]:
    """The worker's niceness, signal dispositions, imported modules and process id."""
    return {"nice": os.nice(0), "modules": set(sys.modules), "pid": os.getpid(),
            "signals": {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}}


def analysis_round(store: Any) -> dict[str, Any]:
    """What the daemon asks of the worker: a heartbeat, a retention slice, and after `build` rollups, an
    evaluation and PC scores; then which modules that needed (the config arrived as bags, the jobs
    live in light modules: pydantic must not be among them)."""
    from netmon import store_jobs
    from netmon.analysis import worker
    from netmon.retention import Policy

    store_jobs.write_heartbeat(store, 1.0, {"heartbeat_ts": 2.0})  # what the daemon runs every 10 s
    store_jobs.retention_slice(store, Policy(), [], True)
    rolled = worker.roll_up(store, 100_000)
    evaluated = worker.evaluate(store)
    scored = worker.score_pcs(store)
    return {"rolled": rolled, "evaluated": evaluated, "scored": scored, "modules": set(sys.modules)}
