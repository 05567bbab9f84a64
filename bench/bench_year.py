"""A year on a small box: store size, evaluation cost and start-up of a 10,000-target agent (issue 14).

The clock is simulated throughout. What runs for real and what is simulated:
- Row sizes: 20,000 ICMP results and 4,000 SNMP results (a PC's host-resources poll shaped like
  snmp_derive's output) are committed through ResultWriter -> Store.append into scratch stores and
  measured with SQLite's dbstat (table + index bytes per row).
- Day 1, real path: `--hours` hours of every result (ICMP every 60 s on every target, SNMP every
  300 s on the PCs) go through ResultWriter, RollupEngine and Evaluator; the rest of day 1 and every
  later day get their hourly rollup rows in bulk (the rows RollupEngine writes: same tables, same
  columns, counters of a 60-round hour with 2 % loss), plus outages, flags, dead letters, agent runs
  at fixed rates, and the raw results of a `--sample` share of the targets (pre-encoded rows).
- Every simulated day ends with the real `Retention` (age retention, rollup downsampling,
  incremental vacuum) run to completion in 10,000-row steps; the longest step is reported.
- At the last day: the real Evaluator is timed against day 1, and start-up (Store.open + migrate,
  catalog, RollupEngine state load, first evaluation) is timed on the closed store, both as is and
  after stepping it back to schema version 1 (an upgrade).
- Steady-state size = the measured file (full-scale analysis tables, sampled raw results) with the
  raw results of the other targets extrapolated from the measured bytes per result, and rollups
  extrapolated from the last day to the 400-day retention when the run is shorter.

    python3 bench/bench_year.py                    # 10,000 targets, 365 days (about 25 min on 2 cores)
    python3 bench/bench_year.py --days 60          # shorter horizon, extrapolated to the steady state
    python3 bench/bench_year.py --quick            # 600 targets, 40 days, under a minute
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netmon.analysis.catalog import build_catalog
from netmon.analysis.db import pack_hist
from netmon.analysis.evaluator import Evaluator, default_settle_s
from netmon.analysis.officehours import OfficeHours
from netmon.analysis.rollups import RollupEngine
from netmon.config.schema import AgentConfig
from netmon.model import Device, ProbeResult, Sample, Status
from netmon.retention import Policy, Retention
from netmon.schema import _V1_ROLLUP_COLUMNS, HIST_BUCKETS, HIST_COLUMNS, ROLLUP_COUNTERS, ROLLUP_STORAGE
from netmon.store import Store, encode_samples
from netmon.writer import ResultWriter

DAY, HOUR = 86400.0, 3600.0
SIM0 = 1_800_000_000.0 - 1_800_000_000.0 % DAY  # simulated day 1 starts here (UTC midnight)
PER_COMMUNE = (1, 10, 10, 4)
"""Per commune: 1 router, 10 PCs (ICMP + SNMP), 10 villages of 4 coverage devices (cpe, bts...)."""
GB = 1e9


def inventory(targets: int) -> list[Device]:
    """Communes of 51 targets each until `targets` is reached."""
    out: list[Device] = []
    c = 0
    while len(out) + sum(PER_COMMUNE[:2]) + PER_COMMUNE[2] * PER_COMMUNE[3] <= targets:
        base, commune = f"lai-chau/xa-{c:04d}", f"Xã {c}"
        router = f"{base}/ubnd-router"
        net = f"10.{c // 250}.{c % 250}"
        out.append(Device(router, "ubnd-router", "router", "router", "Lai Châu", commune, "", host=f"{net}.1"))
        out += [Device(f"{base}/pc-{k}", f"pc-{k}", "pc", "pc", "Lai Châu", commune, "", host=f"{net}.{20 + k}",
                       parent=router) for k in range(PER_COMMUNE[1])]
        for v in range(PER_COMMUNE[2]):
            out += [Device(f"{base}/ban-{v:02d}/cpe-{k}", f"cpe-{k}", "cpe", "cpe", "Lai Châu", commune, f"Bản {v}",
                           host=f"10.{100 + c // 250}.{c % 250}.{v * 10 + k}", parent=router,
                           operator=("VNPT", "Viettel", "MobiFone")[v % 3], lat=22.3, lon=103.2)
                    for k in range(PER_COMMUNE[3])]
        c += 1
    return out


def ping(d: Device, ts: float, rng: random.Random) -> ProbeResult:
    """An ICMP result as the prober writes it (Telegraf `ping` fields, 2 % of packets lost)."""
    got = 3 - (rng.random() < 0.06)
    rtts = [rng.uniform(15.0, 60.0) for _ in range(got)]
    mean = sum(rtts) / got
    fields = {"packets_transmitted": 3, "packets_received": got, "percent_packet_loss": (3 - got) * 100.0 / 3,
              "minimum_response_ms": min(rtts), "average_response_ms": mean, "maximum_response_ms": max(rtts),
              "standard_deviation_ms": (sum((r - mean) ** 2 for r in rtts) / got) ** 0.5, "result_code": 0}
    return ProbeResult(d.id, "reachability", "icmp", Status.OK, f"{got}/3 replies, avg {mean:.1f} ms", ts,
                       0.45 + rng.random() * 0.1, (Sample("ping", fields, {"url": d.host or ""}),))


def snmp(d: Device, ts: float, rng: random.Random) -> ProbeResult:
    """A PC's host-resources poll: scalars, 4 storage rows, 4 processors (shaped like snmp_derive's)."""
    up = ts - SIM0 + 86400.0
    samples = [Sample("snmp", {"sys_descr": "Hardware: Intel64 Family 6 Model 58 Stepping 9 AT/AT COMPATIBLE -"
                               " Software: Windows Version 6.3 (Build 19045 Multiprocessor Free)",
                               "uptime_s": up, "hr_uptime_s": up, "hr_memory_kb": 8_272_000, "rebooted": 0,
                               "cpu_load_avg_pct": float(rng.randint(1, 90))})]
    for i, (descr, size) in enumerate((("C:\\ Label:  Serial Number 8a3c", 60_000_000), ("D:\\", 120_000_000),
                                       ("Virtual Memory", 3_000_000), ("Physical Memory", 2_068_000)), 1):
        used = rng.randint(size // 4, size)
        samples.append(Sample("hr_storage", {"hrStorageType": "fixedDisk" if i < 3 else "ram",
                                             "hrStorageAllocationUnits": 4096, "hrStorageSize": size,
                                             "hrStorageUsed": used, "size_bytes": size * 4096,
                                             "used_bytes": used * 4096, "used_pct": 100.0 * used / size},
                              {"hrStorageIndex": str(i), "hrStorageDescr": descr}))
    samples += [Sample("hr_cpu", {"hrProcessorLoad": rng.randint(0, 100)}, {"index": str(k)}) for k in range(4)]
    return ProbeResult(d.id, "host-resources", "snmp", Status.OK, "14 values, 32 walked", ts, 0.08, tuple(samples))


def dbstat(store: Store) -> dict[str, int]:
    """Bytes on disk per table, indexes counted with their table."""
    owner = {name: tbl for name, tbl in store.conn.execute("SELECT name, tbl_name FROM sqlite_master")}
    out: dict[str, int] = {}
    for name, size in store.conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
        table = owner.get(name, name)
        out[table] = out.get(table, 0) + int(size)
    return out


def bytes_per_result(tmp: Path, devices: list[Device]) -> dict[str, float]:
    """Measured bytes per stored result (row + index) for icmp and for a PC's snmp poll."""
    rng = random.Random(1)
    out = {}
    for kind, make, n in (("icmp", ping, 20_000), ("snmp", snmp, 4_000)):
        store = Store.open(tmp / f"rows-{kind}.db")
        writer = ResultWriter(store)
        pool = [d for d in devices if (d.kind == "pc") == (kind == "snmp")] or devices
        for k in range(n):
            writer.emit(make(pool[k % len(pool)], SIM0 + k * 60.0 / len(pool), rng))
            if k % 2000 == 1999:
                writer.flush()
        writer.flush()
        out[kind] = dbstat(store)["results"] / n
        store.close()
    return out


