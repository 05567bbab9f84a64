"""DNS probe kind: how long a resolver takes to answer one query, and whether the answer is right.

The device is the resolver (its `host:`; the check's `port:`, default 53). One plain UDP query is
built with the stdlib (RFC 1035), so there is no dependency to carry. Writes Telegraf's
`dns_query` measurement (fields `query_time_ms`, `result_code`, `rcode_value`; tags `server`,
`domain`, `record_type`, `result`, `rcode`) so Telegraf dashboards keep working.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import struct
import time
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field

from netmon.config.checks import CheckBase, Name
from netmon.kinds.base import ProbeKind
from netmon.model import Device, ProbeResult, Sample, Status

log = logging.getLogger(__name__)

MEASUREMENT = "dns_query"
QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
SUCCESS, TIMEOUT, ERROR = 0, 1, 2
"""Telegraf's `result_code` values (tag `result`: success, timeout, error)."""


class DnsCheck(CheckBase):
    prober: Literal["dns"]
    domain: Name
    record_type: Literal["A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT"] = "A"
    port: int = Field(default=53, ge=1, le=65535)
    expect: str | None = None
    """An answer that must be among the records (e.g. `10.0.0.5`); without it any answer will do."""


def build_query(qid: int, domain: str, qtype: int) -> bytes:
    """One standard query with recursion desired."""
    labels = [part.encode("idna") for part in domain.rstrip(".").split(".") if part]
    qname = b"".join(bytes([len(label)]) + label for label in labels) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", qtype, 1)


def _name(data: bytes, pos: int, hops: int = 0) -> tuple[str, int]:
    """A possibly compressed name at `pos`, and the offset just after it (bounded against loops)."""
    labels = []
    while hops < 64:
        length = data[pos]
        if length & 0xC0 == 0xC0:
            target = struct.unpack_from("!H", data, pos)[0] & 0x3FFF
            return ".".join([*labels, _name(data, target, hops + 1)[0]]).strip("."), pos + 2
        pos += 1
        if length == 0:
            return ".".join(labels), pos
        labels.append(data[pos:pos + length].decode("ascii", errors="replace"))
        pos += length
        hops += 1
    raise ValueError("name too long or looping")


def _rdata(data: bytes, rtype: int, start: int, length: int) -> str:
    raw = data[start:start + length]
    if rtype == 1 and length == 4:
        return str(ipaddress.IPv4Address(raw))
    if rtype == 28 and length == 16:
        return str(ipaddress.IPv6Address(raw))
    if rtype in (2, 5, 12):
        return _name(data, start)[0]
    if rtype == 15:
        return f"{struct.unpack_from('!H', raw)[0]} {_name(data, start + 2)[0]}"
    if rtype == 16:
        parts, i = [], 0
        while i < len(raw):
            parts.append(raw[i + 1:i + 1 + raw[i]].decode("utf-8", errors="replace"))
            i += 1 + raw[i]
        return "".join(parts)
    return raw.hex()


def parse_reply(data: bytes, qid: int) -> tuple[int, list[str]] | None:
    """(rcode, answers) of a reply to query `qid`, or None when it is not one."""
    if len(data) < 12:
        return None
    rid, flags, qdcount, ancount = struct.unpack_from("!HHHH", data)
    if rid != qid or not flags & 0x8000:
        return None
    pos = 12
    for _ in range(qdcount):
        pos = _name(data, pos)[1] + 4
    answers = []
    for _ in range(ancount):
        pos = _name(data, pos)[1]
        rtype, _cls, _ttl, length = struct.unpack_from("!HHIH", data, pos)
        pos += 10
        answers.append(_rdata(data, rtype, pos, length))
        pos += length
    return flags & 0x000F, answers


class _Client(asyncio.DatagramProtocol):
    def __init__(self, qid: int) -> None:
        self.qid = qid
        self.reply: asyncio.Future[tuple[int, list[str]]] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            parsed = parse_reply(data, self.qid)
        except (ValueError, IndexError, struct.error):
            parsed = None  # garbage or a stray datagram: keep waiting for the real reply
        if parsed is not None and not self.reply.done():
            self.reply.set_result(parsed)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


class DnsProber:
    """Sends one UDP query per target; a slow resolver delays only itself."""

    name = "dns"

    def __init__(self, context: Any) -> None:
        self._limit = asyncio.Semaphore(context.scheduler.concurrency)

    async def probe(self, device: Device, check: DnsCheck) -> ProbeResult:
        """Query the device's resolver for `check.domain`; never raises."""
        started, t0 = time.time(), time.monotonic()
        server = device.host or ""
        tags = {"server": server, "domain": check.domain, "record_type": check.record_type}
        fields: dict[str, float | int]
        try:
            status, reason, fields, tags["rcode"] = await self._ask(server, check)
        except Exception as exc:  # a bug here must not stop the other targets of the round
            log.exception("dns probe of %s raised", server)
            status, reason, fields = Status.ERROR, f"internal error: {exc!r}", {"result_code": ERROR}
        tags["result"] = {SUCCESS: "success", TIMEOUT: "timeout"}.get(int(fields["result_code"]), "error")
        tags = {k: v for k, v in tags.items() if v}
        return ProbeResult(device.id, check.name, self.name, status, f"{server}: {reason}", started,
                           time.monotonic() - t0, (Sample(MEASUREMENT, fields, tags),))

    async def _ask(self, server: str, check: DnsCheck) -> tuple[Status, str, dict[str, float | int], str]:
        if not server:
            return Status.ERROR, "no resolver address; set host: on the device", {"result_code": ERROR}, ""
        qid = secrets.randbelow(0x10000)
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        transport, client = await loop.create_datagram_endpoint(lambda: _Client(qid),
                                                                 remote_addr=(server, check.port))
        try:
            transport.sendto(build_query(qid, check.domain, QTYPES[check.record_type]))
            async with asyncio.timeout(check.timeout):
                rcode, answers = await client.reply
        except TimeoutError:
            return Status.TIMEOUT, f"no answer within {check.timeout:g} s", {"result_code": TIMEOUT}, ""
        except OSError as exc:
            status = Status.REFUSED if isinstance(exc, ConnectionRefusedError) else Status.ERROR
            return status, f"query failed ({exc.strerror or exc})", {"result_code": ERROR}, ""
        finally:
            transport.close()
        ms = (time.perf_counter() - t0) * 1000
        name = RCODES.get(rcode, str(rcode))
        fields: dict[str, float | int] = {"query_time_ms": ms, "result_code": SUCCESS, "rcode_value": rcode}
        what = f"{check.record_type} {check.domain}"
        if rcode != 0:
            return Status.MISMATCH, f"{what}: {name} in {ms:.1f} ms", fields, name
        if not answers:
            return Status.MISMATCH, f"{what}: no record (answered in {ms:.1f} ms)", fields, name
        if check.expect is not None and check.expect not in answers:
            return (Status.MISMATCH, f"{what}: expected {check.expect}, got {', '.join(answers[:4])}",
                    fields, name)
        return Status.OK, f"{what} = {', '.join(answers[:4])} in {ms:.1f} ms", fields, name

    async def probe_many(self, devices: Sequence[Device], check: DnsCheck, emit: Any) -> None:
        """Fan out under the concurrency cap."""

        async def one(device: Device) -> None:
            async with self._limit:
                emit(await self.probe(device, check))

        await asyncio.gather(*(one(d) for d in devices))

    async def close(self) -> None:
        """Nothing shared to release: each query has its own socket."""


KINDS = (ProbeKind("dns", DnsCheck, "netmon.kinds.dns:DnsProber", "host", "service", what="a DNS resolver"),)
