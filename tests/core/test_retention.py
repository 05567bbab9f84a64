"""Retention of every table, rollup downsampling that analysis still reads, the disk cap's order of sacrifice."""

from __future__ import annotations

import shutil
from itertools import pairwise
from pathlib import Path

import pytest

from netmon.analysis.windows import rollup_sums, worst_hours
from netmon.config.schema import AgentConfig
from netmon.model import ProbeResult, Status
from netmon.retention import DAY_S, HOUR_S, MB, Policy, Retention
from netmon.schema import HIST_COLUMNS, ROLLUP_COUNTERS
from netmon.store import Store
from tests.analysis.helpers import T0, Rig, ping, rounds, router, snmp_uptime, village_device
from tests.core.test_schema import FIXTURE

FOREVER = 1e12
KEEP_ALL = dict(results_s=FOREVER, results_icmp_s=FOREVER, rollups_fine_s=FOREVER, device_hourly_s=FOREVER,
                rollups_s=FOREVER, outages_s=FOREVER, flags_s=FOREVER, dead_letters_s=FOREVER,
                agent_runs_s=FOREVER)


def policy(**changes) -> Policy:
    """Keep everything except what the test names."""
    return Policy(**{**KEEP_ALL, **changes})


def drain(retention: Retention, now: float, max_rows: int = 50) -> int:
    """Step (in small chunks, to exercise the bounds) until done; returns the number of steps."""
    for steps in range(1, 100_000):
        if not retention.prune_step(now, max_rows):
            return steps
    raise AssertionError("retention never finished")


def count(store: Store, table: str, where: str = "1") -> int:
    return store.conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0]


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path)
    yield s
    s.close()


def test_raw_results_go_by_kind_once_every_output_has_them(store: Store) -> None:
    old = [ping("d", T0 + k) for k in range(300)]
    snmp = [snmp_uptime("d", T0 + 300 + k, 1000.0) for k in range(100)]
    store.append(old + snmp)
    store.set_cursor("a", 400)
    store.set_cursor("b", 250)  # b has not sent the last 50 pings nor any snmp result
    now = T0 + 3 * DAY_S
    drain(Retention(store, policy(results_icmp_s=2 * DAY_S, results_s=8 * DAY_S), ["a", "b"]), now)
    assert [r.ts for r in store.iter_results(prober="icmp")] == [T0 + k for k in range(250, 300)]
    assert count(store, "results", "prober = 'snmp'") == 100  # younger than 8 days
    store.set_cursor("b", 400)
    drain(Retention(store, policy(results_icmp_s=2 * DAY_S, results_s=8 * DAY_S), ["a", "b"]), T0 + 9 * DAY_S)
    assert count(store, "results") == 0
    assert store.counters()["retention:results"] == 400
    assert store.max_seq() == 400  # sequence numbers are never reused


def test_every_table_of_an_83cbe8f_store_has_a_retention(tmp_path: Path) -> None:
    path = tmp_path / "netmon.db"
    shutil.copyfile(FIXTURE, path)
    store = Store.open(path)
    end = store.conn.execute("SELECT max(ts) FROM results").fetchone()[0]
    open_flag = store.conn.execute("SELECT id FROM flags WHERE cleared_ts IS NULL").fetchone()[0]
    open_outages = count(store, "analysis_outages", "end_ts IS NULL")
    acked = min(store.cursor("influxdb"), store.cursor("backup"))
    tables = ("rollup_device", "rollup_village", "analysis_outages", "flags", "dead_letters", "agent_runs")
    assert all(count(store, t) for t in tables)
    before = {t: count(store, t) for t in tables}
    # A month on: results and dead letters are past their defaults, the analysis tables are not.
    retention = Retention(store, Policy(dead_letters_s=30 * DAY_S), ["influxdb", "backup"])
    drain(retention, end + 31 * DAY_S)
    assert count(store, "results") == store.max_seq() - acked  # only what an output has not sent
    assert count(store, "dead_letters") == 0
    assert {t: count(store, t) for t in tables if t != "dead_letters"} == \
        {t: n for t, n in before.items() if t != "dead_letters"}
    # Past every retention: only unsent results, the open flag, open outages and per-key state stay.
    drain(retention, end + 500 * DAY_S)
    assert [r[0] for r in store.conn.execute("SELECT id FROM flags")] == [open_flag]
    assert count(store, "analysis_outages") == open_outages > 0
    for table in ("rollup_device", "rollup_village", "agent_runs", "village_status", "analysis_device_state"):
        assert count(store, table) == 0, table
    assert count(store, "results") == store.max_seq() - acked
    counters = store.counters()
    assert counters["retention:rollup_device"] == before["rollup_device"]
    assert counters["retention:flags"] == before["flags"] - 1
    store.close()


