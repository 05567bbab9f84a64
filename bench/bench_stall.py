"""Event-loop stalls: the daemon probing N loopback targets while its bookkeeping runs.

The daemon runs in this process (`netmon.daemon.Daemon`, the same object `netmon run` uses)
next to a sampler task that sleeps 10 ms at a time on the daemon's own event loop: each
oversleep is a stall, the time during which no ICMP reply could be timed, no probe sent. Before
it starts, the store is filled with history for every target: 24 h (the first-start rollup
catch-up) plus one hour older than `store.retention` (1 day here), so the first hourly prune has
an hour of rows to delete. During the measurement window these all run while probing goes on:

- the 24 h rollup catch-up (the store has results but no rollup cursor yet);
- village evaluations (`analysis.evaluate_every` 30 s, 10 s with --quick);
- the retention prune of the hour past retention (the first housekeeping step);
- WAL checkpoints (every commit in the old code; the bookkeeping thread's in the new);
- full garbage collections (their pauses are timed through `gc.callbacks`).

Measured: the longest stall and its p99/p99.9 over the window, loopback RTT (each result's
`maximum_response_ms`: its worst packet) p99.9 and max, false timeouts (loopback always answers,
so any result not `ok` and any packet not received is one), and the longest gen-2 GC pause.

Goals (issue 14): at 20,000 targets longest stall <= 50 ms, RTT p99.9 < 5 ms, zero false
timeouts; at 100,000 targets longest stall <= 100 ms.

    python3 bench/bench_stall.py --quick               # 1,000 targets, 10 s interval (< 1 min)
    python3 bench/bench_stall.py --sizes 20000         # the goal's first size, 60 s interval
    python3 bench/bench_stall.py --netmon-from /path   # measure another checkout (the code before)
    python3 bench/bench_stall.py --sizes 100000 --reload-at 30   # plus a config reload (SIGHUP) in the window

History is stored at a coarser interval than the probing (default: about 3 million rows per
size, 600 s at 20k targets) so the fill stays minutes, not hours; the catch-up is then that many
rows instead of a full day at 60 s. The table says how many rows each run caught up on.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import logging
import os
import platform
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RETENTION_S = 86400
CATCHUP_S = 86400
HISTORY_ROWS = 3_000_000
PROFILE = """kind: stallping
coverage: true
checks:
  - {name: reachability, prober: icmp, interval: %ds, count: 3, timeout: 2s, packet_interval: 200ms}
