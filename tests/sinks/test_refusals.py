"""HTTP 400 that is not the data's fault, dead letters that come back, and a stall that shows.

A loopback proxy (tests/sinks/proxy.py) stands in front of a real influxd and answers 400 on
demand; everything it lets through is written by influxd itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from netmon import cli
from netmon.analysis.status_view import read_header
from netmon.config.schema import InfluxOutput
from netmon.daemon import Agent
from netmon.sinks import deadletters
from netmon.sinks.batches import TagResolver
from netmon.sinks.health import State
from netmon.sinks.influx import Forwarder
from netmon.sinks.selfmon import SelfMonitor
from netmon.store import Store
from netmon.ui.status_render import output_health_text
from netmon.writer import RateMeter, ResultWriter
from tests.fixtures.influxd import InfluxServer
from tests.sinks.helpers import AGENT, DEVICES, expected_points, influx_points, make_results
from tests.sinks.proxy import Proxy

MEASUREMENTS = ("ping", "village_status", "netmon_agent")


def output(url: str, **kw) -> InfluxOutput:
    return InfluxOutput.model_validate({"name": "main", "url": url, "api": "v1", "database": "netmon",
                                        "batch_size": 100, "max_backoff": 0.5, **kw})


async def until(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def test_a_400_burst_is_a_server_fault_and_loses_nothing(tmp_path: Path, influxd: InfluxServer,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    store = Store.open(tmp_path / "state")
    store.append(make_results(400))
    seen_states: set[State] = set()

    async def main() -> None:
        proxy = Proxy(influxd.url, refuse_until=time.monotonic() + 3.0)
        forwarder = Forwarder(output(await proxy.start()), store, TagResolver(AGENT, DEVICES))
        forwarder.start()
        try:
            for i in range(30):  # results keep coming during the burst
                store.append(make_results(4, t0=1_700_001_000.0 + i * 10))
                forwarder.wakeup.set()
                seen_states.add(forwarder.health.state)
                await asyncio.sleep(0.1)
            await until(lambda: store.cursor("main") == store.max_seq(), 60, "the catch-up")
        finally:
            await forwarder.stop()
            await proxy.stop()
        assert proxy.refused >= 3

    with caplog.at_level(logging.INFO):
        asyncio.run(main())
    assert State.SERVER_FAULT in seen_states
    assert deadletters.letters(store) == []  # recognised before any point was set aside
    assert set(influx_points(influxd, MEASUREMENTS)) == expected_points(store)
    assert len(expected_points(store)) == 600 + 180
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("netmon.sinks")]
    assert len([m for m in messages if "server or proxy fault" in m]) == 1
    assert len([m for m in messages if "writing again" in m]) == 1


def test_points_refused_for_a_while_are_replayed_automatically(tmp_path: Path, influxd: InfluxServer) -> None:
    """A proxy rule refuses village_status for 3 s: those points are set aside, then come back."""
    store = Store.open(tmp_path / "state")
    store.append(make_results(200))
    window_end = time.monotonic() + 3.0

    async def main() -> int:
        proxy = Proxy(influxd.url, message="request blocked by rule 942100",
                      refuse_if=lambda body: b"village_status" in body and time.monotonic() < window_end)
        forwarder = Forwarder(output(await proxy.start()), store, TagResolver(AGENT, DEVICES))
        forwarder.first_replay_s = forwarder.replay_check_s = 0.5
        forwarder.start()
        try:
            await until(lambda: store.cursor("main") == store.max_seq(), 60, "the first pass")
            set_aside = len(deadletters.letters(store, "main"))
            await until(lambda: not deadletters.letters(store, "main"), 60, "the replay")
        finally:
            await forwarder.stop()
            await proxy.stop()
        return set_aside

    set_aside = asyncio.run(main())
    assert set_aside > 0  # the rule did refuse points while it was on
    every = deadletters.letters(store, "main", pending_only=False)
    assert len(every) == set_aside and all(x.kind == deadletters.TRANSIENT and x.replayed_ts for x in every)
    assert set(influx_points(influxd, MEASUREMENTS)) == expected_points(store)  # nothing lost after replay


def write_config(folder: Path, url: str) -> Path:
    path = folder / "netmon.yaml"
    path.write_text(f"""version: 1
agent: {{name: {AGENT}, state_dir: state}}
outputs:
  influxdb: {{name: main, url: "{url}", api: v1, database: netmon, max_backoff: 1s, timeout: 5s}}
