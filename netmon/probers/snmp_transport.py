"""One asyncio UDP socket per address family for every SNMP v1/v2c request of the agent.

The v3 fast path (snmp_v3_fast) uses a second instance whose `decode` reads only a v3 message's
msgID (snmp_usm.decode_frame); authentication and decryption happen after the match.

A reply is accepted only when it decodes strictly (snmp_wire), carries the request-id of a
pending request, comes from the address and port that request went to, and repeats its version
and community; everything else is counted and dropped. Retries resend the same bytes with the
same request-id, so a slow first answer still completes the request. In-flight requests are
bounded, and the receive buffer is enlarged: one socket carries every answer and the 212 kB
default holds only ~330 of them (measured: of 1,000 replies arriving at once, 332 were kept).

The socket is read with `loop.add_reader` and `recvfrom_into` a buffer kept for it, not
through an asyncio DatagramTransport: that one allocates a 256 KiB bytes object per datagram and
shrinks it (16 µs of CPU per 1 kB datagram against 2.3 µs, measured), and one wake-up of the loop
here reads every datagram that is waiting, up to `_DRAIN_MAX`. Measured on a whole poll, interleaved
with the DatagramProtocol version: see BENCHMARKS.md (issue 21).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from netmon.errors import ProbeError
from netmon.probers.snmp_wire import Response, WireError, decode_response

log = logging.getLogger(__name__)

SO_RCVBUFFORCE = 33
"""Linux value (asm-generic/socket.h); Python's socket module has no name for it."""
RCVBUF_BYTES = 8 << 20
MAX_IN_FLIGHT = 512
NAME_TTL_S = 300.0
"""How long a resolved host name is reused; IP literals are parsed once and kept."""
_WARNED_MAX = 1024
_MAX_DATAGRAM = 65536
"""Larger than any UDP payload (65,507 bytes over IPv4, 65,527 over IPv6): nothing is cut."""
_DRAIN_MAX = 64
"""Datagrams read per wake-up at most, so a flood of replies cannot hold the event loop."""


class TransportClosed(ProbeError):
    """The client was closed while this request waited for its answer."""


@dataclass(slots=True)
class _Pending:
    """One request waiting for its answer, and what the answer must match."""

    future: asyncio.Future[Any]
    addr: tuple[str, int]
    version: int
    community: bytes
    packet: bytes
    family: int
    timeout_s: float
    tries_left: int
    timer: asyncio.TimerHandle | None = None


@dataclass(slots=True)
class _Resolved:
    family: int
    host: str
    expires: float


@dataclass(slots=True)
class _Socket:
    """One UDP socket, the loop watching it, its receive buffer and its send backlog."""

    sock: socket.socket
    loop: asyncio.AbstractEventLoop
    buffer: bytearray
    backlog: deque[tuple[bytes, tuple[str, int]]]
    """Datagrams the kernel refused for now (EAGAIN): sent when the socket is writable again."""


