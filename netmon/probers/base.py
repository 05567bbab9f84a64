"""The one shape every prober has, and the context they are built from.

A prober is an object rather than a bare function because the expensive parts (one ICMP
socket multiplexing every target, one SNMP engine, one HTTP connection pool) are shared by
all the targets of an agent. Its `probe` is still the blackbox_exporter shape:
`(device, check) -> ProbeResult`, never raising for a target's failure.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from netmon.config.schema import SchedulerSettings, SnmpAuth
from netmon.model import Device, ProbeResult, Status

Emit = Callable[[ProbeResult], None]


@dataclass(frozen=True)
class ProberContext:
    """What a prober may need from the agent: credentials by name and the pacing limits."""

    auths: Mapping[str, SnmpAuth] = field(default_factory=dict)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    config_dir: str = "."


class Prober(Protocol):
    """Probes devices with one kind of check (`icmp`, `snmp`, `tcp`, `http`)."""

    name: str

    async def probe(self, device: Device, check: Any) -> ProbeResult:
        """Run `check` against `device` once and describe what happened."""
        ...

    async def probe_many(self, devices: Sequence[Device], check: Any, emit: Emit) -> None:
        """Probe many devices with the same check, calling `emit` as each result is ready."""
        ...

    async def close(self) -> None:
        """Release sockets and engines; called once at shutdown."""
        ...


class ProberBase:
    """Default `probe_many` (fan out `probe` under a cap) and `close` for simple probers."""

    name = "base"

    def __init__(self, context: ProberContext) -> None:
        self.context = context
        self._limit = asyncio.Semaphore(context.scheduler.concurrency)

    async def probe(self, device: Device, check: Any) -> ProbeResult:  # pragma: no cover - abstract
        raise NotImplementedError

    async def probe_many(self, devices: Sequence[Device], check: Any, emit: Emit) -> None:
        """Fan out under the concurrency cap; a slow target delays only itself."""

        async def one(device: Device) -> None:
            async with self._limit:
                emit(await self.probe(device, check))

        await asyncio.gather(*(one(d) for d in devices))

    async def close(self) -> None:
        """Nothing to release by default."""


def failed(device: Device, check: Any, prober: str, status: Status, reason: str,
           started: float, t0: float | None = None) -> ProbeResult:
    """Build a result for a probe that could not do its job (no samples)."""
    duration = time.monotonic() - t0 if t0 is not None else 0.0
    return ProbeResult(device.id, check.name, prober, status, reason, started, duration)
