"""The forwarder against a real influxd: v1 /write, v2 /api/v2/write, bad points, outages."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from netmon.config.schema import InfluxOutput
from netmon.model import ProbeResult, Sample, Status
from netmon.sinks.batches import TagResolver
from netmon.sinks.influx import Forwarder, dead_letter_counter, dead_letters
from netmon.store import Store
from tests.fixtures.influxd import InfluxServer
from tests.sinks.helpers import AGENT, DEVICES, drain, expected_points, influx_points, make_results

MEASUREMENTS = ("ping", "village_status", "netmon_agent")


def v1_output(server: InfluxServer, **kw) -> InfluxOutput:
    return InfluxOutput.model_validate({"name": "main", "url": server.url, "api": "v1", "database": "netmon",
                                        "batch_size": 100, **kw})


def filled_store(tmp_path: Path, n: int) -> Store:
    store = Store.open(tmp_path / "state")
    store.append(make_results(n))
    return store


def test_v1_round_trip_matches_store_exactly(tmp_path: Path, influxd: InfluxServer) -> None:
    store = filled_store(tmp_path, 1000)
    forwarder = Forwarder(v1_output(influxd), store, TagResolver(AGENT, DEVICES))
    asyncio.run(drain(forwarder, store))
    expected = expected_points(store)
    got = influx_points(influxd, MEASUREMENTS)
    assert len(got) == len(expected) == 1500  # village and agent results carry two points each
    assert set(got) == expected
    villages = influxd.query('SHOW TAG VALUES FROM "ping" WITH KEY = "village"')
    assert villages[0]["values"] == [["village", "Tả Phìn DOMAIN\\user"]]
    communes = influxd.query('SHOW TAG VALUES FROM "ping" WITH KEY = "commune"')
    assert communes[0]["values"] == [["commune", "Sìn Hồ, Huyện=Mường Tè"]]
    assert forwarder.sent_points == 1500


def test_bad_point_is_dead_lettered_and_does_not_block(tmp_path: Path, influxd: InfluxServer) -> None:
    store = Store.open(tmp_path / "state")
    results = make_results(400)
    bad = ProbeResult(DEVICES[0].id, "custom", "snmp", Status.OK, "ok", results[199].ts + 0.5, 0.1,
                      (Sample("custom", {"value": 1.5}),))
    store.append([*results[:200], bad, *results[200:]])
    # Provoke a field type conflict: `custom.value` already exists as a string in this shard.
    assert influxd.write(f'custom value="text" {round(bad.ts * 1000) - 1}')[0] == 204
    forwarder = Forwarder(v1_output(influxd), store, TagResolver(AGENT, DEVICES))
    asyncio.run(drain(forwarder, store))
    letters = dead_letters(store, "main")
    assert len(letters) == 1
    output, seq, line, status, message = letters[0]
    assert (output, seq, status) == ("main", 201, 400) and line.startswith("custom,")
    assert "field type conflict" in message
    assert store.counters()[dead_letter_counter("main")] == 1
    got = influx_points(influxd, MEASUREMENTS)
    assert len(got) == len(expected_points(store)) - 1 == 600
    assert influxd.count("custom", "value") == 1  # only the pre-written string


# ---------------------------------------------------------------- api v2 through a compatibility front


TOKEN = "s3cr3t-token"


async def start_front(target: InfluxServer, seen: list[dict]) -> tuple[web.AppRunner, str]:
    """What InfluxDB 1.8 has built in: /api/v2/write with a Token header, forwarded to /write."""

    async def write(request: web.Request) -> web.Response:
        seen.append({"auth": request.headers.get("Authorization"), "query": dict(request.query),
                     "encoding": request.headers.get("Content-Encoding")})
        if request.headers.get("Authorization") != f"Token {TOKEN}":
            return web.json_response({"code": "unauthorized", "message": "unauthorized access"}, status=401)
        body = await request.read()
        params = {"db": request.query["bucket"], "precision": request.query.get("precision", "ns")}
        # aiohttp has already undone any Content-Encoding: gzip, so the body goes on as plain text.
        async with aiohttp.ClientSession() as s, s.post(f"{target.url}/write", params=params, data=body) as r:
            return web.Response(status=r.status, body=await r.read())

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/api/v2/write", write)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    return runner, f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("gzip", [False, True])
def test_v2_write_api_arrives_in_real_database(tmp_path: Path, influxd: InfluxServer, gzip: bool) -> None:
    store = filled_store(tmp_path, 600)
    seen: list[dict] = []

    async def main() -> None:
        runner, url = await start_front(influxd, seen)
        try:
            output = InfluxOutput.model_validate({"name": "cloud", "url": url, "api": "v2", "org": "it",
                                                  "bucket": "netmon", "token": TOKEN, "batch_size": 250,
                                                  "gzip": gzip})
            await drain(Forwarder(output, store, TagResolver(AGENT, DEVICES)), store)
        finally:
            await runner.cleanup()

    asyncio.run(main())
    assert set(influx_points(influxd, MEASUREMENTS)) == expected_points(store)
    assert seen and all(s["query"] == {"org": "it", "bucket": "netmon", "precision": "ms"} for s in seen)
    assert all(s["encoding"] == ("gzip" if gzip else None) for s in seen)


def test_v2_wrong_token_keeps_results_and_never_advances(tmp_path: Path, influxd: InfluxServer,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    store = filled_store(tmp_path, 50)
    seen: list[dict] = []

    async def main() -> None:
        runner, url = await start_front(influxd, seen)
        output = InfluxOutput.model_validate({"name": "cloud", "url": url, "api": "v2", "org": "it",
                                              "bucket": "netmon", "token": "wrong-token", "max_backoff": 0.2})
        forwarder = Forwarder(output, store, TagResolver(AGENT, DEVICES))
        forwarder.start()
        await asyncio.sleep(2.0)
        await forwarder.stop()
        await runner.cleanup()

    asyncio.run(main())
    assert len(seen) >= 3  # retried, with a backoff capped at 0.2 s
    assert store.cursor("cloud") == 0
    assert influxd.count("ping", "packets_transmitted") == 0
    errors = [r for r in caplog.records if "cannot write" in r.getMessage()]
    assert len(errors) == 1 and "401" in errors[0].getMessage()  # logged once, not per retry
    assert "wrong-token" not in caplog.text


def test_outage_resumes_in_order_without_loss(tmp_path: Path, influxd: InfluxServer) -> None:
    store = filled_store(tmp_path, 400)
    influxd.stop()

    async def main() -> None:
        forwarder = Forwarder(v1_output(influxd, max_backoff=0.5), store, TagResolver(AGENT, DEVICES))
        forwarder.start()
        await asyncio.sleep(1.5)
        assert store.cursor("main") == 0 and forwarder.failing_since is not None
        await asyncio.to_thread(influxd.start)
        await asyncio.sleep(0)
        await drain_running(forwarder, store)

    async def drain_running(forwarder: Forwarder, store: Store) -> None:
        for _ in range(600):
            if store.cursor("main") == store.max_seq():
                break
            await asyncio.sleep(0.05)
        await forwarder.stop()

    asyncio.run(main())
    assert store.cursor("main") == store.max_seq()
    assert len(influx_points(influxd, MEASUREMENTS)) == len(expected_points(store)) == 600