_COLS = [*ROLLUP_COUNTERS, *HIST_COLUMNS.split(", ")]
_MARKS = ", ".join("?" * (len(_COLS) + 2))


def prepare_bulk(store: Store, catalog, rng: random.Random) -> None:
    """Temp tables for bulk rollups: device -> village, and 64 variants of an hour's counters per office flag."""
    conn = store.conn
    conn.execute("CREATE TEMP TABLE bench_dev (device_key INTEGER PRIMARY KEY, village_key INTEGER)")
    with store.transaction():  # the integer keys the rollup engine gives (schema version 5)
        conn.executemany("INSERT OR IGNORE INTO device_keys (device_id) VALUES (?)", [(d,) for d in catalog.devices])
        conn.executemany("INSERT OR IGNORE INTO village_keys (village_id) VALUES (?)", [(v,) for v in catalog.villages])
    dkey = dict(conn.execute("SELECT device_id, key FROM device_keys"))
    vkey = dict(conn.execute("SELECT village_id, key FROM village_keys"))
    conn.executemany("INSERT INTO bench_dev VALUES (?, ?)",
                     [(dkey[d], vkey.get(i.village_id or "")) for d, i in catalog.devices.items()])
    conn.execute(f"CREATE TEMP TABLE bench_var (id INTEGER PRIMARY KEY, {', '.join(_COLS)})")
    rows = []
    for office in (0, 1):
        for k in range(64):
            up = 60 - (k == 0)  # 1 device-hour in 64 loses a round (~1.6 %)
            received = 3 * up - (k % 3 == 0)
            hist = [0] * HIST_BUCKETS
            hist[7 + k % 4] = up - 5
            hist[11 + k % 2] = 5
            rows.append((office * 64 + k, 60, up, 0, 180, received, 60 * office, up * office, int(up < 60),
                         60.0 * (60 - up), 0.0, *pack_hist(hist)))
    conn.executemany(f"INSERT INTO bench_var VALUES ({', '.join('?' * (len(_COLS) + 1))})", rows)


