"""HTTP transports for one InfluxDB output: v1 `/write` and v2 `/api/v2/write`, both plain POSTs (http.client).

A transport sends one body and classifies the answer; it never retries (the forwarder does,
forever, because its durability layer is the store, not the client library).
"""

from __future__ import annotations

import asyncio
import base64
import enum
import gzip
import http.client
import logging
import ssl
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from netmon.config.schema import InfluxOutput
from netmon.sinks.lineproto import PRECISION

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
    """POST /write?db=&rp=&precision=ms with HTTP basic auth (InfluxDB 1.x), through http.client.

    Each request runs in a worker thread on a kept-alive connection. Not aiohttp: for a batch of
    ~1.6 MB its path copied the body twice more (headers joined to it, then the unsent rest into
    the transport's buffer), ~2-3 µs of CPU a point, where http.client hands the body to the
    kernel as it is (issue 21: forwarding must cost less than InfluxDB's raw POST path).
    """

    def __init__(self, output: InfluxOutput) -> None:
        self.output = output
        parts = urllib.parse.urlsplit(output.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        params = {"db": output.database or "", "precision": PRECISION}
        if output.retention_policy:
            params["rp"] = output.retention_policy
        self.path = parts.path.rstrip("/") + "/write?" + urllib.parse.urlencode(params)
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._closed = False
        # Its own threads, not asyncio's shared default pool: a hung InfluxDB holds a post for up to
        # `timeout` per socket operation, and must not queue the forwarder's reads or the notifier behind it.
        # One per batch in flight, and one for the self-monitoring point sent beside the stream.
        self._pool = ThreadPoolExecutor(max_workers=output.max_in_flight + 1, thread_name_prefix="influx-post")

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
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, self._post, body)
        except (OSError, http.client.HTTPException) as exc:  # TimeoutError is an OSError
            return Answer(Outcome.RETRY, 0, error_text(exc, self.output.timeout))
        except ValueError as exc:  # a header http.client cannot encode (e.g. a non-Latin-1 token)
            return Answer(Outcome.RETRY, 0, f"cannot send the request: {exc}")
        except RuntimeError as exc:  # closed: the pool takes no more work
            return Answer(Outcome.RETRY, 0, f"the output is closed: {exc}")

    def _post(self, body: bytes) -> Answer:
        # Compressed here, in the worker thread: a few ms a batch that must not hold up the event loop.
        data = gzip.compress(body, 1) if self.output.gzip else body
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is not None:
            try:
                return self._exchange(conn, data)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                pass  # the server closed the idle connection: one fresh attempt, as any client does
        return self._exchange(self._connect(), data)

    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self.output.timeout,
                                               context=ssl.create_default_context())
        return http.client.HTTPConnection(self._host, self._port, timeout=self.output.timeout)

    def _exchange(self, conn: http.client.HTTPConnection, data: bytes) -> Answer:
        if conn.sock is None:
            try:
                conn.connect()
            except TimeoutError as exc:
                raise TimeoutError(f"no connection within {self.output.timeout:g} s") from exc
        try:
            conn.request("POST", self.path, body=data, headers=self._headers())
            response = conn.getresponse()
            text = response.read().decode(errors="replace")
        except BaseException:
            conn.close()
            raise
        if response.will_close or self._closed:
            conn.close()
        else:
            with self._lock:
                self._idle.append(conn)
        return classify(response.status, text.strip())

    async def close(self) -> None:
        """Close the idle connections (one in use is closed when its request ends)."""
        self._closed = True
        self._pool.shutdown(wait=False)
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class V2Transport(V1Transport):
    """POST /api/v2/write?org=&bucket=&precision=ms with `Authorization: Token` (InfluxDB 2.x, 3.x, Cloud, 1.8+).

    A plain POST on v1's kept-alive http.client connections, not influxdb-client: netmon writes its own line protocol,
    batches from its store and retries by its own rule (forever, from the cursor), so the client's
    Point classes, batching and retries went unused; what it did for netmon was one POST, for which
    it brought a second HTTP stack (urllib3, reactivex) into the agent. Its answer classification
    is the same as v1's: the status and the server's words.
    """

    def __init__(self, output: InfluxOutput) -> None:
        super().__init__(output)
        params = {"org": output.org or "-", "bucket": output.bucket or "", "precision": PRECISION}
        base = urllib.parse.urlsplit(output.url).path.rstrip("/")
        self.path = base + "/api/v2/write?" + urllib.parse.urlencode(params)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.output.gzip:
            headers["Content-Encoding"] = "gzip"
        if self.output.token:
            headers["Authorization"] = f"Token {self.output.token.reveal()}"
        return headers


def error_text(exc: BaseException, timeout_s: float) -> str:
    """Words for a failed request; never empty (a hung server raises TimeoutError without any)."""
    if isinstance(exc, TimeoutError) and str(exc).strip() in ("", "timed out"):  # asyncio's / a socket's
        return f"no answer within {timeout_s:g} s (the server accepted the connection but did not reply)"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else f"{type(exc).__name__} (no details given)"


def make_transport(output: InfluxOutput) -> Transport:
    """The transport for an output's `api:`."""
    return V1Transport(output) if output.api == "v1" else V2Transport(output)
