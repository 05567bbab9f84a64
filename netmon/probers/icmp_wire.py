"""Per-target state, the reply hot path, and decoding of ICMP errors about our echo requests.

A raw socket receives the ICMP error itself, which quotes our request's IP header and first 8
bytes. A datagram ping socket with IP_RECVERR gets it on the error queue instead: the quoted
request as data, the original destination as the address, and a `sock_extended_err` (errno,
origin, ICMP type and code, then the reporting router's address) as ancillary data.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from netmon.model import Status
from netmon.probers.icmp_socket import (
    ECHO_REPLY,
    ECHO_REQUEST,
    ERROR_TYPES,
    IP_RECVERR,
    IPV6_RECVERR,
    EchoSocket,
    IcmpMode,
    describe_icmp_error,
)

log = logging.getLogger(__name__)

_EE = struct.Struct("=IBBBBII")
_ORIGIN_ICMP = (2, 3)  # SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6
_ERRQUEUE_MAX = 4096
"""Most errors read in one go; the rest wait for the next wake-up so the loop stays responsive."""

_STAMP_64 = struct.Struct("=qq").unpack
_STAMP_NATIVE = struct.Struct("@ll").unpack
_STAMP_ANCILLARY = 64
"""Room for one SCM_TIMESTAMPNS control message (16 bytes of timespec plus its header)."""

_MAX_FAULTS = 64
"""recv() errors tolerated per drain; each one normally reports a single ICMP error."""

Failure = tuple[str, int, str]
"""(original destination, sequence number, what went wrong in words)."""


Target = tuple[Any, str, int]
"""(token handed back untouched, canonical address text, address family)."""


class PingOutcome:
    """What the engine learned about one target; handed to the batch callback once, when final."""

    __slots__ = ("address", "answered", "batch", "deadline", "detail", "done", "expected", "finished",
                 "next_due", "rtts_s", "sent_at", "seq0", "sock", "sockaddr", "started", "status", "token",
                 "transmitted")

    def __init__(self, token: Any, address: str, batch: Batch, started: float) -> None:
        self.token = token
        self.address = address
        self.batch = batch
        self.started = started
        self.finished = started
        self.transmitted = 0
        self.answered = 0
        self.expected = batch.count
        self.rtts_s: list[float] = []
        """Round-trip times (s) of the replies that came back within the timeout."""
        self.sent_at: list[float] = []
        self.status: Status | None = None
        self.detail = ""
        """Why a target failed: the ICMP error or send error, in words."""
        self.done = False
        self.next_due = 0.0
        self.deadline = 0.0


class Batch:
    __slots__ = ("count", "exhausted", "expiry", "interval_s", "on_done", "remaining", "repeat", "source",
                 "timeout_s", "wake")

    def __init__(self, source: Iterator[Target], count: int, interval_s: float, timeout_s: float,
                 on_done: Callable[[PingOutcome], None]) -> None:
        self.source = source
        self.count = count
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.on_done = on_done
        self.exhausted = False
        self.remaining = 0
        self.repeat: deque[PingOutcome] = deque()
        self.expiry: deque[PingOutcome] = deque()
        self.wake: asyncio.Future[None] | None = None


def read_replies(es: EchoSocket, buf: bytearray, pending: dict[tuple[str, int], PingOutcome],
                 finish: Callable[[PingOutcome, float], None], failed: Callable[[str, int, str], None],
                 fault: Callable[[EchoSocket, OSError], bool]) -> int:
    """Read every queued packet until EAGAIN, settling the pending requests they answer.

    `pending` maps (address, sequence) to the engine's target; `finish` is called once a target
    has all its answers, `failed` for an ICMP error about one request, `fault` for a recv() error
    (it returns False to stop reading). Returns how many packets were read. This is the hot
    path: one recvmsg_into (recvfrom_into without kernel timestamps), a few byte reads and one dict
    pop per reply. A reply is timed by the kernel's receive stamp when the socket has one.
    """
    monotonic = time.monotonic
    reply_type = ECHO_REPLY[es.family]
    errors = ERROR_TYPES[es.family]
    ip_header = es.ip_header
    ident = es.ident if es.mode is IcmpMode.RAW else -1
    count = faults = 0
    stamped = es.stamped
    recvmsg = es.sock.recvmsg_into
    recvfrom = es.sock.recvfrom_into
    bufs = [buf]
    # Kernel stamps are wall-clock time; sends are timed on the monotonic clock. The offset between
    # the two is read once per drain: NTP slews both alike, and a step would have to fall between a
    # reply's arrival and this drain (microseconds) to bend one RTT.
    wall_to_mono = monotonic() - time.time()
    while True:
        try:
            if stamped:
                size, ancillary, _flags, addr = recvmsg(bufs, _STAMP_ANCILLARY)
            else:
                size, addr = recvfrom(buf)
        except BlockingIOError:
            return count
        except OSError as exc:
            faults += 1
            if faults > _MAX_FAULTS or not fault(es, exc):
                return count
            continue
        now = monotonic()
        received = now
        if stamped and ancillary:
            stamp = ancillary[0][2]
            sec, nsec = _STAMP_64(stamp) if len(stamp) == 16 else _STAMP_NATIVE(stamp)
            received = min(now, sec + nsec * 1e-9 + wall_to_mono)
        count += 1
        off = (buf[0] & 15) << 2 if ip_header else 0
        kind = buf[off]
        if kind == reply_type and size >= off + 8:
            if ident >= 0 and (buf[off + 4] << 8 | buf[off + 5]) != ident:
                continue
            seq = buf[off + 6] << 8 | buf[off + 7]
            target = pending.pop((addr[0], seq), None)
            if target is None:
                continue
            sent = target.sent_at[(seq - target.seq0) & 0xFFFF]
            rtt = received - sent
            if rtt < 0.0:  # the clocks' offset moved under us: the loop's own time is still an upper bound
                rtt = now - sent
            if rtt <= target.batch.timeout_s:
                target.rtts_s.append(rtt)
            target.answered += 1
            if target.answered >= target.expected:
                finish(target, now)
        elif kind in errors and ident >= 0:
            found = parse_raw_error(es, buf, size, off, addr[0])
            if found is not None:
                failed(*found)


def parse_raw_error(es: EchoSocket, buf: bytearray, size: int, off: int, reporter: str) -> Failure | None:
    """Find which of our requests a raw ICMP error quotes; None when it is not about ours."""
    inner = off + 8
    if es.family == socket.AF_INET:
        if size < inner + 20:
            return None
        inner_icmp = inner + ((buf[inner] & 15) << 2)
        dst = socket.inet_ntop(socket.AF_INET, bytes(buf[inner + 16:inner + 20]))
    else:
        inner_icmp = inner + 40
        dst = socket.inet_ntop(socket.AF_INET6, bytes(buf[inner + 24:inner + 40]))
    if size < inner_icmp + 8 or buf[inner_icmp] != ECHO_REQUEST[es.family]:
        return None
    if (buf[inner_icmp + 4] << 8 | buf[inner_icmp + 5]) != es.ident:
        return None
    seq = buf[inner_icmp + 6] << 8 | buf[inner_icmp + 7]
    return dst, seq, describe_icmp_error(es.family, buf[off], buf[off + 1], reporter)


def _offender(family: int, data: bytes) -> str:
    raw = data[_EE.size:]
    try:
        if family == socket.AF_INET and len(raw) >= 8:
            return socket.inet_ntop(socket.AF_INET, raw[4:8])
        if family == socket.AF_INET6 and len(raw) >= 24:
            return socket.inet_ntop(socket.AF_INET6, raw[8:24])
    except (OSError, ValueError):
        pass
    return "a router"


def _decode(es: EchoSocket, data: bytes, ancdata: list, address: tuple) -> Failure | None:
    if len(data) < 8 or data[0] != ECHO_REQUEST[es.family]:
        return None
    seq = data[6] << 8 | data[7]
    wanted = (socket.IPPROTO_IP, IP_RECVERR) if es.family == socket.AF_INET else (
        socket.IPPROTO_IPV6, IPV6_RECVERR)
    for level, kind, blob in ancdata:
        if (level, kind) != wanted or len(blob) < _EE.size:
            continue
        ee_errno, origin, icmp_type, code, _pad, _info, _data = _EE.unpack_from(blob)
        if origin in _ORIGIN_ICMP:
            return address[0], seq, describe_icmp_error(es.family, icmp_type, code, _offender(es.family, blob))
        return address[0], seq, f"local error: {os.strerror(ee_errno)}"
    return None


def drain_errqueue(es: EchoSocket) -> list[Failure]:
    """Read the datagram socket's error queue until empty; return the failures it names."""
    found: list[Failure] = []
    for _ in range(_ERRQUEUE_MAX):
        try:
            data, ancdata, _flags, address = es.sock.recvmsg(512, 512, socket.MSG_ERRQUEUE)
        except BlockingIOError:
            break
        except OSError as exc:
            if exc.errno != errno.EBADF:
                log.warning("ICMP error queue unreadable: %s", exc)
            break
        failure = _decode(es, data, ancdata, address)
        if failure is not None:
            found.append(failure)
    return found
