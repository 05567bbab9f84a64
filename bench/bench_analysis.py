"""Village evaluation cost vs history length: 5,000 villages with 1 day and 30 days of rollups.

Synthetic hourly rollups (plus outages, device state and an agent run) are written straight into
a temporary store; then one full evaluation (windows 1 h and 24 h, flags, village_status rows and
results) is timed. Goals: 5,000 villages < 1 s, and 30 d / 1 d <= 1.2 (cost flat in history).

    python3 bench/bench_analysis.py            # 5,000 villages, 1 d vs 30 d, best of 3
    python3 bench/bench_analysis.py --quick    # 2,000 villages, best of 2, under a minute
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import random
import sys
import tempfile
import time
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


def bench(n: int, days: int, repeats: int) -> float:
    """Best-of-`repeats` seconds of one evaluation of `n` villages over `days` of rollups."""
    settings = AgentConfig.model_validate({"version": 1, "agent": {"timezone": "Asia/Ho_Chi_Minh"}})
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "netmon.db")
        ensure_schema(store)
        t0 = time.perf_counter()
        fill(store, n, days, now)
        print(f"  filled {days:>2} d x {n} villages in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        evaluator = Evaluator(store, build_catalog(devices(n), None, settings), settings)
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            results, evals = evaluator.evaluate(now)
            best = min(best, time.perf_counter() - t0)
            assert len(results) == n and len(evals) == n
        store.close()
    return best


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
    ratio = thirty / one
    lines = [
        "| villages | history | evaluation s | per village ms |",
        "|---:|---:|---:|---:|",
        f"| {n} | 1 d | {one:.3f} | {1000 * one / n:.3f} |",
        f"| {n} | 30 d | {thirty:.3f} | {1000 * thirty / n:.3f} |",
        "",
        f"30 d / 1 d = {ratio:.2f}x (goal <= 1.2x); {n} villages in {thirty:.3f} s "
        f"(goal < 1 s for 5,000): {'OK' if ratio <= 1.2 and max(one, thirty) * 5000 / n < 1.0 else 'MISSED'}",
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
