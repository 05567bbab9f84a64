"""The embedded store: durable append, typed round-trip, cursors, retention that never loses unsent rows."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest

from netmon.model import Device, ProbeResult, Sample, Status
from netmon.store import Store


def result(device: str, ts: float, status: Status = Status.OK, rtt: float | None = 1.5) -> ProbeResult:
    fields: dict = {"packets_transmitted": 3, "packets_received": 3 if status is Status.OK else 0,
                    "percent_packet_loss": 0.0 if status is Status.OK else 100.0, "result_code": 0}
    if rtt is not None:
        fields["average_response_ms"] = rtt
    return ProbeResult(device, "reachability", "icmp", status, "why", ts, 0.01,
                       (Sample("ping", fields, {"url": "127.0.0.1"}),))


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "state")
    yield s
    s.close()


def test_append_round_trips_types_and_unicode(store):
    r = ProbeResult("lai-chau/sin-ho/ta-phin/cpe", "system", "snmp", Status.OK, "Trạm \"BTS\", Tả Phìn",
                    1700000000.25, 0.5,
                    (Sample("snmp", {"uptime_s": 12.0, "sys_descr": "Linux", "rebooted": 1, "ok": True},
                            {"note": "a=b c,d\\"}),))
    seq = store.append([r])
    assert seq == 1
    (got,) = list(store.iter_results())
    assert got == r
    fields = got.samples[0].fields
    assert type(fields["uptime_s"]) is float and type(fields["rebooted"]) is int and fields["ok"] is True


def test_sequence_never_reused_after_delete(store):
    store.append([result("a", 1.0), result("a", 2.0)])
    store.prune(older_than_ts=10.0, outputs=[])
    assert store.count() == 0
    assert store.append([result("a", 3.0)]) == 3


def test_results_after_cursor_in_order(store):
    store.append([result(f"d{i}", float(i)) for i in range(10)])
    store.set_cursor("influx", 4)
    batch = store.results_after(store.cursor("influx"), limit=3)
    assert [seq for seq, _ in batch] == [5, 6, 7]
    assert [r.device_id for _, r in batch] == ["d4", "d5", "d6"]


def test_retention_keeps_rows_an_output_has_not_acknowledged(store):
    store.append([result("a", float(t)) for t in range(100)])
    store.set_cursor("influx", 30)
    deleted = store.prune(older_than_ts=80.0, outputs=["influx"])
    assert deleted == 30
    assert min(r.ts for r in store.iter_results()) == 30.0


def test_disk_cap_drops_oldest_even_unsent_and_counts_them(store):
    big = "x" * 2000
    rows = [ProbeResult("a", "c", "icmp", Status.OK, big, float(t), 0.0) for t in range(3000)]
    store.append(rows)
    dropped = store.prune(older_than_ts=0.0, outputs=["influx"], max_disk_mb=2)
    assert dropped > 0
    assert store.counters()["dropped_unsent"] == dropped
    remaining = list(store.iter_results())
    assert remaining and remaining[0].ts == float(dropped)  # the oldest went first


def test_filters_and_latest(store):
    store.append([result("a", 1.0), result("b", 2.0), result("a", 3.0, Status.TIMEOUT, None)])
    assert [r.ts for r in store.iter_results(device_id="a")] == [1.0, 3.0]
    assert [r.ts for r in store.iter_results(since_ts=2.0)] == [2.0, 3.0]
    assert store.latest("a", "reachability").status is Status.TIMEOUT


def test_devices_and_state_visible_to_another_process(store, tmp_path):
    dev = Device(id="p/c/v/d", name="cpe Tả Phìn", kind="cpe", profile="cpe", province="Lai Châu",
                 commune="Sìn Hồ", village="Tả Phìn", host="127.0.0.1", operator="Viettel", lat=22.3, lon=103.2)
    store.sync_devices([dev])
    store.set_state(heartbeat_ts=123.0, agent="x")
    store.append([result("p/c/v/d", time.time())])
    code = (
        "import sys; from netmon.store import Store; s = Store.open(sys.argv[1], readonly=True);"
        "print(s.devices()[0].village, s.state()['heartbeat_ts'], s.count())"
    )
    out = subprocess.run([sys.executable, "-c", code, str(store.path)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["Tả", "Phìn", "123.0", "1"]


def test_readonly_open_of_missing_store_explains(tmp_path):
    with pytest.raises(FileNotFoundError, match="has `netmon run` been started"):
        Store.open(tmp_path / "nothing", readonly=True)


def test_store_is_wal(store):
    mode = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_writer_keeps_results_queued_while_the_database_is_locked(store, caplog):
    """A commit that fails (here: another process holds the write lock) loses nothing."""
    import asyncio

    from netmon.writer import ResultWriter

    async def main() -> None:
        writer = ResultWriter(store)
        store.conn.execute("PRAGMA busy_timeout=50")
        other = sqlite3.connect(store.path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        for t in range(5):
            writer.emit(result("a", float(t)))
        assert writer.flush() == 0 and "stay queued" in caplog.text
        other.execute("COMMIT")
        other.close()
        assert writer.flush() == 5
        await writer.stop()

    asyncio.run(main())
    assert [r.ts for r in store.iter_results()] == [0.0, 1.0, 2.0, 3.0, 4.0]
