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
