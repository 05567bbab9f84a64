"""ICMP echo sockets: open one per address family, tune it, and encode echo requests.

Two kinds of socket exist on Linux. A *datagram* ping socket (SOCK_DGRAM, IPPROTO_ICMP) needs no
privilege when the process's group is inside `net.ipv4.ping_group_range`; the kernel picks the
echo identifier, fills the checksum and hands each socket only its own replies. A *raw* socket
needs CAP_NET_RAW and sees every ICMP packet on the host, so it gets a random identifier and a
kernel-side type filter that keeps the echo requests looping back on `lo` (and anything else we do
not read) out of its queue.
"""

from __future__ import annotations

import enum
import errno
import logging
import os
import random
import socket
import struct

from netmon.errors import ProbeError
from netmon.i18n import _

log = logging.getLogger(__name__)

SO_RCVBUFFORCE = 33
"""Linux value (asm-generic/socket.h); Python's socket module has no name for it."""
SOL_RAW = 255
ICMP_FILTER = 1
ICMP6_FILTER = 1
IP_RECVERR = 11
IPV6_RECVERR = 25
SO_TIMESTAMPNS_NEW = 64
"""Kernel receive timestamps as 64-bit seconds + nanoseconds on every architecture (Linux >= 5.1)."""
SO_TIMESTAMPNS_OLD = 35
"""The same as a native `struct timespec` (32-bit fields on 32-bit boxes), for older kernels."""

ECHO_REQUEST = {socket.AF_INET: 8, socket.AF_INET6: 128}
ECHO_REPLY = {socket.AF_INET: 0, socket.AF_INET6: 129}
# Destination unreachable and time exceeded: the kinds of error worth telling a technician about.
ERROR_TYPES = {socket.AF_INET: (3, 11), socket.AF_INET6: (1, 3)}
UNREACH_TYPES = {socket.AF_INET: 3, socket.AF_INET6: 1}



class IcmpMode(enum.StrEnum):
    """How the engine talks ICMP: unprivileged ping sockets or raw sockets."""

    DATAGRAM = "datagram"
    RAW = "raw"


class IcmpPermissionError(ProbeError, PermissionError):
    """No ICMP socket can be opened; the message says which setting to change."""


def ping_group_range() -> str:
    """Return `net.ipv4.ping_group_range` of this network namespace as 'low high'."""
    try:
        with open("/proc/sys/net/ipv4/ping_group_range", encoding="ascii") as fh:
            return " ".join(fh.read().split())
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def _socket_type(mode: IcmpMode) -> int:
    return socket.SOCK_DGRAM if mode is IcmpMode.DATAGRAM else socket.SOCK_RAW


def _proto(family: int) -> int:
    return socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6


def permission_message() -> str:
    """The start-up error text naming the two ways to grant ICMP access."""
    return _("cannot open an ICMP socket: this process (gid {gid}) is outside net.ipv4.ping_group_range (currently "
             "'{range}') and lacks CAP_NET_RAW. Fix one: sysctl -w net.ipv4.ping_group_range='0 2147483647' (persist "
             "with deploy/sysctl.d/60-netmon-ping.conf), or run with AmbientCapabilities=CAP_NET_RAW").format(
                 gid=os.getegid(), range=ping_group_range())


def check_icmp_permission() -> str:
    """Return "datagram" or "raw" (the first ICMP socket kind this process may open), else raise."""
    for mode in (IcmpMode.DATAGRAM, IcmpMode.RAW):
        try:
            socket.socket(socket.AF_INET, _socket_type(mode), socket.IPPROTO_ICMP).close()
        except PermissionError:
            continue
        return mode.value
    raise IcmpPermissionError(permission_message())


def _icmp6_filter(allowed: tuple[int, ...]) -> bytes:
    # Linux semantics: a set bit blocks the type (ICMP6_FILTER_SETBLOCK).
    words = [0xFFFFFFFF] * 8
    for icmp_type in allowed:
        words[icmp_type >> 5] &= ~(1 << (icmp_type & 31)) & 0xFFFFFFFF
    return struct.pack("8I", *words)


