"""The running agent as its components see it: the `Host` of netmon.component, built by the daemon."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from netmon.bookkeeping import Bookkeeper
from netmon.component import AgentStats, Subscriber
from netmon.config import Config
from netmon.model import ProbeResult
from netmon.scheduler import ProbeSchedule
from netmon.store import Store
from netmon.writer import RateMeter, ResultWriter

T = TypeVar("T")


@dataclass
class Agent:
    """What the components of a running daemon share; their `Host` (netmon.component)."""

    config: Config
    store: Store
    writer: ResultWriter
    schedule: ProbeSchedule | None
    rate: RateMeter
    started_ts: float = field(default_factory=time.time)
    bookkeeper: Bookkeeper | None = None
    """The process for slow store work (rollups, evaluation, retention, checkpoints)."""

    def subscribe(self, callback: Subscriber) -> None:
        """Call `callback(results)` on the loop after each committed batch."""
        self.writer.listeners.append(callback)

    def emit(self, result: ProbeResult) -> None:
        """Queue a component's result for the store, like a probe's."""
        self.writer.emit(result)

    def stats(self) -> AgentStats:
        """Result rate and scheduler lag now."""
        lag_s = float(self.schedule.lag_s) if self.schedule is not None else 0.0
        return AgentStats(float(self.rate.per_second()), lag_s)

    async def run_job(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(store, *args)` in the bookkeeping process."""
        assert self.bookkeeper is not None
        return await self.bookkeeper.run(fn, *args)

    async def setup_job(self, key: str, fn: Callable[..., T], *args: Any) -> T:
        """Build state in the bookkeeping process, replayed if that process restarts."""
        assert self.bookkeeper is not None
        return await self.bookkeeper.setup(key, fn, *args)
