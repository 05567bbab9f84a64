"""Village evaluation cost vs history length: 5,000 villages with 1 day and 30 days of rollups.

Synthetic hourly rollups (plus outages, device state and an agent run) are written straight into
a temporary store; then full evaluations (windows 1 h and 24 h, flags, village_status rows and
results) are timed: the first one (what a daemon pays after a start or a config reload: a new
Evaluator, cold caches) and the best of the following ones (warm), both wall and CPU of this
process. Goals: 5,000 villages < 1 s, and 30 d / 1 d <= 1.2 (cost flat in history); both are
judged on the first evaluation too, which the best-of figure alone would hide.

    python3 bench/bench_analysis.py            # 5,000 villages, 1 d vs 30 d, first + best of 3 more
    python3 bench/bench_analysis.py --quick    # 2,000 villages, first + best of 2 more, under a minute
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netmon.analysis.catalog import build_catalog
from netmon.analysis.db import HIST_BUCKETS, HIST_COLUMNS, ROLLUP_COUNTERS, ensure_schema, pack_hist
from netmon.analysis.evaluator import Evaluator
from netmon.config.schema import AgentConfig
from netmon.model import Device
from netmon.store import Store

HOUR = 3600.0


def devices(n: int) -> list[Device]:
    """One commune router per 50 villages, one CPE per village under it."""
    out = []
    for c in range(0, n, 50):
        router = f"p/c{c}/router"
        out.append(Device(router, "router", "router", "router", "P", f"C{c}", "", host="127.0.0.1"))
        for v in range(c, min(n, c + 50)):
            out.append(Device(f"p/c{c}/v{v}/cpe", "cpe", "cpe", "cpe", "P", f"C{c}", f"V{v}", host="127.0.0.1",
                              parent=router, operator=("VNPT", "Viettel", "MobiFone")[v % 3],
                              lat=22.0 + v * 1e-4, lon=103.0))
    return out


def fill(store: Store, n: int, days: int, now: float) -> None:
    """Hourly village and device rollups for `days`, 1 outage per 10 villages per day."""
    rng = random.Random(days)
    cols = [*ROLLUP_COUNTERS, *HIST_COLUMNS.split(", ")]
    marks = ", ".join("?" * (len(cols) + 2))
    sql_v = f"INSERT INTO rollup_village (bucket_ts, village_id, {', '.join(cols)}) VALUES ({marks})"
    start = now - now % HOUR - days * 86400
    with store.transaction() as conn:
        for h in range(days * 24 + 1):
            bucket = start + h * HOUR
            rows = []
            for v in range(n):
                up = 60 - (rng.random() < 0.05)
                hist = [0] * HIST_BUCKETS
                hist[8 + v % 5] = up
                rows.append((bucket, f"p/c{v - v % 50}/v{v}", 60, up, 0, 180, 3 * up - (v % 7 == 0), 20, 20,
                             int(up < 60), 60.0 * (60 - up), 0.0, *pack_hist(hist)))
            conn.executemany(sql_v, rows)
        outages = [(f"p/c{v - v % 50}/v{v}/cpe", f"p/c{v - v % 50}/v{v}", t, t + 300.0, "link")
                   for d in range(days) for v in range(0, n, 10) for t in [now - (d + 1) * 86400 + v]]
        conn.executemany("INSERT INTO analysis_outages (device_id, village_id, start_ts, end_ts, cause)"
                         " VALUES (?,?,?,?,?)", outages)
        conn.executemany("INSERT INTO analysis_device_state (device_id, up, since_ts, last_ts, last_up_ts)"
                         " VALUES (?,?,?,?,?)",
                         [(f"p/c{v - v % 50}/v{v}/cpe", 1, now - 3600, now - 30, now - 30) for v in range(n)])
    store.mark_alive(now - days * 86400, 1, now)


@dataclass
class Timing:
    """Seconds of one history length: the first evaluation and the best warm one (wall and CPU)."""

    first_s: float
    first_cpu_s: float
    warm_s: float
    warm_cpu_s: float
    load: float


def bench(n: int, days: int, repeats: int) -> Timing:
    """The first evaluation of `n` villages over `days` of rollups, then the best of `repeats` more."""
    settings = AgentConfig.model_validate({"version": 1, "agent": {"timezone": "Asia/Ho_Chi_Minh"}})
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "netmon.db")
        ensure_schema(store)
        t0 = time.perf_counter()
        fill(store, n, days, now)
        print(f"  filled {days:>2} d x {n} villages in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        load = os.getloadavg()[0]
        runs = []
        evaluator = Evaluator(store, build_catalog(devices(n), None, settings), settings)
        for _ in range(1 + repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            results, evals = evaluator.evaluate(now)
            runs.append((time.perf_counter() - t0, time.process_time() - c0))
            assert len(results) == n and len(evals) == n
        store.close()
    warm = min(runs[1:])
    return Timing(runs[0][0], runs[0][1], warm[0], warm[1], load)


def main() -> int:
    """Run the benchmark, print a table and append it to BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 villages, best of 2 (under a minute)")
    parser.add_argument("--villages", type=int, default=None)
    parser.add_argument("--no-append", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args()
    logging.getLogger("netmon").setLevel(logging.ERROR)  # flags raised on synthetic data are not news
    n = args.villages or (2000 if args.quick else 5000)
    repeats = 2 if args.quick else 3
    one, thirty = bench(n, 1, repeats), bench(n, 30, repeats)
    ratio_first, ratio = thirty.first_s / one.first_s, thirty.warm_s / one.warm_s
    worst = max(one.first_s, thirty.first_s, one.warm_s, thirty.warm_s)
    lines = [
        "| villages | history | first evaluation s (CPU s) | best warm s (CPU s) | per village ms (first / warm) "
        "| load 1m |",
        "|---:|---:|---:|---:|---:|---:|",
        *(f"| {n} | {d} d | {t.first_s:.3f} ({t.first_cpu_s:.3f}) | {t.warm_s:.3f} ({t.warm_cpu_s:.3f}) "
          f"| {1000 * t.first_s / n:.3f} / {1000 * t.warm_s / n:.3f} | {t.load:.2f} |"
          for d, t in ((1, one), (30, thirty))),
        "",
        f"30 d / 1 d = {ratio:.2f}x warm, {ratio_first:.2f}x first (goal <= 1.2x); {n} villages in "
        f"{thirty.first_s:.3f} s first, {thirty.warm_s:.3f} s warm (goal < 1 s for 5,000): "
        f"{'OK' if max(ratio, ratio_first) <= 1.2 and worst * 5000 / n < 1.0 else 'MISSED'}",
        f"CPU (less swayed by a loaded machine than wall time): 30 d / 1 d = "
        f"{thirty.warm_cpu_s / one.warm_cpu_s:.2f}x warm, {thirty.first_cpu_s / one.first_cpu_s:.2f}x first; "
        f"first / warm = {thirty.first_cpu_s / thirty.warm_cpu_s:.2f}x at 30 d",
        f"Counted: one `Evaluator.evaluate` call (reading rollups, outages and device state, judging, flags, "
        f"village_status rows and results); first = the first call of a new Evaluator, warm = best of "
        f"{repeats} calls after it. Not counted: filling the store, building the catalog.",
    ]
    print("\n".join(lines))
    if not args.no_append:
        command = "python3 bench/bench_analysis.py" + (" --quick" if args.quick else "") \
            + (f" --villages {args.villages}" if args.villages else "")
        stamp = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        block = [f"\n## Village evaluation vs history ({stamp})", "", f"Command: `{command}`", "", *lines, ""]
        with open(Path(__file__).resolve().parents[1] / "BENCHMARKS.md", "a", encoding="utf-8") as fh:
            fh.write("\n".join(block))
    return 0


if __name__ == "__main__":
    sys.exit(main())
