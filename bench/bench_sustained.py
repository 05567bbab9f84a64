"""Sustained load: the real daemon (`python3 -m netmon run`) pinging N loopback targets every interval.

Each size gets a fresh temporary folder: a config (state_dir inside it, `scheduler: {max_pps}`
raised so N x 3 packets fit in one interval: the default 2,000 pps caps 100k x 3 / 60 s = 5,000),
a `profiles:` folder with one ICMP profile (count 3, timeout 2 s, packet_interval 200 ms) and an
inventory of N distinct addresses 127.x.y.z (x >= 1; loopback answers every one of them, so
nothing leaves the machine). The daemon runs as a child process; after one warm-up interval the
bench measures R intervals:

- CPU % of one core: utime+stime deltas of /proc/PID/stat over the window;
- RSS: VmRSS at the end and VmHWM (peak) from /proc/PID/status;
- scheduler lag: the max `scheduler_lag_s` the daemon wrote to agent_state (heartbeat every 10 s),
  and from the stored results: how late each batch round started against its phase (the first
  packet of the batch) and how late targets' first packets left (p99, includes max_pps pacing);
- results/s: rows in `results` whose ts falls in each measured interval, / interval.

Goals (issue 10): 100k targets/min at 3 packets each on one core with scheduler lag < 2 s;
RSS <= 150 MB at 20k targets.

    python3 bench/bench_sustained.py --quick    # 2,000 targets, 10 s interval, 2 intervals (< 1 min)
    python3 bench/bench_sustained.py            # 20k and 100k targets, 60 s interval, 3 intervals
    python3 bench/bench_sustained.py --sizes 100000 --profile   # + py-spy top functions (pip install py-spy)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netmon.scheduler import phase_of  # noqa: E402

CHECK = "reachability"
OUTPUT = "main"
SLICE_S = 1.0
"""The scheduler's default slice: a batch's offset is its phase rounded down to this."""
PROFILE = f"""kind: benchping
coverage: true
checks:
  - {{name: {CHECK}, prober: icmp, interval: %ds, count: 3, timeout: 2s, packet_interval: 200ms}}
"""
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    """What one size measured."""

    n: int
    interval_s: int
    rounds: int
    max_pps: int
    startup_s: float = 0.0
    cpu_pct: float = 0.0
    cpu_pct_peak: float = 0.0
    rss_mb: float = 0.0
    hwm_mb: float = 0.0
    state_lag_s: float = 0.0
    round_lag_s: float = 0.0
    send_lag_p99_s: float = 0.0
    per_interval: list[int] = field(default_factory=list)
    ok_pct: float = 0.0
    exit_code: int = 0
    profile: str = ""
    main_cpu_pct: float = 0.0
    """The daemon's main process alone (probing, writing, forwarding); cpu_pct adds its children."""
    first_cpu_s: float = 0.0
    first_s: float = 0.0
    """CPU of the whole tree from start to the window: start-up, first rounds, first evaluation."""
    window_cpu_s: float = 0.0
    icmp_results: int = 0
    evaluations: int = 0
    pruned: int = 0
    prefilled: int = 0
    forwarded_behind: int = -1
    fping: dict[str, tuple[float, int]] = field(default_factory=dict)
    """mode -> (fping's own CPU s, replies) over the same targets, one process at a time."""
    load: float = 0.0

    @property
    def us_per_result(self) -> float:
        """The daemon tree's CPU in the window per ICMP result stored in it."""
        return 1e6 * self.window_cpu_s / self.icmp_results if self.icmp_results else float("nan")

    @property
    def results_per_s(self) -> float:
        """Mean results per second over the measured intervals."""
        return sum(self.per_interval) / (len(self.per_interval) * self.interval_s) if self.per_interval else 0.0

    @property
    def lag_s(self) -> float:
        """The worst of the lag measures that the goal is about (round starts and the daemon's own)."""
        return max(self.state_lag_s, self.round_lag_s)


def host_of(i: int) -> str:
    """The i-th distinct loopback address, 127.1.0.1 upwards (z in 1..254)."""
    return f"127.{1 + i // (256 * 254)}.{(i // 254) % 256}.{i % 254 + 1}"


