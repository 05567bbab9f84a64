"""Two batches in flight against a real influxd: the cursor still moves strictly in store order.

A loopback proxy (tests/sinks/proxy.py) stands between the forwarder and influxd; it counts the
writes on the wire at once and can hold one back. Every cursor the forwarder commits is logged by
an SQLite trigger on the store's `cursors` table, so the tests see each step, not only the end.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from netmon.config.schema import InfluxOutput
from netmon.model import ProbeResult, Sample, Status
from netmon.sinks.batches import BatchReader, TagResolver
from netmon.sinks.influx import Forwarder, dead_letters
from netmon.store import Store
from tests.fixtures.influxd import InfluxServer
from tests.sinks.helpers import AGENT, DEVICES, drain, expected_points, influx_points, make_results
from tests.sinks.proxy import Proxy

MEASUREMENTS = ("ping", "village_status", "netmon_agent")
BATCH = 100


def output(url: str, **kw) -> InfluxOutput:
    return InfluxOutput.model_validate({"name": "main", "url": url, "api": "v1", "database": "netmon",
                                        "batch_size": BATCH, "max_backoff": 0.5, **kw})


def logged_store(tmp_path: Path) -> Store:
    """A store whose every cursor write is appended to `cursor_log` (in the same transaction)."""
    store = Store.open(tmp_path / "state")
    store.conn.executescript("""
        CREATE TABLE cursor_log (id INTEGER PRIMARY KEY, output TEXT, seq INTEGER);
        CREATE TRIGGER cursor_inserted AFTER INSERT ON cursors
            BEGIN INSERT INTO cursor_log (output, seq) VALUES (new.output, new.seq); END;
        CREATE TRIGGER cursor_updated AFTER UPDATE ON cursors
            BEGIN INSERT INTO cursor_log (output, seq) VALUES (new.output, new.seq); END;
    """)
    return store


def cursor_log(store: Store) -> list[int]:
    return [seq for (seq,) in store.conn.execute("SELECT seq FROM cursor_log WHERE output = 'main' ORDER BY id")]


def batch_ends(store: Store) -> list[int]:
    """Where each batch ends, read independently with the forwarder's own reader and batch size."""
    reader = BatchReader(store.path, TagResolver(AGENT, DEVICES))
    ends, after = [], 0
    try:
        while not (batch := reader.read(after, BATCH)).empty:
            ends.append(after := batch.last_seq)
    finally:
        reader.close()
    return ends


def first_batch_lines(store: Store) -> list[bytes]:
    reader = BatchReader(store.path, TagResolver(AGENT, DEVICES))
    try:
        return reader.read(0, BATCH).lines
    finally:
        reader.close()