class SnmpTransport:
    """Sends v1/v2c requests and matches their answers; used from one event loop at a time."""

    def __init__(self, max_in_flight: int = MAX_IN_FLIGHT, rcvbuf_bytes: int = RCVBUF_BYTES,
                 decode: Callable[[bytes], Any] = decode_response) -> None:
        self.max_in_flight = max_in_flight
        self._decode = decode
        """bytes -> an object with request_id, version and community, or WireError."""
        self.rcvbuf_bytes = rcvbuf_bytes
        self.stats: Counter[str] = Counter()
        """sent, retries, received, timeouts, malformed, wrong_source, wrong_header, unmatched."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sockets: dict[int, _Socket] = {}
        self._pending: dict[int, _Pending] = {}
        self._names: dict[str, _Resolved] = {}
        self._limit: asyncio.Semaphore | None = None
        self._open_lock: asyncio.Lock | None = None
        self._next_id = random.randrange(1, 1 << 31)
        self._warned: set[str] = set()

    async def request(self, host: str, port: int, version: int, community: bytes,
                      build: Callable[[int], bytes], timeout_s: float, retries: int) -> Response | Any:
        """Send `build(request_id)` to host:port; return the matching reply, or None on timeout.

        The reply is what `decode` made of it: a Response with the default decoder.

        Raises OSError (socket.gaierror) when the host name does not resolve, TransportClosed
        when `close()` ran meanwhile.
        """
        loop = self._bind_loop()
        assert self._limit is not None
        async with self._limit:
            target = self._names.get(host)
            if target is None or target.expires < time.monotonic():
                target = await self._resolve(host, loop)
            sock = self._sockets.get(target.family) or await self._open(target.family, loop)
            request_id = self._new_id()
            pending = _Pending(loop.create_future(), (target.host, port), version, community,
                               build(request_id), target.family, timeout_s, retries)
            self._pending[request_id] = pending
            try:
                self._send(pending, sock)
                pending.timer = loop.call_later(timeout_s, self._expire, pending)
                return await pending.future
            finally:
                del self._pending[request_id]
                if pending.timer is not None:
                    pending.timer.cancel()

    def deliver(self, data: bytes, addr: Any) -> None:
        """Match one datagram to its pending request (called by the socket's reader)."""
        try:
            response = self._decode(data)
        except WireError as exc:
            self._drop("malformed", addr, str(exc))
            return
        pending = self._pending.get(response.request_id)
        if pending is None:
            # an answer to a request that already timed out (or was never ours)
            self.stats["unmatched"] += 1
            return
        if (addr[0], addr[1]) != pending.addr:
            self._drop("wrong_source", addr, f"request-id of a request sent to {pending.addr[0]}")
            return
        if response.version != pending.version or response.community != pending.community:
            self._drop("wrong_header", addr, "version or community differ from the request")
            return
        if not pending.future.done():
            self.stats["received"] += 1
            pending.future.set_result(response)

    def receive_buffer_bytes(self, family: int = socket.AF_INET) -> int | None:
        """SO_RCVBUF of the socket for `family` as the kernel reports it; None before first use."""
        entry = self._sockets.get(family)
        return entry.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) if entry else None

    def close(self) -> None:
        """Close the sockets; requests still waiting raise TransportClosed."""
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(TransportClosed("SNMP client closed"))
        for entry in self._sockets.values():
            if not entry.loop.is_closed():
                entry.loop.remove_reader(entry.sock.fileno())
                entry.loop.remove_writer(entry.sock.fileno())
            entry.sock.close()
        self._sockets.clear()
        self._loop = None

    # ------------------------------------------------------------------ internals

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # sockets and futures belong to the loop that made them: start afresh in a new one
            if self._loop is not None:
                log.debug("SNMP transport moved to a new event loop; reopening its sockets")
            self.close()
            self._loop = loop
            self._limit = asyncio.Semaphore(self.max_in_flight)
            self._open_lock = asyncio.Lock()
        return loop

    def _new_id(self) -> int:
        while True:
            self._next_id = self._next_id % 0x7FFFFFFF + 1  # 1..2^31-1, fits a 4-byte INTEGER
            if self._next_id not in self._pending:
                return self._next_id

    def _send(self, pending: _Pending, sock: _Socket) -> None:
        self.stats["sent"] += 1
        if sock.backlog:  # keep the order: behind what is already waiting
            sock.backlog.append((pending.packet, pending.addr))
            return
        try:
            sock.sock.sendto(pending.packet, pending.addr)
        except (BlockingIOError, InterruptedError):
            sock.backlog.append((pending.packet, pending.addr))
            sock.loop.add_writer(sock.sock.fileno(), self._writable, sock)
        except OSError as exc:
            self._socket_error(exc)

    def _writable(self, sock: _Socket) -> None:
        while sock.backlog:
            packet, addr = sock.backlog[0]
            try:
                sock.sock.sendto(packet, addr)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._socket_error(exc)
            sock.backlog.popleft()
        sock.loop.remove_writer(sock.sock.fileno())

    def _readable(self, sock: _Socket) -> None:
        view = memoryview(sock.buffer)
        for _ in range(_DRAIN_MAX):
            try:
                size, addr = sock.sock.recvfrom_into(sock.buffer)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._socket_error(exc)
                return
            try:
                self.deliver(bytes(view[:size]), addr)
            except Exception:  # a bug here must not kill the socket's reader; it must be seen
                log.exception("SNMP reply from %s could not be handled", addr[0])

    def _socket_error(self, exc: OSError) -> None:
        # unconnected UDP sockets get no ICMP errors on Linux; anything here is local trouble
        # (e.g. no route for IPv6): the request is not answered and times out
        log.debug("SNMP socket error: %s", exc)
        self.stats["socket_errors"] += 1

    def _expire(self, pending: _Pending) -> None:
        if pending.future.done():
            return
        if pending.tries_left <= 0:
            self.stats["timeouts"] += 1
            pending.future.set_result(None)
            return
        pending.tries_left -= 1
        self.stats["retries"] += 1
        sock = self._sockets.get(pending.family)
        if sock is None:  # closed meanwhile; close() has failed the future already
            return
        self._send(pending, sock)
        assert self._loop is not None
        pending.timer = self._loop.call_later(pending.timeout_s, self._expire, pending)

    def _drop(self, kind: str, addr: Any, why: str) -> None:
        self.stats[kind] += 1
        key = f"{kind}:{addr[0]}"
        if key not in self._warned and len(self._warned) < _WARNED_MAX:
            self._warned.add(key)
            log.warning("dropped an SNMP reply from %s:%s (%s: %s); later ones are logged at debug",
                        addr[0], addr[1], kind, why)
        else:
            log.debug("dropped an SNMP reply from %s:%s (%s: %s)", addr[0], addr[1], kind, why)

    async def _resolve(self, host: str, loop: asyncio.AbstractEventLoop) -> _Resolved:
        try:
            ip = ipaddress.ip_address(host)
            # the kernel reports sources in canonical text ("::1"); match replies against that
            resolved = _Resolved(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, str(ip),
                                 float("inf"))
        except ValueError:
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
            family, *_rest, sockaddr = infos[0]
            resolved = _Resolved(family, str(ipaddress.ip_address(sockaddr[0])),
                                 time.monotonic() + NAME_TTL_S)
        self._names[host] = resolved
        return resolved

    async def _open(self, family: int, loop: asyncio.AbstractEventLoop) -> _Socket:
        assert self._open_lock is not None
        async with self._open_lock:
            if family in self._sockets:
                return self._sockets[family]
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                try:
                    # SO_RCVBUFFORCE passes rmem_max when running as root; else the capped one
                    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, self.rcvbuf_bytes)
                except OSError:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf_bytes)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
                sock.setblocking(False)
            except OSError:
                sock.close()
                raise
            entry = self._sockets[family] = _Socket(sock, loop, bytearray(_MAX_DATAGRAM), deque())
            loop.add_reader(sock.fileno(), self._readable, entry)
            return entry
