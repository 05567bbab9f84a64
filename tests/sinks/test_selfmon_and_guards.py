"""Self-monitoring points, backoff bounds, and the guard against a server that refuses everything."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from types import SimpleNamespace

from aiohttp import web

from netmon.config.schema import InfluxOutput
from netmon.daemon import Agent
from netmon.sinks.batches import TagResolver
from netmon.sinks.health import State
from netmon.sinks.influx import Forwarder, backoff_s, dead_letters
from netmon.sinks.selfmon import SelfMonitor
from netmon.store import Store
from netmon.writer import RateMeter, ResultWriter
from tests.fixtures.influxd import InfluxServer
from tests.sinks.helpers import AGENT, DEVICES, drain, make_results


def test_backoff_grows_with_jitter_and_respects_the_ceiling() -> None:
    delays = [backoff_s(n, 30.0) for n in range(12)]
    assert 0.5 <= delays[0] <= 1.0 and 4.0 <= delays[3] <= 8.0
    assert all(15.0 <= d <= 30.0 for d in delays[6:])
    assert len({round(backoff_s(8, 30.0), 6) for _ in range(20)}) > 1  # jittered


def test_selfmon_reports_backlog_and_is_forwarded(tmp_path: Path, influxd: InfluxServer) -> None:
    store = Store.open(tmp_path / "state")
    store.append(make_results(40))
    store.add_counter("dropped_unsent", 7)
    output = InfluxOutput.model_validate({"name": "main", "url": influxd.url, "api": "v1", "database": "netmon"})

    async def main() -> None:
        writer = ResultWriter(store)
        forwarder = Forwarder(output, store, TagResolver(AGENT, DEVICES))
        agent = Agent(SimpleNamespace(devices=DEVICES), store, writer, SimpleNamespace(lag_s=0.25), RateMeter())
        monitor = SelfMonitor(agent.config, SimpleNamespace(forwarders={"main": forwarder}), interval_s=0.1)
        await monitor.start(agent)
        result = await monitor.measure()
        await monitor.stop()
        own, per_output = result.samples
        assert own.fields == {"results_per_s": 0.0, "scheduler_lag_s": 0.25, "targets": 2, "dropped_unsent": 7,
                              "refused_values": 0}
        assert per_output.tags == {"output": "main"}
        assert per_output.fields["backlog_results"] == 40 and per_output.fields["backlog_points"] == 60
        assert isinstance(per_output.fields["oldest_unsent_age_s"], float)
        assert per_output.fields["oldest_unsent_age_s"] > time.time() - 1_700_000_001
        writer.emit(result)
        writer.flush()
        await drain(forwarder, store)

    asyncio.run(main())
    rows = influxd.rows('SELECT backlog_points, oldest_unsent_age_s FROM netmon_agent WHERE "output" = \'main\''
                        ' AND time > now() - 1h')
    assert len(rows) == 1 and rows[0]["backlog_points"] == 60


def test_server_refusing_everything_sets_nothing_aside(tmp_path: Path, caplog) -> None:
    store = Store.open(tmp_path / "state")
    store.append(make_results(200))
    calls = []

    async def refuse(request: web.Request) -> web.Response:
        calls.append(len(await request.read()))
        return web.json_response({"error": "broken proxy"}, status=400)

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/write", refuse)
        runner = web.AppRunner(app)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock).start()
        output = InfluxOutput.model_validate({"name": "main", "url": f"http://127.0.0.1:{sock.getsockname()[1]}",
                                              "api": "v1", "database": "netmon", "max_backoff": 0.2})
        forwarder = Forwarder(output, store, TagResolver(AGENT, DEVICES))
        forwarder.start()
        await asyncio.sleep(3.0)
        await forwarder.stop()
        await runner.cleanup()

        return forwarder

    forwarder = asyncio.run(main())
    assert dead_letters(store) == []  # the canary was refused too: a server fault, not data
    assert store.cursor("main") == 0
    assert len(calls) >= 6  # it kept trying, with backoff
    assert forwarder.health.state is State.SERVER_FAULT
    faults = [r for r in caplog.records if "server or proxy fault" in r.getMessage()]
    assert len(faults) == 1  # said once, not per retry
    assert store.state()["output:main"]["state"] == "server_fault"
