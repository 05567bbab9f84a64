"""One ICMP echo engine per agent: a socket per address family multiplexing every target.

Why not a socket and a task per target (icmplib's async_multiping): every raw socket sees every ICMP
packet on the host and every task costs a future per packet, which made it ~19x fping's CPU
(measured with icmplib 3.0.4; bench/bench_icmp.py compares them). Here one sender loop per batch
walks the targets in due-time order under a global packets-per-second ceiling, replies are read by
one reader callback per socket until EAGAIN and matched by (source address, sequence), and timers
are per batch, not per packet.

A batch shares count, packet interval and timeout, so a target's next packet is always due later
than the packets already queued: plain FIFO deques keep both the send and the expiry order, with
no heap. Sequence numbers are allocated per address, so two targets only collide after 65,536
packets to the same address, never within a timeout window.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections.abc import Callable, Iterable

from netmon.model import Status
from netmon.probers.icmp_socket import (
    SEND_RETRY,
    SEND_UNREACHABLE,
    EchoSocket,
    IcmpMode,
    IcmpPermissionError,
    open_echo_socket,
)
from netmon.probers.icmp_wire import Batch, PingOutcome, Target, drain_errqueue, read_replies

log = logging.getLogger(__name__)

_CHUNK = 256
"""Most packets one sender pass sends before yielding, so other tasks and the reader keep up."""
_DRAIN_EVERY = 32
"""Sends between inline drains of the reply queue, so replies are timed when they arrive."""
_QUANTUM_S = 0.004
"""When paced, send in groups of this much credit (8 packets at 2,000 pps): a tiny burst."""
_RETRY_S = 0.002
_RESENDS = 2

def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class IcmpEngine:
    """Pings many targets over one socket per family; share one instance per agent."""

    def __init__(self, *, mode: IcmpMode | None = None, max_pps: float = 2000.0, max_inflight: int = 1024,
                 payload_size: int = 56, rcvbuf_bytes: int = 8 << 20) -> None:
        self.mode = mode
        self.max_pps = max_pps
        self.max_inflight = max_inflight
        self._payload_size = payload_size
        self._rcvbuf_bytes = rcvbuf_bytes
        # A little burst absorbs event-loop wake-up jitter without ever flooding a thin link.
        self._burst = max(1.0, max_pps / 100.0)
        self._tokens = self._burst
        self._quantum = min(self._burst, max(1.0, max_pps * _QUANTUM_S))
        self._tokens_at = time.monotonic()
        self._socks: dict[int, EchoSocket] = {}
        self._open_errors: dict[int, str] = {}
        self._readers: dict[int, asyncio.AbstractEventLoop] = {}
        self._pending: dict[tuple[str, int], PingOutcome] = {}
        self._seq_next: dict[str, int] = {}
        self._salt = random.getrandbits(16)
        self._inflight = 0
        self._blocked: set[Batch] = set()
        self._buf = bytearray(2048)
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def modes(self) -> dict[int, IcmpMode]:
        """The socket kind in use per address family (only families opened so far)."""
        return {family: es.mode for family, es in self._socks.items()}

    @property
    def inflight(self) -> int:
        """Targets admitted and not yet final, across all batches."""
        return self._inflight

    @property
    def pending_packets(self) -> int:
        """Echo requests sent and neither answered nor expired."""
        return len(self._pending)

    def open(self, family: int = socket.AF_INET) -> EchoSocket:
        """Open the socket for `family` now (else it opens at first use); raise if not allowed."""
        es = self._socks.get(family)
        if es is None:
            es = open_echo_socket(family, self.mode, self._rcvbuf_bytes, self._payload_size)
            self._socks[family] = es
            name = "IPv4" if family == socket.AF_INET else "IPv6"
            log.info("ICMP %s: using a %s socket (identifier %s)", name, es.mode.value,
                     es.ident or "chosen by the kernel")
        return es

    def _socket(self, family: int) -> EchoSocket | None:
        es = self._socks.get(family)
        if es is None and family not in self._open_errors:
            try:
                es = self.open(family)
            except (IcmpPermissionError, OSError) as exc:
                self._open_errors[family] = str(exc)
                log.error("ICMP %s unavailable: %s", "IPv4" if family == socket.AF_INET else "IPv6", exc)
                return None
        if es is not None and self._readers.get(family) is not self._loop:
            # First use, or first use under a new event loop (one-shot `netmon probe` runs).
            self._loop.add_reader(es.fileno(), self._on_readable, es)
            self._readers[family] = self._loop
        return es

    async def ping(self, targets: Iterable[Target], count: int, interval_s: float, timeout_s: float,
                   on_done: Callable[[PingOutcome], None]) -> None:
        """Ping every target `count` times; call `on_done` once per target as soon as it is final."""
        batch = Batch(iter(targets), count, interval_s, timeout_s, on_done)
        loop = self._loop = asyncio.get_running_loop()
        try:
            while True:
                now = time.monotonic()
                self._pump(batch, now)
                self._expire(batch, time.monotonic())
                if batch.exhausted and batch.remaining == 0:
                    return
                await self._sleep(batch, loop, self._next_wake(batch, time.monotonic()))
        finally:
            self._abandon(batch)

    def close(self) -> None:
        """Stop watching and close the sockets."""
        for family, loop in self._readers.items():
            if not loop.is_closed() and family in self._socks:
                loop.remove_reader(self._socks[family].fileno())
        self._readers.clear()
        for es in self._socks.values():
            es.close()
        self._socks.clear()

    # ------------------------------------------------------------------ sending

    def _pump(self, batch: Batch, now: float) -> None:
        tokens = min(self._burst, self._tokens + (now - self._tokens_at) * self.max_pps)
        self._tokens_at = now
        budget = min(int(tokens), _CHUNK)
        sent = 0
        repeat = batch.repeat
        while sent < budget:
            if repeat and repeat[0].next_due <= now:
                target = repeat.popleft()
            elif not batch.exhausted and self._inflight < self.max_inflight:
                target = self._admit(batch, now)
                if target is None:
                    continue
            else:
                break
            if not self._send(target):
                target.next_due = now + _RETRY_S
                repeat.appendleft(target)
                break
            sent += 1
            if sent % _DRAIN_EVERY == 0:
                self._drain_all()
                now = time.monotonic()
        self._tokens = tokens - sent

    def _admit(self, batch: Batch, now: float) -> PingOutcome | None:
        try:
            token, address, family = next(batch.source)
        except StopIteration:
            batch.exhausted = True
            return None
        target = PingOutcome(token, address, batch, now)
        self._inflight += 1
        batch.remaining += 1
        es = self._socket(family)
        if es is None:
            target.status = Status.ERROR
            target.detail = self._open_errors[family]
            self._finish(target, now)
            return None
        target.sock = es
        if family == socket.AF_INET:
            target.sockaddr = (address, 0)
        elif "%" in address:  # fe80::1%2: numeric parse only; replies name the bare address
            target.sockaddr = socket.getaddrinfo(address, 0, family, 0, 0, socket.AI_NUMERICHOST)[0][4]
            target.address = address = target.sockaddr[0]
        else:
            target.sockaddr = (address, 0, 0, 0)
        seq0 = self._seq_next.get(address)
        if seq0 is None:
            # Start each address somewhere unpredictable (an earlier run's late replies), cheaply.
            seq0 = (hash(address) ^ self._salt) & 0xFFFF
        self._seq_next[address] = (seq0 + batch.count) & 0xFFFF
        target.seq0 = seq0
        return target

    def _send(self, target: PingOutcome) -> bool:
        """Send the target's next packet; False means "queue full, retry later"."""
        es = target.sock
        batch = target.batch
        seq = (target.seq0 + target.transmitted) & 0xFFFF
        packet = es.request(seq)
        # Timed before the send: on loopback the kernel can receive (and stamp) the reply before
        # sendto() returns.
        now = time.monotonic()
        try:
            es.sock.sendto(packet, target.sockaddr)
        except OSError as exc:
            if exc.errno in SEND_RETRY:
                return False
            if not self._resend(es, packet, target, exc):
                return True
        target.sent_at.append(now)
        self._pending[(target.address, seq)] = target
        target.transmitted += 1
        if target.transmitted < batch.count:
            target.next_due = now + batch.interval_s
            batch.repeat.append(target)
        else:
            target.deadline = now + batch.timeout_s
            batch.expiry.append(target)
        return True

    def _resend(self, es: EchoSocket, packet: bytes, target: PingOutcome, exc: OSError) -> bool:
        """Tell a stale socket error from a real one; True when the packet went out after all."""
        # An ICMP error about *another* target sets the socket's pending error, and the kernel
        # reports it on the next call, which may be this sendto(). Reporting clears it, so a
        # second try shows whether this destination itself is the problem.
        for _ in range(_RESENDS):
            try:
                es.sock.sendto(packet, target.sockaddr)
            except OSError as again:
                exc = again
                continue
            return True
        self._send_failed(target, exc)
        return False

    def _send_failed(self, target: PingOutcome, exc: OSError) -> None:
        now = time.monotonic()
        unreachable = exc.errno in SEND_UNREACHABLE
        target.detail = f"cannot send to {target.address}: {exc.strerror}" + (
            " (no route from this agent)" if unreachable else "")
        target.expected = target.transmitted
        if target.transmitted == 0 or target.answered >= target.expected:
            target.status = Status.UNREACHABLE if unreachable else Status.ERROR
            self._finish(target, now)
        else:
            target.deadline = now + target.batch.timeout_s
            target.batch.expiry.append(target)

    # ------------------------------------------------------------------ receiving

    def _on_readable(self, es: EchoSocket) -> None:
        if self._drain(es) == 0 and es.mode is IcmpMode.DATAGRAM:
            # A wake-up with no data: the kernel signalled an ICMP error on the error queue.
            for dst, seq, detail in drain_errqueue(es):
                self._icmp_failed(dst, seq, detail)

    def _drain_all(self) -> None:
        for es in self._socks.values():
            self._drain(es)

    def _drain(self, es: EchoSocket) -> int:
        """Read every queued packet until EAGAIN; return how many were read."""
        return read_replies(es, self._buf, self._pending, self._finish, self._icmp_failed, self._socket_error)

    def _socket_error(self, es: EchoSocket, exc: OSError) -> bool:
        """Handle an error raised by recv; True when reading should go on."""
        if es.sock.fileno() < 0:
            return False
        if es.mode is IcmpMode.DATAGRAM:
            for dst, seq, detail in drain_errqueue(es):
                self._icmp_failed(dst, seq, detail)
            return True
        # A raw socket also reports hard ICMP errors through recv(); the packet itself follows.
        log.debug("ICMP raw socket reported %s", exc)
        return True

    def _icmp_failed(self, dst: str, seq: int, detail: str) -> None:
        target = self._pending.pop((dst, seq), None)
        if target is None:
            return
        target.answered += 1
        if not target.detail:
            target.detail = detail
        if target.answered >= target.expected:
            self._finish(target, time.monotonic())

    # ------------------------------------------------------------------ finishing and timers

    def _finish(self, target: PingOutcome, now: float) -> None:
        target.done = True
        target.finished = now
        if target.status is None:
            if target.rtts_s:
                target.status = Status.OK
            else:
                target.status = Status.UNREACHABLE if target.detail else Status.TIMEOUT
        if target.answered < target.transmitted:
            self._forget(target)
        self._inflight -= 1
        batch = target.batch
        batch.remaining -= 1
        try:
            batch.on_done(target)
        except Exception:
            log.exception("ICMP result callback failed for %s", target.address)
        if batch.remaining == 0 and batch.exhausted and batch.wake is not None:
            _resolve(batch.wake)
        if self._blocked:
            for blocked in self._blocked:
                if blocked.wake is not None:
                    _resolve(blocked.wake)
            self._blocked.clear()

    def _forget(self, target: PingOutcome) -> None:
        pending = self._pending
        for i in range(target.transmitted):
            key = (target.address, (target.seq0 + i) & 0xFFFF)
            if pending.get(key) is target:
                del pending[key]

    def _expire(self, batch: Batch, now: float) -> None:
        expiry = batch.expiry
        while expiry and expiry[0].deadline <= now:
            target = expiry.popleft()
            if not target.done:
                self._finish(target, now)

    def _next_wake(self, batch: Batch, now: float) -> float | None:
        """When this batch next has something to do; None means "when woken"."""
        candidates = []
        if batch.repeat:
            candidates.append(batch.repeat[0].next_due)
        if batch.expiry:
            candidates.append(batch.expiry[0].deadline)
        if not batch.exhausted:
            if self._inflight < self.max_inflight:
                candidates.append(now)
            else:
                self._blocked.add(batch)
        if not candidates:
            return None
        when = min(candidates)
        if when <= now and self._tokens < 1.0:
            # Wait for a few packets' worth of credit, not one: fewer wake-ups, same average rate.
            when = now + (self._quantum - self._tokens) / self.max_pps
        return when

    async def _sleep(self, batch: Batch, loop: asyncio.AbstractEventLoop, when: float | None) -> None:
        fut: asyncio.Future[None] = loop.create_future()
        batch.wake = fut
        handle = loop.call_at(when, _resolve, fut) if when is not None else None
        try:
            await fut
        finally:
            batch.wake = None
            if handle is not None:
                handle.cancel()

    def _abandon(self, batch: Batch) -> None:
        """Drop a cancelled batch's targets so they hold no capacity or sequence numbers."""
        self._blocked.discard(batch)
        for queue in (batch.repeat, batch.expiry):
            for target in queue:
                if not target.done:
                    target.done = True
                    self._forget(target)
                    self._inflight -= 1
                    batch.remaining -= 1
            queue.clear()
