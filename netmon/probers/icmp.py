"""ICMP echo prober: Telegraf-compatible `ping` samples from the agent's shared ICMP engine.

Every result carries one `ping` sample with Telegraf's field names and types (docs/series.md):
counts as int, loss and times as float, RTT fields omitted when nothing replied, and `result_code` 0
(a reply), 1 (no reply) or 2 (could not even send: only `result_code` is written). Host names are
resolved without blocking the loop; names under the reserved `.invalid` TLD fail at once without a
query (RFC 6761 §6.4).
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from netmon.config.schema import IcmpCheck
from netmon.errors import ProbeError
from netmon.model import Device, ProbeResult, Sample, Status
from netmon.probers.base import Emit, ProberBase, ProberContext, failed
from netmon.probers.icmp_engine import IcmpEngine, PingOutcome, Target
from netmon.probers.icmp_socket import IcmpMode, IcmpPermissionError, check_icmp_permission

__all__ = ["IcmpMode", "IcmpPermissionError", "IcmpProber", "ResolveError", "check_icmp_permission",
           "resolve_host"]

log = logging.getLogger(__name__)

_NAME_LOOKUPS = 32
"""Host-name lookups in flight at once (glibc's resolver runs in executor threads)."""


class ResolveError(ProbeError):
    """A host name gave no address; the message is the result's reason."""


Resolver = Callable[[str, float], Awaitable[tuple[str, int]]]
"""(host name, time limit in s) -> (canonical address, family); raises ResolveError."""


def literal_address(host: str) -> tuple[str, int] | None:
    """Return (canonical address, family) when `host` is an IP literal, else None."""
    try:
        socket.inet_pton(socket.AF_INET, host)
        return host, socket.AF_INET  # glibc accepts only canonical dotted quads here
    except OSError:
        pass
    try:
        return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, host)), socket.AF_INET6
    except OSError:
        return None


async def resolve_host(host: str, timeout_s: float) -> tuple[str, int]:
    """Resolve `host` to its first address with loop.getaddrinfo; raise ResolveError in words."""
    name = host.rstrip(".").lower()
    if name == "invalid" or name.endswith(".invalid"):
        raise ResolveError(f"host name '{host}' does not resolve (reserved .invalid name)")
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, None, type=socket.SOCK_DGRAM), timeout_s)
    except TimeoutError:
        raise ResolveError(f"looking up host name '{host}' took longer than {timeout_s:g} s") from None
    except socket.gaierror as exc:
        if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
            raise ResolveError(f"host name '{host}' does not resolve") from None
        if exc.errno == socket.EAI_AGAIN:
            raise ResolveError(f"host name '{host}' could not be looked up now "
                               f"(name server not answering: {exc.strerror})") from None
        raise ResolveError(f"host name '{host}' lookup failed: {exc.strerror}") from None
    except (UnicodeError, ValueError, OSError) as exc:
        raise ResolveError(f"host name '{host}' cannot be looked up: {exc}") from None
    for family, _type, _proto, _name, sockaddr in infos:
        if family == socket.AF_INET6 and sockaddr[3]:
            return f"{sockaddr[0]}%{sockaddr[3]}", family  # link-local: keep the interface
        if family in (socket.AF_INET, socket.AF_INET6):
            return socket.inet_ntop(family, socket.inet_pton(family, sockaddr[0])), family
    raise ResolveError(f"host name '{host}' has no IPv4 or IPv6 address")


def ping_host(device: Device) -> str | None:
    """The host a device is pinged at: its `host`, else the host part of its URL."""
    return device.host or (urlsplit(device.url).hostname if device.url else None)


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value >= 0.1 else f"{value * 1000:g} ms"


def _ms(value: float) -> str:
    return f"{value:.2f} ms" if value >= 0.01 else f"{value:.3f} ms"


