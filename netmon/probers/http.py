"""HTTP(S) prober: status, body, timings and certificate expiry of a URL, through one shared session.

Writes Telegraf's `http_response` measurement (tags `server, method, status_code, result`;
fields `response_time` float s, `http_response_code`, `content_length`, `result_code` int), plus
netmon's own float fields: `tls_cert_expiry_days` and the phase timings `dns_lookup_s`,
`tcp_connect_s`, `tls_handshake_s`, `first_byte_s` (of the last hop when redirects are followed;
omitted when a phase did not happen, e.g. no DNS for an IP address).

`response_time` is, as in Telegraf, the time until the response headers arrived.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import enum
import functools
import logging
import re
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
from cryptography import x509

from netmon.config.schema import HttpCheck
from netmon.logs import OncePerKind
from netmon.model import Device, ProbeResult, Sample, Status
from netmon.probers.base import ProberBase, ProberContext, failed
from netmon.probers.tcp import os_error_status

log = logging.getLogger(__name__)
_bugs = OncePerKind(log)

MEASUREMENT = "http_response"
USER_AGENT = "netmon (rural connectivity monitor)"
MATCH_BYTES = 1 << 20
"""Only the first MiB of a body is searched for body_contains / body_regex."""
MAX_BODY_BYTES = 8 << 20
"""Stop reading past this: a probe must not pull a whole download over a thin link every minute."""


class HttpResult(enum.IntEnum):
    """Telegraf's http_response `result_code` values; the name is the `result` tag."""

    SUCCESS = 0
    RESPONSE_STRING_MISMATCH = 1
    BODY_READ_ERROR = 2
    CONNECTION_FAILED = 3
    TIMEOUT = 4
    DNS_ERROR = 5
    RESPONSE_STATUS_CODE_MISMATCH = 6

    @property
    def tag(self) -> str:
        """The `result` tag value Telegraf writes for this code."""
        return self.name.lower()


@dataclass
class _Timings:
    """perf_counter marks of one probe, filled by trace callbacks and the TLS object."""

    conn_start: float | None = None
    conn_end: float | None = None
    dns_start: float | None = None
    dns_end: float | None = None
    headers_sent: float | None = None
    headers_received: float | None = None
    tls_object: ssl.SSLObject | None = None
    tls_start: float | None = None
    tls_end: float | None = None
    cert_der: bytes | None = None

    def phase_fields(self) -> dict[str, float]:
        """The phases that happened on the last connection, in seconds."""
        out: dict[str, float] = {}
        if self.dns_start is not None and self.dns_end is not None:
            out["dns_lookup_s"] = self.dns_end - self.dns_start
        tls_here = (self.tls_start is not None and self.conn_start is not None
                    and self.tls_start >= self.conn_start)
        if self.conn_start is not None and self.conn_end is not None:
            tcp_end = self.tls_start if tls_here else self.conn_end
            out["tcp_connect_s"] = max(0.0, tcp_end - (self.dns_end or self.conn_start))  # type: ignore[operator]
        if tls_here and self.tls_end is not None:
            out["tls_handshake_s"] = self.tls_end - self.tls_start  # type: ignore[operator]
        if self.headers_sent is not None and self.headers_received is not None:
            out["first_byte_s"] = self.headers_received - self.headers_sent
        return {k: float(v) for k, v in out.items()}


# aiohttp does not trace the TLS handshake, so the SSL object reports it to the probe that opened it.
# The handshake runs in loop callbacks that inherit the probing task's context, hence a ContextVar.
_CURRENT: contextvars.ContextVar[_Timings | None] = contextvars.ContextVar("netmon_http", default=None)


class _TimedSSLObject(ssl.SSLObject):
    """An SSLObject that records its handshake time and peer certificate for the current probe."""

    def do_handshake(self) -> None:
        """Run the handshake step; note when the first step started and when the last one ended."""
        timings = _CURRENT.get()
        if timings is not None and timings.tls_object is not self:
            timings.tls_object, timings.tls_start = self, time.perf_counter()
            timings.tls_end = timings.cert_der = None
        super().do_handshake()
        if timings is not None and timings.tls_object is self:
            timings.tls_end = time.perf_counter()
            timings.cert_der = self.getpeercert(binary_form=True)


@dataclass
class _Outcome:
    status: Status
    result: HttpResult
    reason: str
    status_code: int | None = None
    fields: dict[str, int | float] = field(default_factory=dict)


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def cert_expiry_days(der: bytes, now: dt.datetime | None = None) -> float:
    """Days (fractional, negative once expired) until a DER certificate's notAfter."""
    cert = x509.load_der_x509_certificate(der)
    now = now or dt.datetime.now(dt.UTC)
    return (cert.not_valid_after_utc - now).total_seconds() / 86400.0


