"""HTTP transports for one InfluxDB output: v1 `/write` and v2 `/api/v2/write`, both plain aiohttp POSTs.

A transport sends one body and classifies the answer; it never retries (the forwarder does,
forever, because its durability layer is the store, not the client library).
"""

from __future__ import annotations

import base64
import enum
import gzip
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from netmon.config.schema import InfluxOutput
from netmon.sinks.lineproto import PRECISION

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    """What the server made of a write."""

    ACKED = "acked"
    REJECTED = "rejected"
    """The data itself was refused (HTTP 400/413): isolate the bad points, never retry as is."""
    RETRY = "retry"
    """Server down, overloaded, misconfigured or unauthorised: keep the data, retry later."""


@dataclass(frozen=True)
class Answer:
    """One write's outcome with the server's words, for logs and the dead-letter table."""

    outcome: Outcome
    status: int
    """HTTP status; 0 when no HTTP answer came (connection refused, timeout)."""
    message: str


def classify(status: int, message: str) -> Answer:
    """Map an HTTP status to what the forwarder should do."""
    if 200 <= status < 300:
        return Answer(Outcome.ACKED, status, message)
    if status in (400, 413, 422):
        return Answer(Outcome.REJECTED, status, message)
    return Answer(Outcome.RETRY, status, message)


def describe_target(output: InfluxOutput) -> str:
    """Where an output writes, safe to log (no credentials)."""
    where = output.database if output.api == "v1" else f"{output.org or '-'}/{output.bucket}"
    return f"{output.url} ({output.api}, {where})"


class Transport(Protocol):
    """Sends one line-protocol body."""

    async def send(self, body: bytes) -> Answer:
        """Write `body`; return the classified answer (never raises for network errors)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class V1Transport:
    """POST /write?db=&rp=&precision=ms with HTTP basic auth (InfluxDB 1.x)."""

    def __init__(self, output: InfluxOutput) -> None:
        self.output = output
        self.url = output.url.rstrip("/") + "/write"
        self.params = {"db": output.database or "", "precision": PRECISION}
        if output.retention_policy:
            self.params["rp"] = output.retention_policy
        self._session: aiohttp.ClientSession | None = None  # aiohttp is imported on first send: an
        # agent without outputs does not carry its ~10 MB

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.output.gzip:
            headers["Content-Encoding"] = "gzip"
        if self.output.username:
            password = self.output.password.reveal() if self.output.password else ""
            token = base64.b64encode(f"{self.output.username}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        return headers

    async def send(self, body: bytes) -> Answer:
        """Write `body` through /write."""
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.output.timeout))
        data = gzip.compress(body, 1) if self.output.gzip else body
        try:
            async with self._session.post(self.url, params=self.params, data=data,
                                          headers=self._headers()) as response:
                text = await response.text()
                return classify(response.status, text.strip())
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return Answer(Outcome.RETRY, 0, error_text(exc, self.output.timeout))

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


class V2Transport(V1Transport):
    """POST /api/v2/write?org=&bucket=&precision=ms with `Authorization: Token` (InfluxDB 2.x, 3.x, Cloud, 1.8+).

    A plain POST through aiohttp, like v1, not influxdb-client: netmon writes its own line protocol,
    batches from its store and retries by its own rule (forever, from the cursor), so the client's
    Point classes, batching and retries went unused; what it did for netmon was one POST, for which
    it brought a second HTTP stack (urllib3, reactivex) into the agent. Its answer classification
    is the same as v1's: the status and the server's words.
    """

    def __init__(self, output: InfluxOutput) -> None:
        super().__init__(output)
        self.url = output.url.rstrip("/") + "/api/v2/write"
        self.params = {"org": output.org or "-", "bucket": output.bucket or "", "precision": PRECISION}

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.output.gzip:
            headers["Content-Encoding"] = "gzip"
        if self.output.token:
            headers["Authorization"] = f"Token {self.output.token.reveal()}"
        return headers


def error_text(exc: BaseException, timeout_s: float) -> str:
    """Words for a failed request; never empty (a hung server raises TimeoutError without any)."""
    if isinstance(exc, TimeoutError) and not str(exc).strip():
        return f"no answer within {timeout_s:g} s (the server accepted the connection but did not reply)"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else f"{type(exc).__name__} (no details given)"


def make_transport(output: InfluxOutput) -> Transport:
    """The transport for an output's `api:`."""
    return V1Transport(output) if output.api == "v1" else V2Transport(output)