inventory: []
""")
    return path


def test_deadletters_list_and_replay_commands(tmp_path: Path, influxd: InfluxServer,
                                              capsys: pytest.CaptureFixture) -> None:
    store = Store.open(tmp_path / "state")
    store.append(make_results(120))

    async def fill_letters() -> None:
        proxy = Proxy(influxd.url, message="blocked by proxy rule", refuse_if=lambda body: b"village_status" in body)
        forwarder = Forwarder(output(await proxy.start()), store, TagResolver(AGENT, DEVICES))
        forwarder.start()
        try:
            await until(lambda: store.cursor("main") == store.max_seq(), 60, "the first pass")
        finally:
            await forwarder.stop()
            await proxy.stop()

    asyncio.run(fill_letters())
    n = len(deadletters.letters(store, "main"))
    assert n == 60  # every village_status point (two per village result)
    config = write_config(tmp_path, influxd.url)  # the proxy rule is gone: straight to influxd

    assert cli.main(["deadletters", "list", "-c", str(config), "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == n and {x["kind"] for x in listed} == {"transient"}
    assert all("blocked by proxy rule" in x["message"] and x["status"] == 400 for x in listed)
    assert cli.main(["deadletters", "list", "-c", str(config)]) == 0
    assert "blocked by proxy rule" in capsys.readouterr().out

    first_two = f"{listed[0]['id']},{listed[1]['id']}"
    assert cli.main(["deadletters", "replay", "-c", str(config), "--id", first_two]) == 0
    assert "main: 2 of 2 accepted" in capsys.readouterr().out
    assert len(deadletters.letters(store, "main")) == n - 2
    assert cli.main(["deadletters", "replay", "-c", str(config), "--output", "main"]) == 0
    assert f"main: {n - 2} of {n - 2} accepted, 0 refused again" in capsys.readouterr().out
    assert deadletters.letters(store, "main") == []
    assert set(influx_points(influxd, MEASUREMENTS)) == expected_points(store)
    assert cli.main(["deadletters", "replay", "-c", str(config)]) == 0
    assert "nothing to replay" in capsys.readouterr().out


def test_replay_command_gives_up_on_an_output_that_does_not_answer(tmp_path: Path, influxd: InfluxServer,
                                                                   capsys: pytest.CaptureFixture) -> None:
    store = Store.open(tmp_path / "state")
    deadletters.ensure_schema(store)
    with store.transaction():
        deadletters.add(store, "main", 1, "ping,agent=x v=1i 1700000000000", 400, "proxy says no")
    config = write_config(tmp_path, influxd.url)
    influxd.stop()
    started = time.monotonic()
    assert cli.main(["deadletters", "replay", "-c", str(config)]) == 1
    assert time.monotonic() - started < 30
    assert "main: 0 of 1 accepted, 0 refused again, 1 not tried" in capsys.readouterr().out
    assert len(deadletters.letters(store, "main")) == 1


def test_status_and_netmon_agent_show_a_stalled_output(tmp_path: Path, influxd: InfluxServer) -> None:
    store = Store.open(tmp_path / "state")
    store.append(make_results(100))

    async def main() -> None:
        proxy = Proxy(influxd.url, refuse_until=time.monotonic() + 3600)
        forwarder = Forwarder(output(await proxy.start()), store, TagResolver(AGENT, DEVICES))
        writer = ResultWriter(store)
        agent = Agent(SimpleNamespace(devices=DEVICES), store, writer, SimpleNamespace(lag_s=0.0), RateMeter())
        monitor = SelfMonitor(agent.config, SimpleNamespace(forwarders={"main": forwarder}))
        monitor.host = agent
        forwarder.start()
        try:
            await until(lambda: forwarder.health.state is State.SERVER_FAULT, 30, "the server fault")
            await asyncio.sleep(1.1)
            result = await monitor.measure()
            own_output = result.samples[1]
            assert own_output.tags == {"output": "main"}
            assert own_output.fields["output_stalled"] is True and own_output.fields["stalled_s"] >= 1.0
            assert own_output.fields["backlog_results"] == 100 and own_output.fields["oldest_unsent_age_s"] > 0

            viewer = Store.open(tmp_path / "state", readonly=True)  # what `netmon status` reads
            header = read_header(viewer, AGENT, ["main"])
            viewer.close()
            assert header.outputs["main"]["state"] == "server_fault"
            text = output_health_text("main", header.outputs["main"], time.time()).plain
            assert "main SERVER FAULT" in text and "backend busy" in text

            writer.emit(result)
            writer.flush()
            proxy.refuse_until = 0.0  # the proxy heals: the stall itself reaches InfluxDB
            await until(lambda: store.cursor("main") == store.max_seq(), 60, "the catch-up")
            assert forwarder.health.state is State.OK
            healed = Store.open(tmp_path / "state", readonly=True)
            assert read_header(healed, AGENT, ["main"]).outputs["main"]["state"] == "ok"
            healed.close()
        finally:
            await forwarder.stop()
            await proxy.stop()

    asyncio.run(main())
    rows = influxd.rows('SELECT output_stalled, stalled_s FROM netmon_agent WHERE "output" = \'main\''
                        ' AND time > now() - 1h')
    rows = [r for r in rows if r.get("output_stalled") is not None]
    assert len(rows) == 1 and rows[0]["output_stalled"] is True and rows[0]["stalled_s"] >= 1.0


def test_the_agent_point_does_not_wait_behind_the_backlog(tmp_path: Path, influxd: InfluxServer) -> None:
    store = Store.open(tmp_path / "state")
    store.append(make_results(3000))

    async def main() -> None:
        proxy = Proxy(influxd.url, delay_s=0.2)  # a slow link: the catch-up takes half a minute or more
        forwarder = Forwarder(output(await proxy.start(), batch_size=50), store, TagResolver(AGENT, DEVICES))
        writer = ResultWriter(store)
        agent = Agent(SimpleNamespace(devices=DEVICES), store, writer, SimpleNamespace(lag_s=0.0), RateMeter())
        monitor = SelfMonitor(agent.config, SimpleNamespace(forwarders={"main": forwarder}))
        monitor.host = agent
        forwarder.start()
        try:
            await asyncio.sleep(0.5)
            result = await monitor.measure()
            writer.emit(result)
            writer.flush()
            await monitor.send_first(result)
            assert store.cursor("main") < store.max_seq() - 2000  # the stored copy is still far behind
        finally:
            await forwarder.stop()
            await proxy.stop()

    asyncio.run(main())
    rows = influxd.rows('SELECT backlog_results FROM netmon_agent WHERE "output" = \'main\' AND time > now() - 1h')
    assert len(rows) == 1 and rows[0]["backlog_results"] > 2000


def test_a_hung_server_is_described_in_words(tmp_path: Path) -> None:
    import socket

    from netmon.sinks.transport import Outcome, make_transport

    async def main() -> None:
        accepted: list[socket.socket] = []
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        loop = asyncio.get_running_loop()

        async def accept() -> None:  # accept and never answer
            conn, _ = await loop.sock_accept(listener)
            accepted.append(conn)

        task = asyncio.create_task(accept())
        transport = make_transport(output(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=0.5))
        try:
            answer = await transport.send(b"ping v=1i 1")
        finally:
            await transport.close()
            task.cancel()
            for conn in accepted:
                conn.close()
            listener.close()
        assert answer.outcome is Outcome.RETRY and answer.status == 0
        assert answer.message == "no answer within 0.5 s (the server accepted the connection but did not reply)"

    asyncio.run(main())


def test_a_failure_that_persists_logs_one_traceback_and_forwarding_resumes(
        tmp_path: Path, influxd: InfluxServer, caplog: pytest.LogCaptureFixture) -> None:
    store = Store.open(tmp_path / "state")
    store.append(make_results(50))
    store.conn.execute("ALTER TABLE results RENAME TO results_away")  # every read fails until it is back

    async def main() -> None:
        forwarder = Forwarder(output(influxd.url, max_backoff=0.2), store, TagResolver(AGENT, DEVICES))
        forwarder.start()
        try:
            await asyncio.sleep(3.0)
            assert store.cursor("main") == 0
            store.conn.execute("ALTER TABLE results_away RENAME TO results")
            await until(lambda: store.cursor("main") == store.max_seq(), 30, "forwarding to resume")
        finally:
            await forwarder.stop()

    with caplog.at_level(logging.DEBUG, logger="netmon"):
        asyncio.run(main())
    infos = [r for r in caplog.records if r.levelno >= logging.INFO and r.name.startswith("netmon.sinks")]
    failures = [r for r in infos if "forwarding failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None
    assert len([r for r in infos if "forwarding to" in r.getMessage()]) == 1
    assert len([r for r in caplog.records if "forwarding to" in r.getMessage()]) >= 5  # it kept retrying
    assert set(influx_points(influxd, MEASUREMENTS)) == expected_points(store)