def bulk_hour(store: Store, bucket: float) -> None:
    """One hour of rollup rows for every device and village, as RollupEngine writes them (in SQL, for speed)."""
    office = 1 if 1 <= (bucket % DAY) / HOUR <= 9 else 0  # 08:00-17:00 in Asia/Ho_Chi_Minh
    cols = ", ".join(_COLS)
    sums = ", ".join(f"sum({c})" for c in _COLS)
    with store.transaction() as conn:
        conn.execute(f"INSERT INTO rollup_device_k (bucket_ts, device_key, {cols}) WITH d AS MATERIALIZED"
                     " (SELECT device_key, abs(random()) % 64 AS k FROM bench_dev)"
                     f" SELECT ?, d.device_key, {cols} FROM d JOIN bench_var v ON v.id = d.k + ?"
                     " WHERE true ON CONFLICT DO NOTHING", (bucket, office * 64))
        conn.execute(f"INSERT INTO rollup_village_k (bucket_ts, village_key, {cols}) SELECT ?, b.village_key, {sums}"
                     " FROM rollup_device_k r JOIN bench_dev b ON b.device_key = r.device_key"
                     " WHERE r.bucket_ts = ? AND b.village_key IS NOT NULL GROUP BY b.village_key"
                     " ON CONFLICT DO NOTHING", (bucket, bucket))