async def until(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("in_flight", [2, 1])
def test_batches_in_flight_deliver_every_point_with_the_cursor_in_store_order(
        tmp_path: Path, influxd: InfluxServer, in_flight: int) -> None:
    store = logged_store(tmp_path)
    store.append(make_results(1200))
    ends = batch_ends(store)
    assert len(ends) >= 15

    async def main() -> Proxy:
        # A slow link: a batch is still on the wire when the next is ready to go.
        proxy = Proxy(influxd.url, delay_s=0.05)
        forwarder = Forwarder(output(await proxy.start(), max_in_flight=in_flight), store,
                              TagResolver(AGENT, DEVICES))
        try:
            await drain(forwarder, store)
        finally:
            await proxy.stop()
        assert forwarder.sent_points == 1800 and forwarder.sent_batches == len(ends)
        return proxy

    proxy = asyncio.run(main())
    assert proxy.max_active == in_flight  # the window is used, and never exceeded
    assert proxy.upstream == [204] * len(ends)  # each batch sent once
    assert cursor_log(store) == ends  # every batch's end, in store order, nothing skipped
    got = influx_points(influxd, MEASUREMENTS)
    assert len(got) == len(expected_points(store)) == 1800
    assert set(got) == expected_points(store)


def test_first_batch_failing_while_the_second_is_acknowledged_holds_the_cursor(
        tmp_path: Path, influxd: InfluxServer) -> None:
    store = logged_store(tmp_path)
    store.append(make_results(400))
    ends = batch_ends(store)
    marker = first_batch_lines(store)[0]
    release = asyncio.Event()
    held: list[bytes] = []

    async def hold_the_first(body: bytes) -> int | None:
        """The first write of batch 1 waits until the test has looked, then fails (a proxy 503)."""
        if marker in body and not held:
            held.append(body)
            await release.wait()
            return 503
        return None

    async def main() -> None:
        proxy = Proxy(influxd.url, hook=hold_the_first, message="backend restarting")
        forwarder = Forwarder(output(await proxy.start(), max_in_flight=2), store, TagResolver(AGENT, DEVICES))
        forwarder.start()
        try:
            await until(lambda: proxy.upstream, 10, "batch 2 written by influxd")
            await asyncio.sleep(0.5)  # room for a wrong advance to happen
            assert proxy.upstream == [204] and store.cursor("main") == 0 and cursor_log(store) == []
            assert held and proxy.max_active == 2 and len(proxy.upstream) == 1  # no third batch sent
            assert influxd.count("ping", "packets_transmitted") > 0  # batch 2 is in the database
            release.set()
            await until(lambda: store.cursor("main") == store.max_seq(), 30, "the catch-up")
        finally:
            release.set()
            await forwarder.stop()
            await proxy.stop()
        assert proxy.refused == 1

    asyncio.run(main())
    assert cursor_log(store) == ends  # batch 1's end first, then batch 2's: never past batch 1 early
    assert dead_letters(store) == []  # a 503 is an outage, never a data fault
    assert set(influx_points(influxd, MEASUREMENTS)) == expected_points(store)


def test_first_batch_refused_as_data_while_the_second_is_acknowledged(tmp_path: Path,
                                                                      influxd: InfluxServer) -> None:
    """A 400 of batch 1 after batch 2 was written: bisected alone, its bad point set aside, cursor in order."""
    store = logged_store(tmp_path)
    results = make_results(400)
    bad = ProbeResult(DEVICES[0].id, "custom", "snmp", Status.OK, "ok", results[9].ts + 0.5, 0.1,
                      (Sample("custom", {"value": 1.5}),))
    store.append([*results[:10], bad, *results[10:]])
    # A field type conflict: `custom.value` already exists as a string in this shard.
    assert influxd.write(f'custom value="text" {round(bad.ts * 1000) - 1}')[0] == 204
    ends = batch_ends(store)
    marker = first_batch_lines(store)[0]
    release = asyncio.Event()
    held: list[bytes] = []

    async def hold_the_first(body: bytes) -> int | None:
        """Batch 1 reaches influxd (and its 400) only after batch 2 was written."""
        if marker in body and not held:
            held.append(body)
            await release.wait()
        return None

    async def main() -> None:
        proxy = Proxy(influxd.url, hook=hold_the_first)
        forwarder = Forwarder(output(await proxy.start(), max_in_flight=2), store, TagResolver(AGENT, DEVICES))
        forwarder.start()
        try:
            await until(lambda: proxy.upstream, 10, "batch 2 written by influxd")
            await asyncio.sleep(0.5)
            assert proxy.upstream == [204] and store.cursor("main") == 0 and cursor_log(store) == []
            release.set()
            await until(lambda: store.cursor("main") == store.max_seq(), 30, "the catch-up")
        finally:
            release.set()
            await forwarder.stop()
            await proxy.stop()
        assert proxy.upstream[:2] == [204, 400]

    asyncio.run(main())
    assert cursor_log(store) == ends
    letters = dead_letters(store, "main")
    assert [(seq, status) for _output, seq, _line, status, _message in letters] == [(11, 400)]
    assert "field type conflict" in letters[0][4]
    assert len(influx_points(influxd, MEASUREMENTS)) == len(expected_points(store)) - 1 == 600
