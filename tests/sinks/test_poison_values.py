"""Poison values through the real writer, store and forwarder into a real influxd.

The poison is quarantined with its reason (the result becomes `error`, the bad field is dropped
and counted; an unreadable stored row goes to dead letters); every other point arrives.
"""

from __future__ import annotations

import asyncio
import logging
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from netmon.codec import encode_samples
from netmon.config.schema import InfluxOutput
from netmon.daemon import Agent
from netmon.fieldtypes import REFUSED_COUNTER
from netmon.model import ProbeResult, Sample, Status
from netmon.sinks import deadletters
from netmon.sinks.batches import TagResolver
from netmon.sinks.influx import Forwarder
from netmon.sinks.selfmon import SelfMonitor
from netmon.store import Store
from netmon.writer import RateMeter, ResultWriter
from tests.fixtures.influxd import InfluxServer
from tests.sinks.helpers import AGENT, DEVICES, drain, expected_points, influx_points, make_results

MEASUREMENTS = ("ping", "village_status", "netmon_agent", "snmp_system")
T0 = 1_700_000_000.0


def output(server: InfluxServer, **kw) -> InfluxOutput:
    return InfluxOutput.model_validate({"name": "main", "url": server.url, "api": "v1", "database": "netmon",
                                        "batch_size": 50, "max_backoff": 0.5, **kw})


def system(ts: float, **fields) -> ProbeResult:
    return ProbeResult(DEVICES[1].id, "system", "snmp", Status.OK, "sysUpTime read", ts, 0.02,
                       (Sample("snmp_system", fields),))


POISON = [  # (fields, words the reason must hold)
    ({"uptime_s": b"\x01\x02"}, ["'uptime_s'", "bytes"]),
    ({"uptime_s": [1, 2]}, ["'uptime_s'", "list"]),
    ({"uptime_s": (1, 2)}, ["'uptime_s'", "tuple"]),
    ({"uptime_s": {"a": 1}}, ["'uptime_s'", "dict"]),
    ({"uptime_s": object()}, ["'uptime_s'", "object"]),
    ({"load": math.nan}, ["'load'", "non-finite float nan"]),
    ({"load": -math.inf}, ["'load'", "non-finite float -inf"]),
    ({"uptime_s": 2**64}, ["'uptime_s'", "64-bit"]),
    ({"uptime_s": "12 days"}, ["'uptime_s'", "str where the field is int"]),
    ({"load": "high"}, ["'load'", "str where the field is float"]),
    ({"uptime_s": 1.5}, ["'uptime_s'", "float where the field is int"]),
    ({"descr": "router\x00x"}, ["'descr'", "NUL"]),
    ({"descr": "bad \udcff text"}, ["'descr'", "lone surrogate"]),
    ({"descr": "x" * 70_000}, ["'descr'", "70000 bytes"]),
]