"""


@dataclass
class Run:
    """What one size measured."""

    n: int
    interval_s: int
    window_s: float
    history_interval_s: int
    worst: list[tuple[float, float]] = field(default_factory=list)
    """(lag ms, seconds after the daemon's start) of the longest stalls, to match them to its log."""
    idle_lags_ms: list[float] = field(default_factory=list)
    """The same sampler for 5 s before the daemon starts: what the machine alone adds."""
    history_rows: int = 0
    fill_s: float = 0.0
    lags_ms: list[float] = field(default_factory=list)
    gc_pauses_ms: list[float] = field(default_factory=list)
    rtts_ms: list[float] = field(default_factory=list)
    results: int = 0
    not_ok: int = 0
    lost_packets: int = 0
    pruned: int = 0
    caught_up: int = 0
    catchup_left: int = 0
    evaluations: int = 0
    reload_at_s: float | None = None
    """Seconds into the window at which the daemon is told to reload its config (as on SIGHUP)."""
    reload_took_s: float | None = None
    reload_stall_ms: float = 0.0
    """Longest stall from the reload request until the daemon logged "reloaded"."""
    reloading_since: float | None = None

    def q(self, values: list[float], share: float) -> float:
        """The `share` quantile (0..1) of values, nearest rank."""
        if not values:
            return 0.0
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def host_of(i: int) -> str:
    """The i-th distinct loopback address, 127.1.0.1 upwards."""
    return f"127.{1 + i // (256 * 254)}.{(i // 254) % 256}.{i % 254 + 1}"


def write_config(folder: Path, n: int, interval_s: int, evaluate_s: int) -> Path:
    """Config + profile + n targets, 10 per village (every one a coverage device), 50 villages per commune."""
    (folder / "profiles").mkdir(parents=True)
    (folder / "profiles" / "stallping.yaml").write_text(PROFILE % interval_s, encoding="utf-8")
    lines = ["version: 1", "agent: {name: bench-stall, state_dir: state}", "scheduler: {max_pps: 8000}",
             f"store: {{retention: {RETENTION_S}s}}", f"analysis: {{evaluate_every: {evaluate_s}s}}",
             "profiles: [profiles]", "inventory:", "  - name: Lai Châu", "    communes:"]
    for v in range((n + 9) // 10):
        if v % 50 == 0:
            lines += [f"      - name: Xã Sìn Hồ {v // 50}", "        villages:"]
        lines += [f"          - name: Bản Tả Phìn {v}", "            devices:"]
        lines += [f"              - {{name: cpe-{d}, kind: stallping, host: {host_of(d)}}}"
                  for d in range(v * 10, min(n, v * 10 + 10))]
    path = folder / "netmon.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fill_history(config, run: Run) -> None:
    """Store history for every target: 24 h plus one hour past retention, oldest first (rows as netmon writes them)."""
    from netmon.model import Sample
    from netmon.store import Store, encode_samples

    store = Store.open(config.state_dir)
    fields = {"packets_transmitted": 3, "packets_received": 3, "percent_packet_loss": 0.0,
              "minimum_response_ms": 0.04, "average_response_ms": 0.05, "maximum_response_ms": 0.07,
              "standard_deviation_ms": 0.01, "result_code": 0}
    devices = [(d.id, encode_samples([Sample("ping", fields, {"url": host_of(i)})]))
               for i, d in enumerate(config.devices)]
    now = time.time()
    step = run.history_interval_s
    start = now - CATCHUP_S - 3600 - 120
    t0 = time.monotonic()
    sql = ("INSERT INTO results (ts, device_id, check_name, prober, status, reason, duration_s, samples)"
           " VALUES (?, ?, 'reachability', 'icmp', 'ok', '3/3 replies', 0.41, ?)")
    for k in range(int((CATCHUP_S + 3600) // step)):
        base = start + k * step
        with store.transaction() as conn:
            conn.executemany(sql, [(base + step * i / len(devices), device_id, samples)
                                   for i, (device_id, samples) in enumerate(devices)])
        run.history_rows += len(devices)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    run.fill_s = time.monotonic() - t0


class _Counter(logging.Handler):
    """Picks the prune count out of the daemon's log lines."""

    def __init__(self, run: Run) -> None:
        super().__init__(logging.INFO)
        self.run = run

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if msg.startswith("retention: deleted "):
            self.run.pruned += int(msg.split()[2])
        elif msg.startswith("reloaded ") and self.run.reloading_since is not None:
            self.run.reload_took_s = time.monotonic() - self.run.reloading_since
            self.run.reloading_since = None


async def idle_baseline(run: Run, seconds: float = 5.0) -> None:
    """Sample an empty loop: on a shared machine the scheduler alone makes stalls of a few ms."""
    last, end = time.monotonic(), time.monotonic() + seconds
    while time.monotonic() < end:
        await asyncio.sleep(0.01)
        now = time.monotonic()
        run.idle_lags_ms.append(max(0.0, (now - last - 0.01) * 1000))
        last = now


async def drive(daemon, run: Run, warmup_s: float) -> None:
    """Sample loop lag every 10 ms through the window, then stop the daemon."""
    started = time.monotonic()
    window_start = started + warmup_s
    end = window_start + run.window_s
    last = time.monotonic()
    while (now := time.monotonic()) < end:
        await asyncio.sleep(0.01)
        now = time.monotonic()
        if now >= window_start:
            lag = max(0.0, (now - last - 0.01) * 1000)
            run.lags_ms.append(lag)
            if run.reloading_since is not None:
                run.reload_stall_ms = max(run.reload_stall_ms, lag)
            elif run.reload_at_s is not None and run.reload_took_s is None and now >= window_start + run.reload_at_s:
                run.reloading_since = now
                daemon._request_reload()  # what the SIGHUP handler does
            if lag > 20:
                run.worst.append((lag, last - started))
        last = now
    daemon.stop_event.set()


def measure(n: int, interval_s: int, window_s: float, history_interval_s: int, evaluate_s: int,
            reload_at_s: float | None = None) -> Run:
    """Fill a store, run the daemon on it for the window (after one interval of warm-up) and read back."""
    from netmon.config import load_config
    from netmon.daemon import Daemon

    run = Run(n, interval_s, window_s, history_interval_s, reload_at_s=reload_at_s)
    with tempfile.TemporaryDirectory(prefix="bench-stall-") as tmp:
        folder = Path(tmp)
        config = load_config(write_config(folder, n, interval_s, evaluate_s))
        fill_history(config, run)
        print(f"  {n:,} targets: {run.history_rows:,} history rows stored in {run.fill_s:.0f} s; running",
              file=sys.stderr)
        pauses: dict[str, float] = {}

        def on_gc(phase: str, info: dict) -> None:
            # Only inside the window: the start-up's own collect-and-freeze is not a stall of probing.
            if info.get("generation") == 2 and time.time() >= t_start + interval_s:
                if phase == "start":
                    pauses["t"] = time.perf_counter()
                elif "t" in pauses:
                    run.gc_pauses_ms.append((time.perf_counter() - pauses.pop("t")) * 1000)

        counter = _Counter(run)
        logging.getLogger().addHandler(counter)
        asyncio.run(idle_baseline(run))
        t_start = time.time()
        gc.callbacks.append(on_gc)
        try:
            daemon = Daemon(config)

            async def main() -> None:
                driver = asyncio.create_task(drive(daemon, run, warmup_s=float(interval_s)))
                await daemon.run()
                await driver

            asyncio.run(main())
        finally:
            gc.callbacks.remove(on_gc)
            logging.getLogger().removeHandler(counter)
        read_back(run, config.state_dir / "netmon.db", t_start + interval_s, t_start + interval_s + window_s)
    return run


def read_back(run: Run, db: Path, start: float, end: float) -> None:
    """RTTs and false timeouts of the window's rounds; how far the catch-up got; evaluations done."""
    from netmon.codec import sample_rows

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT status, samples FROM results WHERE prober = 'icmp' AND ts >= ? AND ts < ?",
                            (start, end)).fetchall()
        for status, samples in rows:
            run.results += 1
            run.not_ok += status != "ok"
            for measurement, _tags, fields in sample_rows(samples):  # compact BLOB or older JSON rows
                if measurement == "ping":
                    sent, got = fields.get("packets_transmitted", 0), fields.get("packets_received", 0)
                    run.lost_packets += int(sent) - int(got)
                    if "maximum_response_ms" in fields:
                        run.rtts_ms.append(float(fields["maximum_response_ms"]))
        cursor = conn.execute("SELECT value FROM analysis_meta WHERE key = 'rollup_cursor'").fetchone()
        cursor = int(cursor[0]) if cursor else 0
        run.caught_up = min(cursor, run.history_rows)
        run.catchup_left = max(0, run.history_rows - cursor)
        run.evaluations = conn.execute("SELECT count(DISTINCT ts) FROM results WHERE prober = 'analysis'"
                                       " AND check_name = 'village-status'").fetchone()[0]


def table(runs: list[Run]) -> list[str]:
    """Markdown table of every run."""
    out = ["| targets | interval | window s | longest stall ms | stall p99 / p99.9 ms | stalls > 50 ms "
           "| idle loop max / p99 ms "
           "| longest gen-2 GC in window ms (count) | RTT p99.9 / max ms | false timeouts (results, packets) "
           "| history rows (every) | rolled up in window | pruned | evaluations |",
           "|---:|---:|---:|---:|---|---:|---|---|---|---|---|---:|---:|---:|"]
    for r in runs:
        out.append(
            f"| {r.n:,} | {r.interval_s} s | {r.window_s:.0f} | {max(r.lags_ms, default=0):.1f} "
            f"| {r.q(r.lags_ms, 0.99):.1f} / {r.q(r.lags_ms, 0.999):.1f} | {sum(x > 50 for x in r.lags_ms)} "
            f"| {max(r.idle_lags_ms, default=0):.1f} / {r.q(r.idle_lags_ms, 0.99):.1f} "
            f"| {max(r.gc_pauses_ms, default=0):.0f} ({len(r.gc_pauses_ms)}) "
            f"| {r.q(r.rtts_ms, 0.999):.2f} / {max(r.rtts_ms, default=0):.1f} "
            f"| {r.not_ok} of {r.results:,}, {r.lost_packets} | {r.history_rows:,} ({r.history_interval_s} s) "
            f"| {r.caught_up:,}{' (not finished)' if r.catchup_left else ''} | {r.pruned:,} | {r.evaluations} |")
    return out


def verdicts(runs: list[Run]) -> list[str]:
    """One line per goal that a run can judge."""
    lines = []
    for r in runs:
        stall = max(r.lags_ms, default=0.0)
        limit = 100.0 if r.n >= 100_000 else 50.0
        rtt = r.q(r.rtts_ms, 0.999)
        met = stall <= limit and (r.n >= 100_000 or (rtt < 5.0 and r.not_ok == 0 and r.lost_packets == 0))
        lines.append(f"- {r.n:,} targets: longest stall {stall:.0f} ms (goal <= {limit:.0f}), RTT p99.9 "
                     f"{rtt:.2f} ms (goal < 5), false timeouts {r.not_ok} results / {r.lost_packets} packets "
                     f"(goal 0) -> {'met' if met else 'NOT met'}")
    return lines


def main() -> int:
    """Run the sizes, print the table, append a dated block to BENCHMARKS.md."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1,000 targets, 10 s interval, 20 s window")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=None)
    ap.add_argument("--interval", type=int, default=None, help="probe interval, seconds")
    ap.add_argument("--window", type=float, default=None, help="measured seconds after one interval of warm-up")
    ap.add_argument("--history-interval", type=int, default=None, help="seconds between stored history rounds")
    ap.add_argument("--netmon-from", type=Path, default=REPO, help="checkout whose netmon package to measure")
    ap.add_argument("--no-append", action="store_true", help="do not append to BENCHMARKS.md")
    ap.add_argument("--reload-at", type=float, default=None,
                    help="seconds into the window at which the daemon reloads its config (as on SIGHUP)")
    args = ap.parse_args()
    sys.path.insert(0, str(args.netmon_from.resolve()))
    from netmon.logs import setup_logging

    setup_logging(0)
    logging.getLogger("netmon.writer").setLevel(logging.ERROR)  # device up/down lines: none expected
    sizes = args.sizes or ([1000] if args.quick else [20_000])
    interval = args.interval or (10 if args.quick else 60)
    window = args.window or (20.0 if args.quick else 180.0)
    evaluate = 10 if args.quick else 30
    load = os.getloadavg()
    runs = []
    for n in sizes:
        every = args.history_interval or max(600, round(n * (CATCHUP_S + 3600) / HISTORY_ROWS / 60) * 60)
        if args.quick and not args.history_interval:
            every = 300
        runs.append(measure(n, interval, window, every, evaluate, args.reload_at))
    lines = [*table(runs), "", *verdicts(runs)]
    for r in runs:
        if r.reload_at_s is not None:
            took = f"{r.reload_took_s:.1f} s" if r.reload_took_s is not None else "did not finish in the window"
            lines.append(f"- {r.n:,} targets: a config reload {r.reload_at_s:.0f} s into the window took {took}; "
                         f"longest stall while it ran {r.reload_stall_ms:.1f} ms")
    for r in runs:
        worst = sorted(r.worst, reverse=True)[:5]
        if worst:
            lines.append(f"- {r.n:,} targets, longest stalls (ms at s after start): "
                         + ", ".join(f"{lag:.0f} at {at:.1f}" for lag, at in worst))
    print("\n".join(lines))
    if not args.no_append:
        command = "python3 " + " ".join(["bench/bench_stall.py", *sys.argv[1:]])
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        block = [f"\n## Event-loop stalls ({stamp})", "", f"Command: `{command}`", "",
                 f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load average before the run "
                 f"{load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}; code measured: `{args.netmon_from}`. The daemon in "
                 f"process with a 10 ms sampler on its loop; ICMP count 3, timeout 2 s, distinct 127.x.y.z "
                 f"targets; store pre-filled with 25 h of history (first-start catch-up of 24 h, one hour to "
                 f"prune), evaluations every {evaluate} s; window after one interval of warm-up.", "", *lines, ""]
        with (REPO / "BENCHMARKS.md").open("a", encoding="utf-8") as fh:
            fh.write("\n".join(block))
    return 0


if __name__ == "__main__":
    sys.exit(main())