def _sums(store: Store, table: str, key: str) -> dict[str, tuple]:
    cols = ", ".join(f"sum({c})" for c in (*ROLLUP_COUNTERS, *HIST_COLUMNS.split(", ")))
    return {row[0]: tuple(row[1:]) for row in store.conn.execute(f"SELECT {key}, {cols} FROM {table} GROUP BY {key}")}


def test_rollups_downsample_and_analysis_reads_the_same_totals(store: Store) -> None:
    devices = [router(), village_device("ta-phin"), village_device("ban-mu")]
    rig = Rig(store, devices)  # 5-minute buckets
    end = T0 + 6 * HOUR_S
    results = [r for i, d in enumerate(devices)
               for r in rounds(d.id, T0, end, loss=0.05, down=[(T0 + 3600 * i, T0 + 3600 * i + 1200)], seed=i)]
    rig.feed(sorted(results, key=lambda r: r.ts), end + 600)
    before = {t: _sums(store, t, k) for t, k in (("rollup_device", "device_id"), ("rollup_village", "village_id"))}
    window = rollup_sums(store, T0, end + HOUR_S, 300)
    hours = {v: worst_hours(store, v, T0, end, lambda ts: int((ts - T0) // 3600)) for v in window}
    assert count(store, "rollup_device", f"bucket_ts % {HOUR_S} != 0") > 0
    p = policy(rollups_fine_s=14 * DAY_S, device_hourly_s=35 * DAY_S, bucket_s=300)
    drain(Retention(store, p, []), end + 20 * DAY_S, max_rows=7)
    assert count(store, "rollup_device", f"bucket_ts % {HOUR_S} != 0") == 0
    assert count(store, "rollup_village", f"bucket_ts % {HOUR_S} != 0") == 0
    after = {t: _sums(store, t, k) for t, k in (("rollup_device", "device_id"), ("rollup_village", "village_id"))}
    assert after == before
    merged = rollup_sums(store, T0, end + HOUR_S, 300)
    assert {v: (m.rounds, m.rounds_up, m.sent, m.received, m.hist) for v, m in merged.items()} == \
        {v: (m.rounds, m.rounds_up, m.sent, m.received, m.hist) for v, m in window.items()}
    assert {v: worst_hours(store, v, T0, end, lambda ts: int((ts - T0) // 3600)) for v in window} == hours
    # Past device_hourly, device rollups become one row per UTC day; village rollups stay hourly.
    # Two rows a step: each hour of the three devices is merged in two slices.
    retention = Retention(store, p, [])
    first = store.conn.execute("SELECT min(bucket_ts) FROM rollup_device").fetchone()[0]
    assert first % DAY_S != 0 and count(store, "rollup_device", f"bucket_ts = {first}") == len(devices)
    assert retention.prune_step(end + 40 * DAY_S, 2) and retention.last_task == "merge rollup_device 1d"
    assert count(store, "rollup_device", f"bucket_ts = {first}") == 1  # two of three merged in this step
    assert retention.prune_step(end + 40 * DAY_S, 2)
    assert count(store, "rollup_device", f"bucket_ts = {first}") == 0
    drain(retention, end + 40 * DAY_S, max_rows=2)
    days = {row[0] for row in store.conn.execute("SELECT bucket_ts FROM rollup_device")}
    assert days and all(ts % DAY_S == 0 for ts in days)
    assert count(store, "rollup_device") == len(days) * len(devices)
    assert _sums(store, "rollup_device", "device_id") == before["rollup_device"]
    assert count(store, "rollup_village") == 2 * 6  # 6 hours of 2 villages


def test_the_cap_never_drops_unsent_results_while_anything_else_can_go(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    now = T0 + 100 * DAY_S
    _old_analysis(store, now, days=60)  # several MB of old rollups, outages, flags, dead letters
    analysis_mb = Retention(store, policy(), []).disk_bytes() / MB
    store.append([ping("lai-chau/sin-ho/ta-phin/cpe", now - 60 + k * 0.01) for k in range(2000)])
    store.set_cursor("influxdb", 0)  # nothing sent
    recent = count(store, "rollup_village", f"bucket_ts >= {now - DAY_S}")
    cap_mb = 1.0
    assert analysis_mb > 2 * cap_mb
    retention = Retention(store, policy(max_disk_bytes=int(cap_mb * MB), protect_s=DAY_S), ["influxdb"])
    drain(retention, now, max_rows=500)
    assert retention.disk_bytes() <= cap_mb * MB
    assert count(store, "results") == 2000 and "dropped_unsent" not in store.counters()
    assert count(store, "rollup_village", f"bucket_ts >= {now - DAY_S}") == recent > 0  # the live window stays
    counters = store.counters()
    assert counters["cap:rollup_device"] > 0 and counters["cap:dead_letters"] > 0
    # A cap smaller than what must stay: unsent results go, oldest first, once nothing else is left.
    retention = Retention(store, policy(max_disk_bytes=int(0.3 * MB), protect_s=DAY_S), ["influxdb"])
    drain(retention, now, max_rows=500)
    dropped = store.counters()["dropped_unsent"]
    assert 0 < dropped < 2000
    for table in ("rollup_device", "dead_letters"):
        assert count(store, table) == 0, table
    # What the live evaluation reads (the last day of village rollups and agent runs) is all that stays.
    assert count(store, "agent_runs", f"last_seen_ts < {now - DAY_S}") == 0
    assert count(store, "rollup_village", f"bucket_ts < {now - DAY_S}") == 0
    assert count(store, "analysis_outages", f"end_ts < {now - DAY_S}") == 0 and count(store, "flags") == 0
    assert min(r.ts for r in store.iter_results()) == now - 60 + dropped * 0.01
    store.close()


def _old_analysis(store: Store, now: float, days: int) -> None:
    """Hourly rollups of 40 devices in 8 villages over `days`, with outages, flags and dead letters."""
    conn = store.conn
    with store.transaction():
        for h in range(days * 24):
            ts = now - days * DAY_S + h * HOUR_S
            conn.executemany("INSERT INTO rollup_device (bucket_ts, device_id, rounds, rounds_up, p0)"
                             " VALUES (?, ?, 60, 60, 12345)", [(ts, f"p/c/v{i % 8}/dev-{i}") for i in range(40)])
            conn.executemany("INSERT INTO rollup_village (bucket_ts, village_id, rounds, rounds_up, p0)"
                             " VALUES (?, ?, 300, 299, 12345)", [(ts, f"p/c/v{i}") for i in range(8)])
            conn.execute("INSERT INTO analysis_outages (device_id, village_id, start_ts, end_ts, cause)"
                         " VALUES ('p/c/v1/dev-1', 'p/c/v1', ?, ?, 'link')", (ts, ts + 600))
            conn.execute("INSERT INTO dead_letters (output, seq, line, status, message, created_ts)"
                         " VALUES ('influxdb', 1, ?, 400, 'conflict', ?)", ("x" * 300, ts))
            conn.execute("INSERT INTO agent_runs VALUES (?, ?, 1)", (ts, ts + 3000))
        conn.executemany("INSERT INTO flags (village_id, province, commune, village, operator, cause, raised_ts,"
                         " cleared_ts, evidence, updated_ts) VALUES ('p/c/v1', 'p', 'c', 'v', 'VNPT', 'link', ?, ?,"
                         " '{}', ?)", [(now - d * DAY_S, now - d * DAY_S + 3600, now) for d in range(2, days)])


def test_freed_space_goes_back_to_the_disk(store: Store) -> None:
    store.append([ProbeResult("d", "reachability", "icmp", Status.OK, f"{k}" * 300, T0 + k, 0.1)
                  for k in range(30_000)])  # ~40 MB: well past the 8 MB free-page reserve
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    grown = store.path.stat().st_size
    drain(Retention(store, policy(results_icmp_s=DAY_S), []), T0 + 2 * DAY_S, max_rows=5000)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert count(store, "results") == 0
    assert store.path.stat().st_size < grown / 3


def test_config_keys_shorthand_and_validation() -> None:
    short = AgentConfig.model_validate({"version": 1, "store": {"retention": "30d"}})
    assert short.store.retention.results == short.store.retention.results_icmp == 30 * DAY_S
    assert AgentConfig.model_validate({"version": 1}).store.retention.results_icmp == DAY_S
    full = AgentConfig.model_validate({"version": 1, "store": {"retention": {"results": "1d", "rollups": "730d"},
                                                               "max_disk_mb": 4096}})
    p = Policy.from_config(full)
    assert (p.results_s, p.rollups_s, p.max_disk_bytes) == (DAY_S, 730 * DAY_S, 4096 * MB)
    with pytest.raises(ValueError, match="rollups_fine <= device_hourly <= rollups"):
        AgentConfig.model_validate({"version": 1, "store": {"retention": {"device_hourly": "10d"}}})
    with pytest.raises(ValueError, match=r"must cover analysis\.window_trend"):
        AgentConfig.model_validate({"version": 1, "store": {"retention": {"rollups_fine": "12h",
                                                                          "device_hourly": "12h"}}})


def test_results_committed_a_little_out_of_order_are_deleted_by_the_next_pass(store: Store) -> None:
    # Seq order is not quite time order: these five were stamped a little after the rows after them.
    rows = [ping("d", T0 + k) for k in range(1000)]
    rows[590:595] = [ping("ahead", T0 + 605 + k) for k in range(5)]
    store.append(rows)
    retention = Retention(store, policy(results_icmp_s=DAY_S), [])
    drain(retention, T0 + DAY_S + 600)
    kept = list(store.iter_results())
    assert min(r.ts for r in kept) == T0 + 600 and sum(r.device_id == "ahead" for r in kept) == 5
    drain(retention, T0 + DAY_S + 2000)  # the same Retention, whose scan position has moved past them
    assert count(store, "results") == 0


def test_a_fresh_retention_resumes_the_scan_instead_of_walking_again(store: Store) -> None:
    # ICMP rows (1 d) deleted, SNMP rows between them kept (8 d): a new scan from the start would
    # walk every window again over the kept rows, step after step.
    rows = [r for k in range(3000) for r in (ping("d", T0 + k), snmp_uptime("d", T0 + k + 0.5, 100.0))]
    store.append(rows)
    p = policy(results_icmp_s=DAY_S, results_s=8 * DAY_S)
    assert drain(Retention(store, p, []), T0 + DAY_S + 4000, max_rows=50) > 20
    assert count(store, "results", "prober = 'icmp'") == 0 and count(store, "results") == 3000
    assert drain(Retention(store, p, []), T0 + DAY_S + 4000, max_rows=50) == 1  # another process, same store


def test_prune_store_is_a_plain_function_a_worker_can_call_until_done(store: Store) -> None:
    from netmon.retention import prune_store

    store.append([ping("d", T0 + k) for k in range(5000)])
    p = policy(results_icmp_s=DAY_S)
    calls = 0
    while prune_store(store, p, [], max_rows=100, budget_s=0.0, now=T0 + 2 * DAY_S):  # one step per call
        calls += 1
        assert calls < 1000
    assert calls > 5 and count(store, "results") == 0


def test_a_step_deletes_at_most_max_rows_results(store: Store) -> None:
    # Only ICMP results: every sequence number of a step's scan window is a row to delete.
    store.append([ping("d", T0 + k) for k in range(1000)])
    retention = Retention(store, policy(results_icmp_s=DAY_S), [])
    left = [count(store, "results")]
    while retention.prune_step(T0 + 2 * DAY_S, 100):
        left.append(count(store, "results"))
    assert left[-1] == 0
    assert max(a - b for a, b in pairwise(left)) == 100  # not 100 * SCAN_FACTOR
    assert store.counters()["retention:results"] == 1000


def test_a_step_deletes_at_most_max_rows_rollups_even_inside_one_bucket(store: Store) -> None:
    """A bucket holds one row per device: at 100,000 devices a whole-bucket delete is 100,000 rows in one lock."""
    old = T0 - 500 * DAY_S
    with store.transaction() as conn:
        conn.executemany("INSERT INTO rollup_device (bucket_ts, device_id, rounds, rounds_up) VALUES (?, ?, 1, 1)",
                         [(old + b * HOUR_S, f"dev{d:03d}", ) for b in range(2) for d in range(300)])
    retention = Retention(store, policy(rollups_s=400 * DAY_S), [])
    left = [count(store, "rollup_device")]
    while retention.prune_step(T0, 50):
        left.append(count(store, "rollup_device"))
    assert left[0] == 600 and left[-1] == 0
    assert max(a - b for a, b in pairwise(left)) <= 50
    assert store.counters()["retention:rollup_device"] == 600