def test_poison_is_quarantined_and_everything_else_arrives(tmp_path: Path, influxd: InfluxServer,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    store = Store.open(tmp_path / "state")
    writer = ResultWriter(store)
    good = make_results(300)
    first = system(T0 - 10, uptime_s=100, load=0.5, descr="router")
    poison = [system(T0 + 0.25 + i, **fields) for i, (fields, _) in enumerate(POISON)]
    # A result with one bad field keeps its good ones (stored, sent) and still becomes an error.
    mixed = system(T0 + 50.5, uptime_s=200, load=3, descr=b"\xff")  # an int for a float field is widened
    writer.emit(first)
    for i, r in enumerate(good):
        writer.emit(r)
        if i < len(poison):
            writer.emit(poison[i])
    writer.emit(mixed)
    with caplog.at_level(logging.WARNING):
        assert writer.flush() == 1 + len(good) + len(poison) + 1  # one commit, nothing stuck at the head
        writer.emit(system(T0 + 60.5, uptime_s="again"))  # the same problem again: counted, not logged
        assert writer.flush() == 1

    stored = {r.ts: r for r in store.iter_results(check="system")}
    for r, (_fields, words) in zip(poison, POISON, strict=True):
        got = stored[r.ts]
        assert got.status is Status.ERROR and got.samples == ()
        assert all(w in got.reason for w in words), got.reason
        assert "probe said: ok, sysUpTime read" in got.reason
    kept = stored[mixed.ts]
    assert kept.status is Status.ERROR and "'descr'" in kept.reason and "bytes" in kept.reason
    assert kept.samples[0].fields == {"uptime_s": 200, "load": 3.0}
    assert type(kept.samples[0].fields["load"]) is float
    assert store.counters()[REFUSED_COUNTER] == len(POISON) + 2
    monitor = SelfMonitor(SimpleNamespace(devices=DEVICES), None)  # type: ignore[arg-type]
    monitor.host = Agent(monitor.config, store, writer, SimpleNamespace(lag_s=0.0), RateMeter())
    assert asyncio.run(monitor.measure()).samples[0].fields["refused_values"] == len(POISON) + 2
    refusals = [r for r in caplog.records if "refused a value" in r.getMessage()]
    assert len(refusals) == len(POISON) + 1  # once per field and kind of problem, never per result

    forwarder = Forwarder(output(influxd), store, TagResolver(AGENT, DEVICES))
    asyncio.run(drain(forwarder, store))
    assert deadletters.letters(store) == []
    got = influx_points(influxd, MEASUREMENTS)
    assert len(got) == len(expected_points(store)) == 450 + 2
    assert set(got) == expected_points(store)
    assert influxd.count("snmp_system", "uptime_s") == 2


def test_field_types_survive_a_restart(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state")
    store.append([system(T0, uptime_s=5, descr="a")])
    store.close()
    store = Store.open(tmp_path / "state")
    store.append([system(T0 + 1, uptime_s="5"), system(T0 + 2, uptime_s=6)])
    first, second = store.iter_results(since_ts=T0 + 0.5)
    assert first.status is Status.ERROR and "str where the field is int" in first.reason
    assert second.status is Status.OK and second.samples[0].fields == {"uptime_s": 6}
    # The same field name in another measurement is another field.
    store.append([ProbeResult("agent", "self", "agent", Status.OK, "x", T0 + 3, 0.0,
                              (Sample("other", {"uptime_s": "text"}),))])
    assert store.latest("agent", "self").status is Status.OK


def test_unreadable_stored_rows_go_to_dead_letters_and_the_rest_flows(tmp_path: Path,
                                                                      influxd: InfluxServer) -> None:
    store = Store.open(tmp_path / "state")
    store.append(make_results(100))
    line_protocol = encode_samples(make_results(1)[0].samples)
    assert line_protocol[0] == 2  # stored as line protocol (codec format 2)
    broken = ["not json at all", '{"a": 1}', '[["ping", {"url": "x"}, [1, 2]]]', '[["ping", ["x"], {"v": 1}]]',
              '[7]', line_protocol[:-4], b"\x09\x00\x01xyz"]  # cut short; a format this netmon does not know
    with store.transaction() as conn:  # rows a older or damaged agent could have left
        conn.executemany("INSERT INTO results (ts, device_id, check_name, prober, status, reason, duration_s,"
                         " samples) VALUES (?, 'agent', 'self', 'agent', 'ok', 'x', 0, ?)",
                         [(T0 + 200 + i, text) for i, text in enumerate(broken)])
    store.append(make_results(100, t0=T0 + 300))
    forwarder = Forwarder(output(influxd), store, TagResolver(AGENT, DEVICES))
    asyncio.run(drain(forwarder, store))
    letters = deadletters.letters(store, "main")
    assert [x.kind for x in letters] == [deadletters.UNDECODABLE] * len(broken)
    assert [x.seq for x in letters] == list(range(101, 101 + len(broken)))
    assert all("cannot be" in x.message for x in letters)
    assert letters[0].line == "not json at all"
    assert set(influx_points(influxd, MEASUREMENTS)) == expected_points_readable(tmp_path)
    assert len(influx_points(influxd, MEASUREMENTS)) == 300
    assert store.cursor("main") == store.max_seq()
    readers_see = [r for r in store.iter_results() if r.device_id == "agent" and r.reason == "x"]
    assert len(readers_see) == len(broken) and all(r.samples == () for r in readers_see)  # analysis never fails


def expected_points_readable(tmp_path: Path) -> set[tuple]:
    """expected_points of the same results stored without the broken rows."""
    clean = Store.open(tmp_path / "clean")
    clean.append([*make_results(100), *make_results(100, t0=T0 + 300)])
    return expected_points(clean)


def test_type_conflict_in_influxdb_never_stops_the_output(tmp_path: Path, influxd: InfluxServer,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """Another agent made `snmp_system.uptime_s` a string: each of our 120 points is refused on its own."""
    assert influxd.write(f'snmp_system,agent=other uptime_s="12 days" {round(T0 * 1000)}')[0] == 204
    store = Store.open(tmp_path / "state")
    results = make_results(400)
    conflicting = [system(T0 + i + 0.5, uptime_s=i) for i in range(120)]
    store.append(sorted([*results, *conflicting], key=lambda r: r.ts))
    forwarder = Forwarder(output(influxd, batch_size=200), store, TagResolver(AGENT, DEVICES))
    forwarder.first_replay_s = forwarder.replay_check_s = 0.0  # would replay at once if it were transient
    with caplog.at_level(logging.INFO):
        asyncio.run(drain(forwarder, store, timeout_s=120))
    letters = deadletters.letters(store, "main")
    assert len(letters) == 120 and {x.kind for x in letters} == {deadletters.DATA}
    assert all("field type conflict" in x.message and x.status == 400 for x in letters)
    assert all(x.attempts == 0 for x in letters)  # a data refusal is not resent automatically
    assert not forwarder.health.stalled
    assert store.counters()[deadletters.counter("main")] == 120
    ours = [p for p in influx_points(influxd, MEASUREMENTS) if ("agent", "other") not in p[1]]
    assert len(ours) == 600 == len(expected_points(store)) - 120
    refused_logs = [r for r in caplog.records if "refused a point" in r.getMessage()]
    assert len(refused_logs) == 1  # once per change of state, then counted
    assert not [r for r in caplog.records if "cannot write" in r.getMessage()]


def test_a_result_of_the_wrong_shape_does_not_stop_the_writer(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state")
    writer = ResultWriter(store)
    broken = ProbeResult(DEVICES[1].id, "system", "snmp", Status.OK, "ok", T0, 0.1, None)  # type: ignore[arg-type]
    odd = ProbeResult(DEVICES[1].id, "system", "snmp", "fine", 42, T0 + 1, math.nan,  # type: ignore[arg-type]
                      (Sample("snmp_system", {"uptime_s": 1}, {"ifIndex": 3}),))
    writer.emit(broken)
    writer.emit(odd)
    writer.emit(system(T0 + 2, uptime_s=2))
    assert writer.flush() == 3
    first, second, third = store.iter_results()
    assert first.status is Status.ERROR and "cannot be checked" in first.reason and first.samples == ()
    assert second.samples[0].tags == {"ifIndex": "3"} and second.duration_s == 0.0
    assert second.status is Status.ERROR and "status 'fine' is not one of" in second.reason
    assert third.status is Status.OK and third.samples[0].fields == {"uptime_s": 2}


def test_a_canary_refused_as_data_is_not_taken_for_a_server_fault(tmp_path: Path, influxd: InfluxServer) -> None:
    """Someone wrote `netmon_agent.canary` as an integer: the canary's refusal names a type conflict."""
    import time

    assert influxd.write(f"netmon_agent,agent=someone canary=1i {round(time.time() * 1000)}")[0] == 204
    assert influxd.write(f"snmp_system,agent=other uptime_s=\"12 days\" {round(T0 * 1000)}")[0] == 204
    store = Store.open(tmp_path / "state")
    store.append(sorted([*make_results(40), system(T0 + 0.5, uptime_s=1)], key=lambda r: r.ts))
    forwarder = Forwarder(output(influxd), store, TagResolver(AGENT, DEVICES))
    asyncio.run(drain(forwarder, store, timeout_s=30))
    letters = deadletters.letters(store, "main")
    assert len(letters) == 1 and "field type conflict" in letters[0].message and letters[0].line.startswith("snmp")
    assert not forwarder.health.stalled