def ping_sample(host: str, outcome: PingOutcome) -> tuple[Sample, str]:
    """Turn an engine outcome into Telegraf's `ping` sample and the words for the reason."""
    sent = outcome.transmitted
    if sent == 0:
        return Sample("ping", {"result_code": 2}, {"url": host}), outcome.detail
    rtts = outcome.rtts_s
    got = len(rtts)
    if not got:
        timeout = _seconds(outcome.batch.timeout_s)
        fields: dict[str, int | float] = {"packets_transmitted": sent, "packets_received": 0,
                                          "percent_packet_loss": 100.0, "result_code": 1}
        reason = f"0/{sent} replies within {timeout}"
        return Sample("ping", fields, {"url": host}), (f"{reason}; {outcome.detail}" if outcome.detail else reason)
    mean = sum(rtts) / got
    spread = math.sqrt(sum((r - mean) ** 2 for r in rtts) / got)
    fields = {"packets_transmitted": sent, "packets_received": got,
              "percent_packet_loss": (sent - got) * 100.0 / sent,
              "minimum_response_ms": min(rtts) * 1000.0, "average_response_ms": mean * 1000.0,
              "maximum_response_ms": max(rtts) * 1000.0, "standard_deviation_ms": spread * 1000.0,
              "result_code": 0}
    return Sample("ping", fields, {"url": host}), f"{got}/{sent} replies, avg {_ms(mean * 1000.0)}"


class IcmpProber(ProberBase):
    """Pings devices through one shared ICMP engine; `probe_many` is the efficient path."""

    name = "icmp"

    def __init__(self, context: ProberContext, *, mode: IcmpMode | str | None = None,
                 engine: IcmpEngine | None = None, resolver: Resolver | None = None) -> None:
        super().__init__(context)
        self.engine = engine or IcmpEngine(mode=IcmpMode(mode) if mode else None,
                                           max_pps=context.scheduler.max_pps,
                                           max_inflight=context.scheduler.concurrency)
        self._resolve = resolver or resolve_host

    async def probe(self, device: Device, check: IcmpCheck) -> ProbeResult:
        """Ping one device `check.count` times and describe what happened."""
        results: list[ProbeResult] = []
        await self.probe_many([device], check, results.append)
        return results[0]

    async def probe_many(self, devices: Sequence[Device], check: IcmpCheck, emit: Emit) -> None:
        """Ping many devices in one paced sweep, calling `emit` as each result is final."""
        wall_offset = time.time() - time.monotonic()
        literals: list[Target] = []
        names: list[Device] = []
        for device in devices:
            host = ping_host(device)
            found = literal_address(host) if host else None
            if found is not None:
                literals.append((device, found[0], found[1]))
            elif host:
                names.append(device)
            else:
                self._emit(emit, failed(device, check, self.name, Status.ERROR,
                                        "device has no host or URL to ping", time.time()))

        def done(outcome: PingOutcome) -> None:
            device = outcome.token
            sample, reason = ping_sample(ping_host(device) or "", outcome)
            self._emit(emit, ProbeResult(device.id, check.name, self.name, outcome.status, reason,
                                         outcome.started + wall_offset, outcome.finished - outcome.started,
                                         (sample,)))

        jobs = [self.engine.ping(literals, check.count, check.packet_interval, check.timeout, done)]
        if names:
            jobs.append(self._ping_names(names, check, emit, done))
        await asyncio.gather(*jobs)

    async def _ping_names(self, devices: list[Device], check: IcmpCheck, emit: Emit,
                          done: Callable[[PingOutcome], None]) -> None:
        limit = asyncio.Semaphore(_NAME_LOOKUPS)
        lookup_s = max(check.timeout, 5.0)

        async def lookup(device: Device) -> Target | None:
            host = ping_host(device) or ""
            started = time.time()
            async with limit:
                try:
                    address, family = await self._resolve(host, lookup_s)
                except ResolveError as exc:
                    result = failed(device, check, self.name, Status.ERROR, str(exc), started)
                    self._emit(emit, ProbeResult(result.device_id, result.check, result.prober, result.status,
                                                 result.reason, started, time.time() - started,
                                                 (Sample("ping", {"result_code": 2}, {"url": host}),)))
                    return None
            return device, address, family

        found = await asyncio.gather(*(lookup(d) for d in devices))
        targets = [t for t in found if t is not None]
        if targets:
            await self.engine.ping(targets, check.count, check.packet_interval, check.timeout, done)

    def _emit(self, emit: Emit, result: ProbeResult) -> None:
        # State changes are logged once by the daemon's StateChangeLog for every prober alike.
        emit(result)

    async def close(self) -> None:
        """Close the engine's sockets."""
        self.engine.close()