def bulk_day_events(store: Store, catalog, day_start: float, rng: random.Random, run_start: float) -> None:
    """A day's outages (1 % of devices), flags (1 % of villages, cleared), dead letters, agent heartbeat."""
    devs = list(catalog.devices.items())
    villages = list(catalog.villages.values())
    with store.transaction() as conn:
        for dev_id, info in rng.sample(devs, max(1, len(devs) // 100)):
            start = day_start + rng.uniform(0, DAY - 3600)
            conn.execute("INSERT INTO analysis_outages (device_id, village_id, start_ts, end_ts, cause, prev_up_ts)"
                         " VALUES (?, ?, ?, ?, ?, ?)", (dev_id, info.village_id or "", start,
                                                       start + rng.uniform(120, 3000), "link", start - 60))
        for v in rng.sample(villages, max(1, len(villages) // 100)):
            raised = day_start + rng.uniform(0, DAY / 2)
            conn.execute("INSERT INTO flags (village_id, province, commune, village, operator, cause, raised_ts,"
                         " cleared_ts, evidence, updated_ts, lat, lon) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                         (v.id, v.province, v.commune, v.village, v.operator, "link", raised, raised + 7200,
                          '{"availability_pct": 97.2, "loss_pct": 3.1, "outages": 2, "rtt_p95_ms": 88.0}',
                          raised + 7200, v.lat, v.lon))
        conn.executemany("INSERT INTO dead_letters (output, seq, line, status, message, created_ts)"
                         " VALUES ('influxdb', 0, ?, 400, 'field type conflict', ?)",
                         [("snmp,device=x uptime_s=\"bad\" 1", day_start + k) for k in range(10)])
    store.mark_alive(run_start, 4242, day_start + DAY)


def sample_results(store: Store, devices: list[Device], share: float, day_start: float, rng: random.Random) -> int:
    """A day of raw results of `share` of the targets, pre-encoded (the year-long retention load)."""
    chosen = devices[::max(1, round(1 / share))]
    rows = []
    for d in chosen:
        icmp = ping(d, 0.0, rng)
        enc = encode_samples(icmp.samples)
        rows += [(day_start + m * 60.0, d.id, "reachability", "icmp", "ok", icmp.reason, 0.5, enc) for m in range(1440)]
        if d.kind == "pc":
            poll = snmp(d, day_start, rng)
            enc = encode_samples(poll.samples)
            rows += [(day_start + m * 300.0, d.id, "host-resources", "snmp", "ok", poll.reason, 0.08, enc)
                     for m in range(288)]
    rows.sort(key=lambda r: r[0])
    with store.transaction() as conn:
        conn.executemany("INSERT INTO results (ts, device_id, check_name, prober, status, reason, duration_s,"
                         " samples) VALUES (?,?,?,?,?,?,?,?)", rows)
    store.set_cursor("influxdb", store.max_seq())  # the output keeps up: retention may delete
    return len(chosen)


def real_hours(store: Store, devices: list[Device], catalog, settings, hours: float) -> tuple[int, float]:
    """Every result of `hours` hours through the writer and the rollup engine; returns (results, seconds)."""
    a = settings.analysis
    engine = RollupEngine(store, catalog, a.bucket_s, default_settle_s(catalog),
                          OfficeHours(settings.agent.office_hours, settings.agent.timezone), a.window_trend)
    writer = ResultWriter(store)
    rng = random.Random(2)
    pcs = [d for d in devices if d.kind == "pc"]
    n, t0 = 0, time.perf_counter()
    for minute in range(int(hours * 60)):
        base = SIM0 + minute * 60.0
        for i, d in enumerate(devices):
            writer.emit(ping(d, base + 60.0 * i / len(devices), rng))
            if writer.queued >= writer.max_batch:
                writer.flush()
        if minute % 5 == 0:
            for i, d in enumerate(pcs):
                writer.emit(snmp(d, base + 300.0 * i / len(pcs), rng))
        n += len(devices) + (len(pcs) if minute % 5 == 0 else 0)
        writer.flush()
        if minute % 5 == 4:
            engine.process(base + 60.0)
        store.mark_alive(SIM0, 4242, base + 60.0)
    engine.process(SIM0 + hours * HOUR + engine.settle_s + 1)
    return n, time.perf_counter() - t0


def eval_steps(evaluator: Evaluator, now: float) -> int:
    """SQLite virtual-machine steps (thousands) of one evaluation: a cost the machine's load cannot blur."""
    steps = [0]

    def tick() -> int:
        steps[0] += 1
        return 0

    evaluator.store.conn.set_progress_handler(tick, 1000)
    try:
        evaluator.evaluate(now)
    finally:
        evaluator.store.conn.set_progress_handler(None, 0)
    return steps[0]


def interleaved_evals(day1: Path, last: Store, devices: list[Device], settings, now1: float, now: float,
                      rounds: int = 5) -> tuple[float, float, int, int]:
    """Best seconds and VM steps of an evaluation on the day-1 store copy and on the last day's store,
    taken in turns so both see the same machine load."""
    first = Store.open(day1)
    ev1 = Evaluator(first, build_catalog(devices, None, settings), settings)
    evn = Evaluator(last, build_catalog(devices, None, settings), settings)
    t1 = tn = float("inf")
    for _ in range(rounds):
        t1 = min(t1, timed_eval(ev1, now1, 1))
        tn = min(tn, timed_eval(evn, now, 1))
    steps = eval_steps(ev1, now1), eval_steps(evn, now)
    first.close()
    return t1, tn, *steps


def timed_eval(evaluator: Evaluator, now: float, repeats: int = 3) -> float:
    """Best-of-`repeats` seconds of one full evaluation, after one untimed (flags raised, pages cached)."""
    evaluator.evaluate(now)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        evaluator.evaluate(now)
        best = min(best, time.perf_counter() - t0)
    return best


def startup(path: Path, devices: list[Device], settings, now: float) -> float:
    """Seconds from nothing to a first evaluation: open + migrate, catalog, rollup state, evaluate."""
    t0 = time.perf_counter()
    store = Store.open(path)
    catalog = build_catalog(devices, None, settings)
    a = settings.analysis
    RollupEngine(store, catalog, a.bucket_s, default_settle_s(catalog),
                 OfficeHours(settings.agent.office_hours, settings.agent.timezone), a.window_trend)
    Evaluator(store, catalog, settings).evaluate(now)
    took = time.perf_counter() - t0
    store.close()
    return took


def back_to_v1(path: Path) -> None:
    """Step a store back to schema version 1: text-keyed rollup tables again (so the upgrade runs v5's copy)."""
    conn = Store.open(path).conn
    conn.execute("BEGIN IMMEDIATE")
    for view, st in ROLLUP_STORAGE.items():
        conn.execute(f"CREATE TABLE {view}_v1 (bucket_ts REAL NOT NULL, {st.id} TEXT NOT NULL,"
                     f" {_V1_ROLLUP_COLUMNS}, PRIMARY KEY (bucket_ts, {st.id})) WITHOUT ROWID")
        conn.execute(f"INSERT INTO {view}_v1 SELECT * FROM {view}")
        conn.execute(f"DROP VIEW {view}")
        conn.execute(f"DROP TABLE {st.table}")
        conn.execute(f"DROP TABLE {st.keys}")
        conn.execute(f"ALTER TABLE {view}_v1 RENAME TO {view}")
    conn.execute("CREATE INDEX rollup_village_by_id ON rollup_village (village_id, bucket_ts)")
    conn.execute("DROP INDEX dead_letters_created")
    conn.execute("DROP INDEX agent_runs_last_seen")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("COMMIT")
    conn.close()


def run(args: argparse.Namespace) -> list[str]:
    """The whole simulation; returns the markdown lines of the result."""
    settings = AgentConfig.model_validate({"version": 1, "agent": {"timezone": "Asia/Ho_Chi_Minh"}})
    policy = Policy.from_config(settings)
    devices = inventory(args.targets)
    catalog = build_catalog(devices, None, settings)
    pcs = sum(d.kind == "pc" for d in devices)
    rng = random.Random(3)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp_name:
        tmp = Path(tmp_name)
        per_result = bytes_per_result(tmp, devices)
        store = Store.open(tmp / "netmon.db")
        store.sync_devices(devices)
        n_real, real_s = real_hours(store, devices, catalog, settings, args.hours)
        prepare_bulk(store, catalog, rng)
        for h in range(int(args.hours + 0.999), 24):
            bulk_hour(store, SIM0 + h * HOUR)
        bulk_day_events(store, catalog, SIM0, rng, SIM0)
        evaluator = Evaluator(store, catalog, settings)
        eval_day1 = timed_eval(evaluator, SIM0 + DAY)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        shutil.copyfile(tmp / "netmon.db", tmp / "day1.db")  # evaluated again at the end, in turns
        retention = Retention(store, policy, ["influxdb"])
        longest_step, prune_total, sampled, sizes = 0.0, 0.0, 0, {}
        longest_task, step_stats = "", {}
        t_year = time.perf_counter()
        for day in range(1, args.days + 1):
            start = SIM0 + (day - 1) * DAY
            if day > 1:
                for h in range(24):
                    bulk_hour(store, start + h * HOUR)
                bulk_day_events(store, catalog, start, rng, SIM0 + (day - 1) // 7 * 7 * DAY)
            sampled = sample_results(store, devices, args.sample, start, rng)
            now = start + DAY
            while True:
                t0 = time.perf_counter()
                more = retention.prune_step(now, 10_000)
                step = time.perf_counter() - t0
                if step > longest_step:
                    longest_task = f"{retention.last_task} (day {day})"
                longest_step, prune_total = max(longest_step, step), prune_total + step
                task = retention.last_task
                n_steps, total_s, worst_s = step_stats.get(task, (0, 0.0, 0.0))
                step_stats[task] = (n_steps + 1, total_s + step, max(worst_s, step))
                if not more:
                    break
            if day in (1, 7, 35, 60, 100, 200, 300, args.days):
                sizes[day] = retention.disk_bytes()
                print(f"  day {day:>3}: store {sizes[day] / GB:.2f} GB, {time.perf_counter() - t_year:.0f} s,"
                      f" evaluation {timed_eval(evaluator, now, 1):.3f} s", file=sys.stderr)
        year_s = time.perf_counter() - t_year
        now = SIM0 + args.days * DAY
        eval_last = timed_eval(evaluator, now)
        turns = interleaved_evals(tmp / "day1.db", store, devices, settings, SIM0 + DAY, now)
        tables = dbstat(store)
        print("  table: bytes, rows, bytes/row", file=sys.stderr)
        for name, size in sorted(tables.items(), key=lambda kv: -kv[1]):
            rows = store.conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] if name.isidentifier() else 0
            print(f"  {name}: {size:,} B, {rows:,} rows, {size / max(1, rows):.1f} B/row", file=sys.stderr)
        print("  retention steps: task: count, total s, longest s", file=sys.stderr)
        for task, (count, total_s, worst_s) in sorted(step_stats.items(), key=lambda kv: -kv[1][2]):
            print(f"  {task}: {count}, {total_s:.1f}, {worst_s:.3f}", file=sys.stderr)
        file_bytes = retention.disk_bytes()
        store.close()
        start_s = startup(tmp / "netmon.db", devices, settings, now)
        back_to_v1(tmp / "netmon.db")
        upgrade_s = startup(tmp / "netmon.db", devices, settings, now)
    return report(args, devices, pcs, per_result, n_real, real_s, eval_day1, eval_last, tables, file_bytes, sizes,
                  start_s, upgrade_s, (longest_step, longest_task), prune_total, year_s, sampled, catalog, policy,
                  turns)


def report(args, devices, pcs, per_result, n_real, real_s, eval_day1, eval_last, tables, file_bytes, sizes,
           start_s, upgrade_s, longest, prune_total, year_s, sampled, catalog, policy, turns) -> list[str]:
    """Markdown lines: measurements, extrapolation, goals."""
    n, v = len(devices), len(catalog.villages)
    raw_full = (n * 1440 * policy.results_icmp_s / DAY * per_result["icmp"]
                + pcs * 288 * policy.results_s / DAY * per_result["snmp"])
    measured_raw = tables.get("results", 0)
    scale = min(1.0, args.days / (policy.rollups_s / DAY))
    rollups = tables.get("rollup_device_k", 0) + tables.get("rollup_village_k", 0)
    growing = sum(tables.get(t, 0) for t in ("analysis_outages", "flags", "dead_letters", "agent_runs"))
    fixed = sum(tables.values()) - measured_raw - rollups - growing  # one row per device/village/key
    overhead = file_bytes - sum(tables.values())  # free pages kept in reserve + WAL: not scaled
    dev_hourly = n * 24 * min(args.days, policy.device_hourly_s / DAY)
    dev_daily = n * max(0, args.days - policy.device_hourly_s / DAY)
    per_dev_row = tables.get("rollup_device_k", 0) / max(1, dev_hourly + dev_daily)
    per_vil_row = tables.get("rollup_village_k", 0) / max(1, v * 24 * args.days)
    hourly_days = policy.device_hourly_s / DAY
    steady_dev = per_dev_row * n * (24 * hourly_days + policy.rollups_s / DAY - hourly_days)
    steady_vil = per_vil_row * v * 24 * policy.rollups_s / DAY
    steady_rest = growing / scale + fixed
    steady = raw_full + steady_dev + steady_vil + steady_rest + max(0, overhead)
    ratio = turns[1] / turns[0]
    lines = [
        f"{n:,} targets ({pcs:,} PCs with SNMP every 300 s, ICMP every 60 s on all), {v:,} villages; "
        "default retention (ICMP results 1 d, other results 8 d, device rollups hourly 35 d then daily, "
        "rollups 400 d). "
        f"Real path for {args.hours:g} h ({n_real:,} results through writer + rollups in {real_s:.0f} s); "
        f"{args.days} simulated days in {year_s:.0f} s; raw results of {sampled:,} targets ({args.sample:.1%}) kept "
        f"through the year, the rest extrapolated.",
        "",
        "| measured | value |",
        "|---|---:|",
        f"| bytes per ICMP result (row + index) | {per_result['icmp']:.0f} |",
        f"| bytes per SNMP result (PC host-resources) | {per_result['snmp']:.0f} |",
        f"| bytes per device rollup row / village rollup row | {per_dev_row:.0f} / {per_vil_row:.0f} |",
        f"| store at day {args.days} (file + WAL, sampled raw results) | {file_bytes / GB:.2f} GB |",
        "| store by day | " + ", ".join(f"d{d} {s / GB:.2f}" for d, s in sorted(sizes.items())) + " GB |",
        f"| of which rollup_device / rollup_village / raw sample / outages+flags+letters+runs / per-key tables | "
        f"{tables.get('rollup_device_k', 0) / GB:.2f} / {tables.get('rollup_village_k', 0) / GB:.2f} / "
        f"{measured_raw / GB:.3f} / {growing / GB:.3f} / {fixed / GB:.3f} GB |",
        f"| retention: total / longest single step (10,000 rows) | {prune_total:.1f} s / "
        f"{longest[0] * 1000:.0f} ms ({longest[1]}) |",
        f"| evaluation day 1 / day {args.days}, each timed when it was that day | {eval_day1:.3f} s / {eval_last:.3f} s"
        f" ({eval_last / eval_day1:.2f}x) |",
        f"| evaluation on a copy of the day-1 store / day {args.days}, best of 5 taken in turns | {turns[0]:.3f} s /"
        f" {turns[1]:.3f} s ({ratio:.2f}x) |",
        f"| SQLite VM steps of one evaluation, day 1 / day {args.days} (thousands; load-proof) | {turns[2]:,} /"
        f" {turns[3]:,} ({turns[3] / max(1, turns[2]):.2f}x) |",
        f"| start-up: open + migrate + catalog + rollup state + first evaluation | {start_s:.2f} s |",
        f"| start-up after stepping the store back to schema v1 (upgrade, incl. v5's copy of every rollup) |"
        f" {upgrade_s:.2f} s |",
        "",
        "| projected steady state (day 400+) | GB |",
        "|---|---:|",
        f"| raw results, full inventory (extrapolated from bytes per result) | {raw_full / GB:.2f} |",
        f"| device rollups (35 d hourly + 365 d daily) | {steady_dev / GB:.2f} |",
        f"| village rollups (400 d hourly) | {steady_vil / GB:.2f} |",
        f"| outages, flags, dead letters, runs (scaled to 400 d) + per-key tables | {steady_rest / GB:.2f} |",
        f"| free pages in reserve + WAL (as measured) | {max(0, overhead) / GB:.2f} |",
        f"| **total** | **{steady / GB:.2f}** |",
        "",
        f"- steady-state store {steady / GB:.2f} GB (goal <= 8 GB): {'met' if steady <= 8 * GB else 'NOT met'}",
        f"- evaluation day {args.days} / day 1 = {ratio:.2f}x in turns (goal <= 1.2x): "
        f"{'met' if ratio <= 1.2 else 'NOT met'}",
        f"- start-up on the day-{args.days} store {start_s:.2f} s (goal < 10 s): "
        f"{'met' if start_s < 10 else 'NOT met'}; the one-off upgrade from schema v1 (v5 copies every rollup"
        f" row) {upgrade_s:.2f} s",
    ]
    return lines


def main() -> int:
    """Parse arguments, run, print and append to BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="600 targets, 40 days, 0.2 h real path (< 1 min)")
    parser.add_argument("--targets", type=int, default=None)
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--hours", type=float, default=None, help="hours of day 1 on the real path")
    parser.add_argument("--sample", type=float, default=0.01, help="share of targets whose raw results are kept")
    parser.add_argument("--tmp", default=None, help="folder for the scratch store (needs ~5 GB for a full run)")
    parser.add_argument("--no-append", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args()
    args.targets = args.targets or (600 if args.quick else 10_000)
    args.days = args.days or (40 if args.quick else 365)
    args.hours = args.hours if args.hours is not None else (0.2 if args.quick else 1.0)
    logging.getLogger("netmon").setLevel(logging.ERROR)  # flags on synthetic data are not news
    lines = run(args)
    print("\n".join(lines))
    if not args.no_append:
        command = "python3 bench/bench_year.py" + (" --quick" if args.quick else "") + "".join(
            f" --{k} {getattr(args, k)}" for k in ("targets", "days", "hours")
            if getattr(args, k) != parser.get_default(k) and not args.quick)
        stamp = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        load = "/".join(f"{x:.2f}" for x in os.getloadavg())
        block = [f"\n## A year on a small box: store size, evaluation, start-up ({stamp})", "",
                 f"Command: `{command}`", "", f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load before "
                 f"the run {load}.", "", *lines, ""]
        with open(Path(__file__).resolve().parents[1] / "BENCHMARKS.md", "a", encoding="utf-8") as fh:
            fh.write("\n".join(block))
    return 0


if __name__ == "__main__":
    sys.exit(main())
