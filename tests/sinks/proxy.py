"""A small loopback HTTP proxy in front of a real influxd that can misbehave on demand.

It speaks InfluxDB's own wire protocol (POST /write, answers passed through byte for byte), so
the forwarder sees exactly what it would behind a sick reverse proxy or load balancer:
- `refuse_until`: every write answered `400 {"error": ...}` until that monotonic time;
- `refuse_if`: a write whose body matches is answered 400 (a proxy rule, a WAF, a limit);
- `delay_s`: each write held this long before it is passed on (a slow link);
- `hook`: awaited first with each write's body; it may hold the write (until the test lets it
  go) and returns a status to answer with instead of passing it on, or None to go on.
It counts the writes it holds at once (`active`, `max_active`): how many batches were in flight.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web


@dataclass
class Proxy:
    """Runs in the test's event loop; `await start()`, then point an output at `url`."""

    target: str
    refuse_until: float = 0.0
    refuse_if: Callable[[bytes], bool] | None = None
    message: str = "upstream write failed: backend busy"
    delay_s: float = 0.0
    hook: Callable[[bytes], Awaitable[int | None]] | None = None
    url: str = ""
    active: int = 0
    max_active: int = 0
    upstream: list[int] = field(default_factory=list)
    """The status influxd answered to each write passed on, in the order the answers came."""
    refused: int = 0
    passed: int = 0
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None

    async def start(self) -> str:
        """Listen on a free loopback port; returns the URL."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/write", self._write)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self._session = aiohttp.ClientSession()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.url

    async def stop(self) -> None:
        """Close the listener and the upstream session."""
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _write(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            return await self._answer(request, body)
        finally:
            self.active -= 1

    async def _answer(self, request: web.Request, body: bytes) -> web.Response:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        status = None if self.hook is None else await self.hook(body)
        if status is not None:
            self.refused += 1
            return web.json_response({"error": self.message}, status=status)
        if time.monotonic() < self.refuse_until or (self.refuse_if is not None and self.refuse_if(body)):
            self.refused += 1
            return web.json_response({"error": self.message}, status=400)
        self.passed += 1
        assert self._session is not None
        async with self._session.post(f"{self.target}/write", params=dict(request.query), data=body,
                                      headers={"Content-Type": "text/plain; charset=utf-8"}) as r:
            self.upstream.append(r.status)
            return web.Response(status=r.status, body=await r.read(),
                                content_type=r.headers.get("Content-Type", "application/json").split(";")[0])