class HttpProber(ProberBase):
    """Probes URLs with one aiohttp ClientSession, created in the running loop on first use."""

    name = "http"

    def __init__(self, context: ProberContext, resolver: aiohttp.abc.AbstractResolver | None = None) -> None:
        super().__init__(context)
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._resolver = resolver
        self._ssl: dict[tuple[bool, str | None], ssl.SSLContext] = {}
        self._warned_insecure: set[str] = set()

    async def probe(self, device: Device, check: HttpCheck) -> ProbeResult:
        """GET/HEAD/POST the device's URL and judge status and body; never raises."""
        started, t0 = time.time(), time.monotonic()
        if not device.url:
            return failed(device, check, self.name, Status.ERROR, "no url: on the device", started, t0)
        try:
            outcome = await self._fetch(device.url, check)
        except Exception as exc:  # a bug here must not stop the other targets of the round
            _bugs.exception(check.name, exc, "http probe of %s raised", device.url)
            outcome = _Outcome(Status.ERROR, HttpResult.CONNECTION_FAILED, f"internal error: {exc!r}")
        if not check.verify_tls:
            outcome.reason += " (TLS verification off)"
        tags = {"server": device.url, "method": check.method, "result": outcome.result.tag}
        if outcome.status_code is not None:
            tags["status_code"] = str(outcome.status_code)
        fields = {"result_code": int(outcome.result), **outcome.fields}
        return ProbeResult(device.id, check.name, self.name, outcome.status, outcome.reason, started,
                           time.monotonic() - t0, (Sample(MEASUREMENT, fields, tags),))

    async def close(self) -> None:
        """Close the shared session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _session_now(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            # A session belongs to the loop it was made in; a one-shot caller may bring a new loop.
            if self._session is not None and not self._session.closed:
                log.debug("http prober: new event loop, the old loop's session is left behind")
            self._session_loop = loop
            trace = aiohttp.TraceConfig()
            trace.on_connection_create_start.append(_mark("conn_start"))
            trace.on_connection_create_end.append(_mark("conn_end"))
            trace.on_dns_resolvehost_start.append(_mark("dns_start"))
            trace.on_dns_resolvehost_end.append(_mark("dns_end"))
            trace.on_request_headers_sent.append(_mark("headers_sent"))
            # force_close: every probe opens its own connection, so connect and TLS are measured each
            # time and an idle pool of thousands of sockets is never held open.
            connector = aiohttp.TCPConnector(limit=self.context.scheduler.concurrency, force_close=True,
                                             resolver=self._resolver)
            self._session = aiohttp.ClientSession(
                connector=connector, trace_configs=[trace], cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": USER_AGENT}, timeout=aiohttp.ClientTimeout(total=None))
        return self._session

    def _ssl_context(self, check: HttpCheck) -> ssl.SSLContext:
        key = (check.verify_tls, check.ca_bundle)
        if key not in self._ssl:
            if not check.verify_tls:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            elif check.ca_bundle:
                path = Path(self.context.config_dir) / check.ca_bundle
                ctx = ssl.create_default_context(cafile=str(path))
            else:
                ctx = ssl.create_default_context()
            ctx.sslobject_class = _TimedSSLObject
            self._ssl[key] = ctx
        return self._ssl[key]

    async def _fetch(self, url: str, check: HttpCheck) -> _Outcome:
        try:
            ssl_ctx = self._ssl_context(check)
        except (OSError, ssl.SSLError) as exc:
            return _Outcome(Status.ERROR, HttpResult.CONNECTION_FAILED,
                            f"CA bundle {check.ca_bundle!r} (relative to {self.context.config_dir}) "
                            f"could not be loaded: {exc}")
        if not check.verify_tls and url not in self._warned_insecure:
            self._warned_insecure.add(url)
            log.warning("%s: TLS verification is off (verify_tls: false); certificate not checked", url)
        timings = _Timings()
        token = _CURRENT.set(timings)
        t0 = time.perf_counter()
        outcome = _Outcome(Status.ERROR, HttpResult.CONNECTION_FAILED, "")
        try:
            async with asyncio.timeout(check.timeout):
                await self._exchange(url, check, ssl_ctx, timings, outcome, t0)
        except TimeoutError:
            outcome.status, outcome.result = Status.TIMEOUT, HttpResult.TIMEOUT
            outcome.reason = (f"no response within {check.timeout:g} s" if outcome.status_code is None
                              else f"HTTP {outcome.status_code}, but the body did not arrive within "
                                   f"{check.timeout:g} s")
        except aiohttp.ClientError as exc:
            outcome.status, outcome.result, outcome.reason = _classify(exc, outcome.status_code is not None)
        finally:
            _CURRENT.reset(token)
        outcome.fields.update(timings.phase_fields())
        if timings.cert_der is not None:
            outcome.fields["tls_cert_expiry_days"] = float(cert_expiry_days(timings.cert_der))
        return outcome

    async def _exchange(self, url: str, check: HttpCheck, ssl_ctx: ssl.SSLContext, timings: _Timings,
                        outcome: _Outcome, t0: float) -> None:
        async with self._session_now().request(check.method, url, ssl=ssl_ctx,
                                               allow_redirects=check.follow_redirects,
                                               trace_request_ctx=timings) as resp:
            timings.headers_received = time.perf_counter()
            outcome.status_code = resp.status
            outcome.fields["response_time"] = float(timings.headers_received - t0)
            outcome.fields["http_response_code"] = int(resp.status)
            body, length = await _read_body(resp)
            outcome.fields["content_length"] = int(length)
            text = body.decode(_charset(resp), errors="replace")
        _judge(check, resp.status, text, outcome)


def _judge(check: HttpCheck, code: int, text: str, outcome: _Outcome) -> None:
    """Set status, result and reason from the status code and the body, Telegraf's precedence."""
    status_ok = code in check.expect_status
    outcome.fields["response_status_code_match"] = int(status_ok)
    string_ok, what = True, ""
    if check.body_contains is not None:
        string_ok, what = check.body_contains in text, f"contain {check.body_contains!r}"
    if check.body_regex is not None and string_ok:
        try:
            string_ok = _compiled(check.body_regex).search(text) is not None
            what = f"match /{check.body_regex}/"
        except re.error as exc:
            outcome.status, outcome.result = Status.ERROR, HttpResult.RESPONSE_STRING_MISMATCH
            outcome.reason = f"body_regex {check.body_regex!r} is not a valid regular expression: {exc}"
            return
    if check.body_contains is not None or check.body_regex is not None:
        outcome.fields["response_string_match"] = int(string_ok)
    ms = outcome.fields["response_time"] * 1000
    if not status_ok:
        expected = "/".join(str(c) for c in check.expect_status)
        outcome.status, outcome.result = Status.MISMATCH, HttpResult.RESPONSE_STATUS_CODE_MISMATCH
        outcome.reason = f"HTTP {code}, expected {expected}"
    elif not string_ok:
        outcome.status, outcome.result = Status.MISMATCH, HttpResult.RESPONSE_STRING_MISMATCH
        outcome.reason = f"HTTP {code} but the body does not {what}"
    else:
        outcome.status, outcome.result = Status.OK, HttpResult.SUCCESS
        outcome.reason = f"HTTP {code} in {ms:.0f} ms"