class EchoSocket:
    """One non-blocking ICMP socket for one address family, with its request encoder."""

    __slots__ = ("_base_sum", "_header", "family", "ident", "ip_header", "mode", "payload", "sock", "stamped")

    def __init__(self, family: int, mode: IcmpMode, rcvbuf_bytes: int, payload_size: int) -> None:
        self.family = family
        self.mode = mode
        try:
            self.sock = socket.socket(family, _socket_type(mode), _proto(family))
        except PermissionError as exc:
            raise IcmpPermissionError(f"{mode.value} ICMP socket refused ({exc.strerror}); "
                                      + permission_message()) from exc
        self.sock.setblocking(False)
        self._tune(rcvbuf_bytes)
        self.stamped = self._ask_for_timestamps()
        """True when each reply carries the kernel's receive time (read_replies times replies with it)."""
        # Raw IPv4 delivers the IP header in front of the ICMP message; IPv6 and datagram never do.
        self.ip_header = family == socket.AF_INET and mode is IcmpMode.RAW
        self.ident = random.randrange(1, 0x10000) if mode is IcmpMode.RAW else 0
        self.payload = bytes((0x40 + i) & 0xFF for i in range(payload_size))
        self._header = struct.Struct("!BBHHH")
        # The checksum is only ours to compute on raw IPv4; start from the sum of the fixed words
        # so each packet costs one addition instead of a pass over the payload.
        padded = self.payload + b"\0" * (len(self.payload) & 1)
        words = sum(struct.unpack(f"!{len(padded) // 2}H", padded)) if padded else 0
        self._base_sum = (ECHO_REQUEST[family] << 8) + self.ident + words

    def _tune(self, rcvbuf_bytes: int) -> None:
        sock = self.sock
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf_bytes)
        except PermissionError:
            # Without CAP_NET_ADMIN the size is capped at net.core.rmem_max; still worth asking.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf_bytes)
        if self.mode is IcmpMode.DATAGRAM:
            if self.family == socket.AF_INET:
                sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
        elif self.family == socket.AF_INET:
            allowed = (1 << 0) | (1 << 3) | (1 << 11)
            sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("I", ~allowed & 0xFFFFFFFF))
        else:
            sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, _icmp6_filter((129, 1, 3)))

    def _ask_for_timestamps(self) -> bool:
        # A reply is timed when the kernel received it, not when the event loop got round to it:
        # a loop busy with 20,000 other targets, a garbage collection or a slow box would otherwise
        # add its own delay to the village's latency (fping does the same, with SO_TIMESTAMPNS).
        for option in (SO_TIMESTAMPNS_NEW, SO_TIMESTAMPNS_OLD):
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, option, 1)
            except OSError:
                continue
            return True
        return False

    def request(self, seq: int) -> bytes:
        """Encode echo request number `seq` (the kernel fills in what it owns)."""
        if self.ip_header:
            total = self._base_sum + seq
            total = (total & 0xFFFF) + (total >> 16)
            total += total >> 16
            return self._header.pack(8, 0, ~total & 0xFFFF, self.ident, seq) + self.payload
        return self._header.pack(ECHO_REQUEST[self.family], 0, 0, self.ident, seq) + self.payload

    def fileno(self) -> int:
        """The descriptor the event loop watches."""
        return self.sock.fileno()

    def close(self) -> None:
        """Close the socket; safe to call twice."""
        self.sock.close()


def open_echo_socket(family: int, mode: IcmpMode | None, rcvbuf_bytes: int,
                     payload_size: int) -> EchoSocket:
    """Open the preferred socket kind (datagram, then raw) unless `mode` forces one."""
    modes = (mode,) if mode is not None else (IcmpMode.DATAGRAM, IcmpMode.RAW)
    refused: IcmpPermissionError | None = None
    for candidate in modes:
        try:
            return EchoSocket(family, candidate, rcvbuf_bytes, payload_size)
        except IcmpPermissionError as exc:
            refused = exc
    assert refused is not None
    if mode is None:
        raise IcmpPermissionError(permission_message()) from refused
    raise refused


SEND_UNREACHABLE = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH})
"""sendto() errors that mean "no way there from here" rather than a local fault."""
SEND_RETRY = frozenset({errno.EAGAIN, errno.ENOBUFS})
"""sendto() errors that mean "the local queue is full, try again in a moment"."""

_UNREACH_V4 = {0: "network unreachable", 1: "host unreachable", 2: "protocol unreachable",
               3: "port unreachable", 4: "fragmentation needed", 5: "source route failed",
               6: "destination network unknown", 7: "destination host unknown",
               9: "network administratively prohibited", 10: "host administratively prohibited",
               13: "communication administratively prohibited"}
_UNREACH_V6 = {0: "no route to destination", 1: "communication administratively prohibited",
               2: "beyond scope of source address", 3: "address unreachable", 4: "port unreachable",
               5: "source address failed policy", 6: "reject route to destination"}


def describe_icmp_error(family: int, icmp_type: int, code: int, reporter: str) -> str:
    """Say in words what an ICMP error about one of our echo requests means."""
    if icmp_type == UNREACH_TYPES[family]:
        table = _UNREACH_V4 if family == socket.AF_INET else _UNREACH_V6
        what = table.get(code, f"destination unreachable (code {code})")
    else:
        what = "time to live exceeded in transit (routing loop?)"
    return f"{reporter} answered '{what}'"
