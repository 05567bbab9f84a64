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
SLICE_S = 1.0
"""The scheduler's default slice: a batch's offset is its phase rounded down to this."""
PROFILE = f"""kind: benchping
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


def write_config(folder: Path, n: int, interval_s: int, max_pps: int) -> Path:
    """Config + profile + an inventory of n targets, 10 per village, 50 villages per commune."""
    (folder / "profiles").mkdir(parents=True)
    (folder / "profiles" / "benchping.yaml").write_text(PROFILE % interval_s, encoding="utf-8")
    lines = ["version: 1", "agent: {name: bench-sustained, state_dir: state}",
             f"scheduler: {{max_pps: {max_pps}}}", "profiles: [profiles]",
             "inventory:", "  - name: Lai Châu", "    communes:"]
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
    cpu0, last_cpu, last_t = cpu_s(proc.pid), cpu_s(proc.pid), time.time()
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"daemon exited {proc.returncode} during the measurement")
        time.sleep(min(1.0, max(0.0, end - time.time())))
        lag = state_lag(db)
        run.state_lag_s = max(run.state_lag_s, lag or 0.0)
        now, cpu = time.time(), cpu_s(proc.pid)
        if now - last_t >= run.interval_s - 0.5 or now >= end:
            run.cpu_pct_peak = max(run.cpu_pct_peak, 100 * (cpu - last_cpu) / (now - last_t))
            last_cpu, last_t = cpu, now
    run.cpu_pct = 100 * (cpu_s(proc.pid) - cpu0) / (time.time() - start)
    run.rss_mb, run.hwm_mb = memory_mb(proc.pid)


def analyse_results(run: Run, db: Path, window: tuple[float, float]) -> None:
    """Results per interval, ok share, and how late batch rounds and first packets went out."""
    start, end = window
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT device_id, ts, status FROM results WHERE ts >= ? AND ts < ?",
                            (start, end)).fetchall()
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
    run.ok_pct = 100 * ok / len(rows) if rows else 0.0
    run.round_lag_s = max(batches.values(), default=0.0)
    run.send_lag_p99_s = statistics.quantiles(lateness, n=100)[98] if len(lateness) > 1 else 0.0


def profile_daemon(run: Run, pid: int, start: float, seconds: int, out: Path) -> None:
    """Top functions of the daemon by own samples, from py-spy (if installed), into run.profile."""
    spy = shutil.which("py-spy")
    if spy is None:
        run.profile = "py-spy not installed (pip install py-spy)"
        return
    time.sleep(max(0.0, start - time.time()))
    raw = out / "pyspy.txt"
    subprocess.run([spy, "record", "-o", str(raw), "--format", "raw", "-d", str(seconds), "-p", str(pid)],
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


def measure(n: int, interval_s: int, rounds: int, max_pps: int, profile: bool) -> Run:
    """Run the daemon on n targets and measure `rounds` intervals after one warm-up interval."""
    run = Run(n, interval_s, rounds, max_pps)
    with tempfile.TemporaryDirectory(prefix="bench-sustained-") as tmp:
        folder = Path(tmp)
        config = write_config(folder, n, interval_s, max_pps)
        log = folder / "daemon.log"
        proc = subprocess.Popen([sys.executable, "-m", "netmon", "run", "-c", str(config)],
                                stdout=subprocess.DEVNULL, stderr=log.open("w"), cwd=REPO)
        try:
            run.startup_s = wait_started(proc, log, 120)
            # Warm-up: the first interval after start has every batch's first round plus start-up.
            start = (time.time() // interval_s + 2) * interval_s
            window = (start, start + rounds * interval_s)
            print(f"  {n:,} targets: started in {run.startup_s:.1f} s; measuring "
                  f"{rounds} x {interval_s} s from {dt.datetime.fromtimestamp(start):%H:%M:%S}", file=sys.stderr)
            spy = threading.Thread(target=profile_daemon, args=(run, proc.pid, start, min(rounds * interval_s, 60),
                                                                folder), daemon=True)
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
    return run


def report_errors(lines: list[str]) -> None:
    """Show the daemon's ERROR lines (with the traceback after the first) on stderr."""
    errors = [i for i, line in enumerate(lines) if " ERROR " in line]
    if errors:
        print(f"  daemon logged {len(errors)} error line(s); the first:", file=sys.stderr)
        print("\n".join("    " + line for line in lines[errors[0]:errors[0] + 25]), file=sys.stderr)


def table(runs: list[Run]) -> list[str]:
    """Markdown table of every run."""
    out = ["| targets | interval | max_pps | start-up s | CPU % of 1 core (peak) | RSS MB (peak) "
           "| lag: heartbeat / round start / p99 first packet s | results/s (expected) | per interval | ok % |",
           "|---:|---:|---:|---:|---:|---:|---|---:|---|---:|"]
    for r in runs:
        out.append(f"| {r.n:,} | {r.interval_s} s | {r.max_pps:,} | {r.startup_s:.1f} | {r.cpu_pct:.1f} "
                   f"({r.cpu_pct_peak:.1f}) | {r.rss_mb:.0f} ({r.hwm_mb:.0f}) | {r.state_lag_s:.2f} / "
                   f"{r.round_lag_s:.2f} / {r.send_lag_p99_s:.2f} | {r.results_per_s:,.0f} "
                   f"({r.n / r.interval_s:,.0f}) | {', '.join(f'{c:,}' for c in r.per_interval)} | {r.ok_pct:.1f} |")
    return out


def verdicts(runs: list[Run]) -> list[str]:
    """One line per goal, for the runs that can judge it."""
    lines = []
    for r in runs:
        complete = r.results_per_s >= 0.99 * r.n / r.interval_s
        lines.append(f"- {r.n:,} targets / {r.interval_s} s: CPU {r.cpu_pct:.0f} % of one core (goal <= 100 %), "
                     f"lag {r.lag_s:.2f} s (goal < 2 s), {r.results_per_s:,.0f} results/s, "
                     f"every target each interval: {'yes' if complete else 'NO'} -> "
                     f"{'met' if r.cpu_pct <= 100 and r.lag_s < 2 and complete else 'NOT met'}")
        if r.n == 20_000:
            lines.append(f"- RSS at 20k targets: {r.hwm_mb:.0f} MB peak (goal <= 150 MB) -> "
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
    ap.add_argument("--no-append", action="store_true", help="do not append to BENCHMARKS.md")
    args = ap.parse_args()
    sizes = args.sizes or ([2000] if args.quick else [20_000, 100_000])
    interval = args.interval or (10 if args.quick else 60)
    rounds = args.rounds or (2 if args.quick else 3)
    if 60 % interval:
        ap.error("--interval must divide 60 (batch starts are minute-aligned)")
    load = os.getloadavg()
    runs = [measure(n, interval, rounds, args.max_pps, args.profile) for n in sizes]
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
                 f"{rounds} measured. Expected results/s = targets / interval.", "", *lines, ""]
        with (REPO / "BENCHMARKS.md").open("a", encoding="utf-8") as fh:
            fh.write("\n".join(block))
    if failed:
        print(f"daemon exit codes: {[r.exit_code for r in failed]}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