def _classify(exc: aiohttp.ClientError, got_headers: bool) -> tuple[Status, HttpResult, str]:
    """Turn an aiohttp failure into a status, Telegraf's result and a reason naming the cause."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert_error = exc.certificate_error
        problem = getattr(cert_error, "verify_message", None) or str(cert_error)
        return Status.ERROR, HttpResult.CONNECTION_FAILED, f"TLS certificate not trusted: {problem}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        cause = exc.os_error.strerror or exc.os_error
        return Status.ERROR, HttpResult.DNS_ERROR, f"DNS lookup of {exc.host} failed: {cause}"
    if isinstance(exc, aiohttp.ClientSSLError):
        cause = getattr(exc, "os_error", exc)
        return Status.ERROR, HttpResult.CONNECTION_FAILED, f"TLS handshake failed: {cause}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        status, reason = os_error_status(exc.os_error)
        return status, HttpResult.CONNECTION_FAILED, f"{exc.host}:{exc.port}: {reason}"
    if isinstance(exc, aiohttp.TooManyRedirects):
        return Status.ERROR, HttpResult.CONNECTION_FAILED, f"too many redirects ({len(exc.history)})"
    if got_headers:
        return Status.ERROR, HttpResult.BODY_READ_ERROR, f"reading the body failed: {exc!r}"
    return Status.ERROR, HttpResult.CONNECTION_FAILED, f"request failed: {exc!r}"


async def _read_body(resp: aiohttp.ClientResponse) -> tuple[bytes, int]:
    """Count up to MAX_BODY_BYTES of the body and keep the first MATCH_BYTES for matching."""
    kept = bytearray()
    total = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        total += len(chunk)
        if len(kept) < MATCH_BYTES:
            kept += chunk[: MATCH_BYTES - len(kept)]
        if total >= MAX_BODY_BYTES:
            break
    return bytes(kept), total


def _charset(resp: aiohttp.ClientResponse) -> str:
    charset = resp.charset or "utf-8"
    try:
        "".encode(charset)
    except LookupError:
        log.debug("unknown charset %r from %s; decoding as UTF-8", charset, resp.url)
        return "utf-8"
    return charset


def _mark(attr: str) -> Any:
    """A trace callback that stamps `attr` on the probe's _Timings (last hop wins)."""

    async def callback(session: aiohttp.ClientSession, ctx: SimpleNamespace, params: Any) -> None:
        timings = ctx.trace_request_ctx
        if isinstance(timings, _Timings):
            setattr(timings, attr, time.perf_counter())
            if attr == "conn_start":
                timings.dns_start = timings.dns_end = None

    return callback
