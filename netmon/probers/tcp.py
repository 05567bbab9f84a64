"""TCP prober: connect time to host:port, optionally send a string and expect one back.

Writes Telegraf's `net_response` measurement (tags `server, port, protocol, result`; fields
`response_time` float seconds and `result_code` int), so dashboards built on Telegraf keep working.
"""

from __future__ import annotations

import asyncio
import enum
import errno
import logging
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from netmon.config.schema import TcpCheck
from netmon.logs import OncePerKind
from netmon.model import Device, ProbeResult, Sample, Status
from netmon.probers.base import ProberBase, failed

log = logging.getLogger(__name__)
_bugs = OncePerKind(log)

MEASUREMENT = "net_response"
MAX_READ_BYTES = 4096
"""A banner longer than this without the expected string is a mismatch, not a reason to keep reading."""

_UNREACHABLE_ERRNOS = frozenset({errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN})


class TcpResult(enum.IntEnum):
    """Telegraf's net_response `result_code` values; the name is the `result` tag."""

    SUCCESS = 0
    TIMEOUT = 1
    CONNECTION_FAILED = 2
    READ_FAILED = 3
    STRING_MISMATCH = 4

    @property
    def tag(self) -> str:
        """The `result` tag value Telegraf writes for this code."""
        return self.name.lower()


def os_error_status(exc: OSError) -> tuple[Status, str]:
    """Map a failed connect to a status and a few words a technician understands."""
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return Status.REFUSED, "connection refused (nothing listens on that port, or a firewall rejects it)"
    if exc.errno in _UNREACHABLE_ERRNOS:
        return Status.UNREACHABLE, f"unreachable ({exc.strerror or exc})"
    if isinstance(exc, socket.gaierror):
        return Status.ERROR, f"DNS lookup failed ({exc.strerror or exc})"
    return Status.ERROR, f"connection failed ({exc.strerror or exc})"


def target_host(device: Device) -> str | None:
    """The host to connect to: the device's host, else the host of its URL."""
    if device.host:
        return device.host
    if device.url:
        return urlsplit(device.url).hostname
    return None


@dataclass
class _Outcome:
    status: Status
    result: TcpResult
    reason: str
    response_time_s: float | None = None


class TcpProber(ProberBase):
    """Connects to host:port with asyncio streams; one connection per probe, nothing shared."""

    name = "tcp"

    async def probe(self, device: Device, check: TcpCheck) -> ProbeResult:
        """Connect, optionally send `check.send` and wait for `check.expect`; never raises."""
        started, t0 = time.time(), time.monotonic()
        host, port = target_host(device), check.port or device.port
        if not host or not port:
            missing = "host" if not host else "port"
            return failed(device, check, self.name, Status.ERROR,
                          f"no {missing} to connect to; set {missing}: on the device or the check",
                          started, t0)
        try:
            outcome = await self._exchange(host, port, check)
        except Exception as exc:  # a bug here must not stop the other targets of the round
            _bugs.exception(check.name, exc, "tcp probe of %s:%s raised", host, port)
            outcome = _Outcome(Status.ERROR, TcpResult.CONNECTION_FAILED, f"internal error: {exc!r}")
        fields: dict[str, float | int] = {"result_code": int(outcome.result)}
        if outcome.response_time_s is not None:
            fields["response_time"] = float(outcome.response_time_s)
        tags = {"server": host, "port": str(port), "protocol": "tcp", "result": outcome.result.tag}
        return ProbeResult(device.id, check.name, self.name, outcome.status,
                           f"{host}:{port}: {outcome.reason}", started, time.monotonic() - t0,
                           (Sample(MEASUREMENT, fields, tags),))

    async def _exchange(self, host: str, port: int, check: TcpCheck) -> _Outcome:
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(check.timeout):
                reader, writer = await asyncio.open_connection(host, port)
        except TimeoutError:
            return _Outcome(Status.TIMEOUT, TcpResult.TIMEOUT,
                            f"no answer to connect within {check.timeout:g} s")
        except OSError as exc:
            status, reason = os_error_status(exc)
            return _Outcome(status, TcpResult.CONNECTION_FAILED, reason)
        connect_s = time.perf_counter() - t0
        try:
            if not check.send and not check.expect:
                return _Outcome(Status.OK, TcpResult.SUCCESS, f"connected in {connect_s * 1000:.1f} ms",
                                connect_s)
            return await self._converse(reader, writer, check, t0, connect_s)
        finally:
            await _close(writer)

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        check: TcpCheck, t0: float, connect_s: float) -> _Outcome:
        response_s = connect_s  # until a reply arrives, the connect time is what was measured
        try:
            async with asyncio.timeout(check.timeout):
                if check.send:
                    writer.write(check.send.encode())
                    await writer.drain()
                    response_s = time.perf_counter() - t0
                if not check.expect:
                    return _Outcome(Status.OK, TcpResult.SUCCESS, "connected and sent", response_s)
                data = await _read_until(reader, check.expect.encode())
        except TimeoutError:
            return _Outcome(Status.TIMEOUT, TcpResult.READ_FAILED,
                            f"connected, but no {check.expect!r} within {check.timeout:g} s", response_s)
        except OSError as exc:
            return _Outcome(Status.ERROR, TcpResult.READ_FAILED, f"connected, then {exc.strerror or exc}",
                            response_s)
        response_s = time.perf_counter() - t0
        if check.expect.encode() in data:
            return _Outcome(Status.OK, TcpResult.SUCCESS, f"{check.expect!r} in {response_s * 1000:.1f} ms",
                            response_s)
        if not data:
            return _Outcome(Status.MISMATCH, TcpResult.READ_FAILED,
                            f"connection closed before {check.expect!r} arrived", response_s)
        return _Outcome(Status.MISMATCH, TcpResult.STRING_MISMATCH,
                        f"expected {check.expect!r}, got {_preview(data)!r}", response_s)


async def _read_until(reader: asyncio.StreamReader, expect: bytes) -> bytes:
    """Read until `expect` shows up, a line ends without it, the peer closes, or the cap is reached."""
    data = b""
    while len(data) < MAX_READ_BYTES:
        chunk = await reader.read(MAX_READ_BYTES - len(data))
        if not chunk:
            break
        data += chunk
        # Like Telegraf, one full line is the answer; unlike it, a match earlier in the stream counts.
        if expect in data or b"\n" in data:
            break
    return data


def _preview(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace").strip()
    return text[:60] + ("…" if len(text) > 60 else "")


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        async with asyncio.timeout(1.0):
            await writer.wait_closed()
    except (OSError, TimeoutError) as exc:
        # The probe already has its answer; a peer that resets or stalls on close changes nothing.
        log.debug("closing probe connection: %r", exc)