def write_config(folder: Path, n: int, interval_s: int, max_pps: int, influx_url: str | None,
                 evaluate_s: int | None = None) -> Path:
    """Config + profile + an inventory of n targets, 10 per village, 50 villages per commune.

    With `influx_url`: one InfluxDB output (v1, loopback). Villages are evaluated every interval
    (the profile's kind carries coverage), so evaluations fall inside the measured window, or
    every `evaluate_s` (300: the shipped default, with a window of at least 5 intervals).
    """
    (folder / "profiles").mkdir(parents=True)
    (folder / "profiles" / "benchping.yaml").write_text(PROFILE % interval_s, encoding="utf-8")
    lines = ["version: 1", "agent: {name: bench-sustained, state_dir: state}",
             f"scheduler: {{max_pps: {max_pps}}}", "profiles: [profiles]",
             f"analysis: {{evaluate_every: {evaluate_s or interval_s}s}}"]
    if influx_url:
        lines += ["outputs:", "  influxdb:",
                  f"    - {{name: {OUTPUT}, url: '{influx_url}', api: v1, database: netmon}}"]
    lines += ["inventory:", "  - name: Lai Châu", "    communes:"]
    for v in range((n + 9) // 10):
        if v % 50 == 0:
            lines += [f"      - name: Xã Sìn Hồ {v // 50}", "        villages:"]
        lines += [f"          - name: Bản Tả Phìn {v}", "            devices:"]
        lines += [f"              - {{name: cpe-{d}, kind: benchping, host: {host_of(d)}}}"
                  for d in range(v * 10, min(n, v * 10 + 10))]
    path = folder / "netmon.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def tree_pids(pid: int) -> list[int]:
    """`pid` and every live descendant (the bookkeeping process runs rollups, evaluation, retention)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its live descendants (a child that exited is not counted)."""
    total = 0.0
    for p in tree_pids(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):  # exited meanwhile
            total += cpu_s(p)
    return total


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def state_lag(db: Path) -> float | None:
    """The daemon's latest `scheduler_lag_s` heartbeat value, if written yet."""
    if not db.exists():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute("SELECT value FROM agent_state WHERE key = 'scheduler_lag_s'").fetchone()
    except sqlite3.OperationalError:
        return None  # schema not there yet
    return float(row[0]) if row else None


def wait_started(proc: subprocess.Popen, log: Path, limit_s: float) -> float:
    """Seconds until the daemon logs that it started; raises if it dies or takes too long."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        if proc.poll() is not None:
            raise RuntimeError(f"daemon exited {proc.returncode}:\n{log.read_text()[-2000:]}")
        if " started: " in log.read_text(errors="replace"):
            return time.monotonic() - t0
        time.sleep(0.1)
    raise RuntimeError(f"daemon did not start within {limit_s:.0f} s:\n{log.read_text()[-2000:]}")


def sample_window(run: Run, proc: subprocess.Popen, db: Path, window: tuple[float, float]) -> None:
    """Poll CPU and heartbeat lag every second through the window (bounded by its end time)."""
    start, end = window
    while time.time() < start:
        time.sleep(min(0.5, start - time.time()))
    cpu0, main0 = tree_cpu_s(proc.pid), cpu_s(proc.pid)
    run.first_cpu_s, run.load = cpu0, os.getloadavg()[0]
    last_cpu, last_t = cpu0, time.time()
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"daemon exited {proc.returncode} during the measurement")
        time.sleep(min(1.0, max(0.0, end - time.time())))
        lag = state_lag(db)
        run.state_lag_s = max(run.state_lag_s, lag or 0.0)
        now, cpu = time.time(), tree_cpu_s(proc.pid)
        if now - last_t >= run.interval_s - 0.5 or now >= end:
            run.cpu_pct_peak = max(run.cpu_pct_peak, 100 * (cpu - last_cpu) / (now - last_t))
            last_cpu, last_t = cpu, now
    elapsed = time.time() - start
    run.window_cpu_s = tree_cpu_s(proc.pid) - cpu0
    run.cpu_pct = 100 * run.window_cpu_s / elapsed
    run.main_cpu_pct = 100 * (cpu_s(proc.pid) - main0) / elapsed
    run.rss_mb, run.hwm_mb = memory_mb(proc.pid)


def prefill(folder: Path, n: int, rows: int, with_output: bool) -> int:
    """Rows older than the ICMP retention (1 day), already acknowledged: the first prune has work.

    Device ids are of devices no longer in the inventory (their rows age out like any other).
    """
    from netmon.model import ProbeResult, Sample, Status
    from netmon.store import Store

    store = Store.open(folder / "state")
    t0 = time.time() - 3 * 86400
    fields = {"packets_transmitted": 3, "packets_received": 3, "percent_packet_loss": 0.0, "result_code": 0,
              "minimum_response_ms": 0.05, "average_response_ms": 0.07, "maximum_response_ms": 0.1,
              "standard_deviation_ms": 0.02}
    for k in range(0, rows, 50_000):
        store.append([ProbeResult(f"gone/old-{i % n}", CHECK, "icmp", Status.OK, "3/3 replies", t0 + i * 0.01, 0.01,
                                  (Sample("ping", fields, {"url": host_of(i % n)}),))
                      for i in range(k, min(rows, k + 50_000))])
    if with_output:
        store.set_cursor(OUTPUT, store.max_seq())
    count = store.count()
    store.close()
    return count


def run_fping(run: Run, folder: Path, max_pps: int) -> None:
    """fping -C3 over the daemon's targets, paced like it and as a sweep; its own CPU from wait4.

    One fping process at a time (shards of 21,844 targets beyond that, one after another).
    """
    hosts = [host_of(i) for i in range(run.n)]
    per_shard = 65_534 // 3
    modes = {"paced": ["-i", f"{1000 / max_pps:g}", "-p", "200", "-t", "2000"],
             "sweep": ["-i", "0", "-p", "10", "-t", "500"]}
    for mode, opts in modes.items():
        cpu, replies = 0.0, 0
        for k in range(0, run.n, per_shard):
            path = folder / f"fping_{k}.txt"
            path.write_text("\n".join(hosts[k:k + per_shard]) + "\n")
            proc = subprocess.Popen(["fping", "-q", "-C", "3", "-r", "0", *opts, "-f", str(path)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            err = proc.stderr.read() if proc.stderr else ""
            _pid, _status, usage = os.wait4(proc.pid, 0)
            proc.returncode = 0
            cpu += usage.ru_utime + usage.ru_stime
            replies += sum(1 for line in err.splitlines() if " : " in line
                           for v in line.split(" : ", 1)[1].split() if v != "-")
        run.fping[mode] = (cpu, replies)


def analyse_results(run: Run, db: Path, window: tuple[float, float]) -> None:
    """Results per interval, ok share, and how late batch rounds and first packets went out."""
    start, end = window
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT device_id, ts, status FROM results WHERE ts >= ? AND ts < ? AND prober = 'icmp'"
                            " AND device_id NOT LIKE 'gone/%'", (start, end)).fetchall()
        run.evaluations = conn.execute("SELECT count(DISTINCT ts) FROM results WHERE prober = 'analysis'"
                                       " AND ts >= ? AND ts < ?", (start, end)).fetchone()[0]
        left = conn.execute("SELECT count(*) FROM results WHERE device_id LIKE 'gone/%'").fetchone()[0]
        run.pruned = run.prefilled - left
        cursor = conn.execute("SELECT seq FROM cursors WHERE output = ?", (OUTPUT,)).fetchone()
        if cursor:
            run.forwarded_behind = conn.execute("SELECT count(*) FROM results WHERE seq > ?",
                                                (cursor[0],)).fetchone()[0]
    interval = run.interval_s
    run.per_interval = [0] * run.rounds
    batches: dict[tuple[float, int], float] = {}
    lateness = []
    ok = 0
    for device_id, ts, status in rows:
        run.per_interval[min(run.rounds - 1, int((ts - start) // interval))] += 1
        ok += status == "ok"
        # Batch starts are epoch-aligned (interval divides 60): offset + k * interval, in unix time.
        offset = phase_of(device_id, CHECK, interval) // SLICE_S * SLICE_S
        late = (ts - offset) % interval
        late = late if late < interval / 2 else late - interval
        lateness.append(late)
        key = (offset, int((ts - offset + interval / 2) // interval))
        batches[key] = min(batches.get(key, late), late)
    run.icmp_results = len(rows)
    run.ok_pct = 100 * ok / len(rows) if rows else 0.0
    run.round_lag_s = max(batches.values(), default=0.0)
    run.send_lag_p99_s = statistics.quantiles(lateness, n=100)[98] if len(lateness) > 1 else 0.0


def profile_daemon(run: Run, pid: int, start: float, seconds: int, out: Path) -> None:
    """Top functions of the daemon by own samples, from py-spy (if installed), into run.profile."""
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        run.profile = "py-spy not installed (pip install py-spy)"
        return
    time.sleep(max(0.0, start - time.time()))
    raw = out / "pyspy.txt"
    subprocess.run([spy, "record", "--subprocesses", "-o", str(raw), "--format", "raw", "-d", str(seconds),
                    "-p", str(pid)],
                   capture_output=True, timeout=seconds + 60)
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines() if raw.exists() else []:
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        own[frames[-1]] = own.get(frames[-1], 0) + int(count)
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + int(count)
        total += int(count)
    if not total:
        run.profile = "no samples"
        return
    lines = ["own:"] + [f"{100 * c / total:5.1f}%  {f}" for f, c in sorted(own.items(), key=lambda kv: -kv[1])[:12]]
    lines += ["inclusive:"] + [f"{100 * c / total:5.1f}%  {f}"
                               for f, c in sorted(inclusive.items(), key=lambda kv: -kv[1])[:25]]
    run.profile = "\n".join(lines)


def measure(n: int, interval_s: int, rounds: int, max_pps: int, profile: bool, output: bool,
            prefill_rows: int, fping: bool, evaluate_s: int | None = None) -> Run:
    """Run the daemon on n targets and measure `rounds` intervals after the warm-up."""
    run = Run(n, interval_s, rounds, max_pps)
    with tempfile.TemporaryDirectory(prefix="bench-sustained-") as tmp:
        folder = Path(tmp)
        server = None
        if output:
            from tests.fixtures.influxd import InfluxServer

            server = InfluxServer(folder / "influxd").start()
            server.create_database("netmon")
        try:
            config = write_config(folder, n, interval_s, max_pps, server.url if server else None, evaluate_s)
            run.prefilled = prefill(folder, n, prefill_rows, output) if prefill_rows else 0
            log = folder / "daemon.log"
            t_start = time.time()
            proc = subprocess.Popen([sys.executable, "-m", "netmon", "run", "-c", str(config)],
                                    stdout=subprocess.DEVNULL, stderr=log.open("w"), cwd=REPO)
            try:
                run.startup_s = wait_started(proc, log, 120)
                # Warm-up: the first interval after start has every batch's first round plus start-up.
                start = (time.time() // interval_s + 2) * interval_s
                window = (start, start + rounds * interval_s)
                run.first_s = start - t_start
                print(f"  {n:,} targets: started in {run.startup_s:.1f} s; measuring "
                      f"{rounds} x {interval_s} s from {dt.datetime.fromtimestamp(start):%H:%M:%S}", file=sys.stderr)
                spy = threading.Thread(target=profile_daemon, args=(run, proc.pid, start,
                                                                    min(rounds * interval_s, 60), folder), daemon=True)
                if profile:
                    spy.start()
                sample_window(run, proc, folder / "state" / "netmon.db", window)
                if profile:
                    spy.join(timeout=120)
                # Let the last interval's rounds finish (timeout 2 s + packets) before reading.
                time.sleep(3.0)
            finally:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                try:
                    run.exit_code = proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    run.exit_code = proc.wait(timeout=10)
            analyse_results(run, folder / "state" / "netmon.db", window)
            report_errors(log.read_text(errors="replace").splitlines())
            if fping and shutil.which("fping"):
                run_fping(run, folder, max_pps)  # after the daemon: one contender at a time
        finally:
            if server is not None:
                server.stop()
    return run


def report_errors(lines: list[str]) -> None:
    """Show the daemon's ERROR lines (with the traceback after the first) on stderr."""
    errors = [i for i, line in enumerate(lines) if " ERROR " in line]
    if errors:
        print(f"  daemon logged {len(errors)} error line(s); the first:", file=sys.stderr)
        print("\n".join("    " + line for line in lines[errors[0]:errors[0] + 25]), file=sys.stderr)


def table(runs: list[Run]) -> list[str]:
    """Markdown tables of every run: the load figures, then the end-to-end CPU against fping."""
    out = ["| targets | interval | max_pps | start-up s | CPU % of 1 core, all processes (peak) / main only "
           "| RSS MB main (peak) | lag: heartbeat / round start / p99 first packet s | results/s (expected) "
           "| per interval | ok % | evaluations / pruned rows / unsent at end | load 1m |",
           "|---:|---:|---:|---:|---|---:|---|---:|---|---:|---|---:|"]
    for r in runs:
        out.append(f"| {r.n:,} | {r.interval_s} s | {r.max_pps:,} | {r.startup_s:.1f} | {r.cpu_pct:.1f} "
                   f"({r.cpu_pct_peak:.1f}) / {r.main_cpu_pct:.1f} | {r.rss_mb:.0f} ({r.hwm_mb:.0f}) | "
                   f"{r.state_lag_s:.2f} / {r.round_lag_s:.2f} / {r.send_lag_p99_s:.2f} | {r.results_per_s:,.0f} "
                   f"({r.n / r.interval_s:,.0f}) | {', '.join(f'{c:,}' for c in r.per_interval)} | {r.ok_pct:.1f} | "
                   f"{r.evaluations} / {r.pruned:,} of {r.prefilled:,} / "
                   f"{'-' if r.forwarded_behind < 0 else f'{r.forwarded_behind:,}'} | {r.load:.2f} |")
    out += ["", "| targets | first: start to window, CPU s (s) | warm: CPU µs per ICMP result, all processes "
            "| fping -C3 paced, CPU µs per target (replies) | x paced | fping -C3 sweep, µs per target (replies) "
            "| x sweep |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        cells = []
        for mode in ("paced", "sweep"):
            cpu, replies = r.fping.get(mode, (0.0, 0))
            per = 1e6 * cpu / r.n if cpu else float("nan")
            cells += [f"{per:.1f} ({replies:,}/{3 * r.n:,})", f"{r.us_per_result / per:.2f}x" if cpu else "-"]
        out.append(f"| {r.n:,} | {r.first_cpu_s:.1f} ({r.first_s:.0f}) | {r.us_per_result:.1f} | {' | '.join(cells)} |")
    return out


def verdicts(runs: list[Run]) -> list[str]:
    """One line per goal, for the runs that can judge it."""
    lines = []
    for r in runs:
        complete = r.results_per_s >= 0.99 * r.n / r.interval_s
        lines.append(f"- {r.n:,} targets / {r.interval_s} s: CPU {r.cpu_pct:.0f} % of one core, all processes "
                     f"(goal <= 100 %), lag {r.lag_s:.2f} s (goal < 2 s), {r.results_per_s:,.0f} results/s, "
                     f"every target each interval: {'yes' if complete else 'NO'} -> "
                     f"{'met' if r.cpu_pct <= 100 and r.lag_s < 2 and complete else 'NOT met'}")
        if "paced" in r.fping and r.fping["paced"][0]:
            paced, sweep = (1e6 * r.fping[m][0] / r.n for m in ("paced", "sweep"))
            met = {m: r.us_per_result <= 1.5 * v for m, v in (("paced", paced), ("sweep", sweep))}
            lines.append(f"- end-to-end CPU per target {r.us_per_result:.0f} µs = {r.us_per_result / paced:.2f}x fping "
                         f"paced ({'met' if met['paced'] else 'NOT met'}), {r.us_per_result / sweep:.2f}x fping sweep "
                         f"({'met' if met['sweep'] else 'NOT met'}); goal <= 1.5x")
        if r.n == 20_000:
            lines.append(f"- RSS at 20k targets: {r.hwm_mb:.0f} MB peak of the main process (goal <= 150 MB) -> "
                         f"{'met' if r.hwm_mb <= 150 else 'NOT met'}")
    return lines


def main() -> int:
    """Run the sizes, print the table, append a dated block to BENCHMARKS.md."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2,000 targets, 10 s interval, 2 intervals")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=None)
    ap.add_argument("--interval", type=int, default=None, help="seconds; must divide 60")
    ap.add_argument("--rounds", type=int, default=None, help="measured intervals per size")
    ap.add_argument("--max-pps", type=int, default=8000, help="scheduler.max_pps for the daemon")
    ap.add_argument("--profile", action="store_true", help="py-spy the daemon during the window")
    ap.add_argument("--no-output", action="store_true", help="run without the InfluxDB output")
    ap.add_argument("--prefill", type=int, default=None,
                    help="acknowledged rows older than the retention stored before the start (default 5 x targets)")
    ap.add_argument("--no-fping", action="store_true", help="skip the fping -C3 comparison")
    ap.add_argument("--no-append", action="store_true", help="do not append to BENCHMARKS.md")
    ap.add_argument("--evaluate-every", type=int, default=None,
                    help="seconds between village evaluations (default: every interval; 300 is the shipped"
                         " default, measure it with --rounds 5 so one evaluation falls inside the window)")
    args = ap.parse_args()
    sizes = args.sizes or ([2000] if args.quick else [20_000, 100_000])
    interval = args.interval or (10 if args.quick else 60)
    rounds = args.rounds or (2 if args.quick else 3)
    if 60 % interval:
        ap.error("--interval must divide 60 (batch starts are minute-aligned)")
    load = os.getloadavg()
    runs = [measure(n, interval, rounds, args.max_pps, args.profile, not args.no_output,
                    5 * n if args.prefill is None else args.prefill, not args.no_fping, args.evaluate_every)
            for n in sizes]
    lines = [*table(runs), "", *verdicts(runs)]
    for r in runs:
        if r.profile:
            lines += ["", f"py-spy, {r.n:,} targets, own samples:", "", "```", r.profile, "```"]
    print("\n".join(lines))
    failed = [r for r in runs if r.exit_code != 0]
    if not args.no_append:
        command = "python3 " + " ".join(["bench/bench_sustained.py", *sys.argv[1:]])
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        block = [f"\n## Sustained load, daemon ({stamp})", "", f"Command: `{command}`", "",
                 f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load average before the run "
                 f"{load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}. `python3 -m netmon run` as a child process, "
                 f"ICMP count 3, packet_interval 200 ms, timeout 2 s, distinct 127.x.y.z targets in the root "
                 f"namespace's loopback, `scheduler: {{max_pps: {args.max_pps}}}`; one warm-up interval, then "
                 f"{rounds} measured. Expected results/s = targets / interval. "
                 f"{'No output' if args.no_output else 'One InfluxDB output (v1, influxd on loopback)'}; villages "
                 f"evaluated every {f'{args.evaluate_every} s' if args.evaluate_every else 'interval'}; the store "
                 f"pre-filled with acknowledged rows older than the retention, "
                 f"so the first prune works during the run.", "",
                 "Counted on netmon's side: CPU of the daemon's main process and its live children (the "
                 "bookkeeping process: rollups, evaluation, retention) over the measured window, divided by the "
                 "ICMP results stored in it; 'first' is the same from the start to the window (start-up, "
                 "first rounds, first evaluation, most of the prune). Not counted: influxd's CPU. On fping's "
                 "side: the fping process's own rusage (wait4), same targets, 3 packets, run after the daemon "
                 "stopped, one process at a time; it stores, rolls up, evaluates and forwards nothing.", "",
                 *lines, ""]
        with (REPO / "BENCHMARKS.md").open("a", encoding="utf-8") as fh:
            fh.write("\n".join(block))
    if failed:
        print(f"daemon exit codes: {[r.exit_code for r in failed]}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
