"""Self-monitoring: a `netmon_agent` result every minute, stored and forwarded like probe results.

One result (device_id "agent", prober "agent", check "self") carries:
- Sample("netmon_agent", {results_per_s, scheduler_lag_s, targets, dropped_unsent, refused_values})
  for the agent (refused_values: field values refused at the store's boundary, fieldtypes.py);
- per output, Sample("netmon_agent", {backlog_points, backlog_results, oldest_unsent_age_s,
  dead_lettered, dead_letters_pending, sent_points, output_stalled, stalled_s},
  tags={"output": NAME}).
Field types never change: counts are int, rates and durations float (0.0 when nothing waits),
`output_stalled` bool.

The point must not wait behind the backlog it reports on (a stalled output is exactly when
Grafana needs it): besides being stored and forwarded in order, it is sent to every output at
once, out of band; the ordered copy later overwrites it with the same values.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from netmon.config import Config
from netmon.fieldtypes import REFUSED_COUNTER
from netmon.model import ProbeResult, Sample, Status
from netmon.sinks.deadletters import pending_count
from netmon.sinks.influx import dead_letter_counter

if TYPE_CHECKING:
    from netmon.component import Host
    from netmon.sinks.component import Forwarding

log = logging.getLogger(__name__)

INTERVAL_S = 60.0


class SelfMonitor:
    """Daemon component emitting the agent's own health every `interval_s` seconds."""

    name = "selfmon"
    tables = ()  # its results go to `results` like a probe's (through Host.emit)

    def __init__(self, config: Config, forwarding: Forwarding | None = None,
                 interval_s: float = INTERVAL_S) -> None:
        self.config = config
        self.forwarding = forwarding
        self.interval_s = interval_s
        self.host: Host | None = None
        self._task: asyncio.Task | None = None

    async def start(self, host: Host) -> None:
        """Begin emitting."""
        self.host = host
        self._task = asyncio.create_task(self._loop(), name="selfmon")

    async def reload(self, config: Config) -> None:
        """Adopt a new config (the number of targets may have changed)."""
        self.config = config

    async def stop(self) -> None:
        """Stop emitting."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                result = await self.measure()
            except Exception:
                log.exception("self-monitoring failed; trying again in %.0f s", self.interval_s)
                continue
            assert self.host is not None
            self.host.emit(result)
            await self.send_first(result)

    async def send_first(self, result: ProbeResult) -> None:
        """Send the point to every output now, concurrently, one attempt each (bounded in time)."""
        forwarders = self.forwarding.forwarders if self.forwarding is not None else {}
        if forwarders:
            await asyncio.gather(*(f.send_now(result) for f in forwarders.values()), return_exceptions=True)

    async def measure(self) -> ProbeResult:
        """The agent's health right now as a result."""
        assert self.host is not None
        store, stats = self.host.store, self.host.stats()
        t0, now = time.monotonic(), time.time()
        counters = store.counters()
        lag_s = stats.scheduler_lag_s
        samples = [Sample("netmon_agent", {
            "results_per_s": stats.results_per_s,
            "scheduler_lag_s": lag_s,
            "targets": len(self.config.devices),
            "dropped_unsent": int(counters.get("dropped_unsent", 0)),
            "refused_values": int(counters.get(REFUSED_COUNTER, 0)),
        })]
        forwarders = self.forwarding.forwarders if self.forwarding is not None else {}
        for name, forwarder in sorted(forwarders.items()):
            results, points, oldest = await forwarder.backlog()
            samples.append(Sample("netmon_agent", {
                "backlog_points": points,
                "backlog_results": results,
                "oldest_unsent_age_s": float(max(0.0, now - oldest)) if oldest is not None else 0.0,
                "dead_lettered": int(counters.get(dead_letter_counter(name), 0)),
                "dead_letters_pending": pending_count(store, name),
                "sent_points": forwarder.sent_points,
                "output_stalled": forwarder.health.stalled,
                "stalled_s": float(now - forwarder.health.since) if forwarder.health.stalled else 0.0,
            }, {"output": name}))
            forwarder.health.publish(oldest_unsent_age_s=samples[-1].fields["oldest_unsent_age_s"],
                                     dead_letters_pending=samples[-1].fields["dead_letters_pending"])
        backlog = sum(s.fields.get("backlog_points", 0) for s in samples)  # type: ignore[misc]
        reason = f"{stats.results_per_s:.1f} results/s, lag {lag_s:.2f} s, {backlog} points not yet forwarded"
        return ProbeResult("agent", "self", "agent", Status.OK, reason, now, time.monotonic() - t0,
                           tuple(samples))
