"""Memory of the whole daemon: RSS of `netmon run` and its children, with an InfluxDB output and analysis.

For each size a fresh temporary folder gets a config (N loopback ICMP targets 127.x.y.z, 10 per
village, every 60 s, count 3; `analysis: {evaluate_every: 60s}` so evaluations run inside the
window; one `outputs.influxdb` (api v1) to a real Debian influxd started on a free loopback port)
and the daemon runs as a child process with `NETMON_GC_LOG=1` (netmon.gcwatch: each full
collection is logged with its duration, in the daemon and in its bookkeeping process).

From start-up to the end of the window (one warm-up interval, then `--window` seconds), every
second: VmRSS of the daemon and of every descendant process (the bookkeeping worker, and the
multiprocessing resource tracker of versions that ran the worker in a process pool), their sum,
and at the end VmHWM and PSS/USS from /proc/PID/smaps_rollup (PSS splits shared pages between
the processes that map them, so the sum of PSS is what the box pays). Then: points that reached
InfluxDB, evaluations stored, the longest gen-2 collection of each process inside the window and at start-up.

Goals (issue 21): RSS <= 150 MB at 20,000 targets with an InfluxDB output and analysis running,
<= 400 MB at 100,000; no full-GC pause over 50 ms.

    python3 bench/bench_memory.py --quick            # 2,000 targets, 60 s window
    python3 bench/bench_memory.py                     # 20k and 100k, 180 s window each
    python3 bench/bench_memory.py --heap 20000        # in-process tracemalloc breakdown of the loaded state
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures.influxd import InfluxServer  # noqa: E402

INTERVAL_S = 60
PROFILE = """kind: benchping
checks:
  - {name: reachability, prober: icmp, interval: 60s, count: 3, timeout: 2s, packet_interval: 200ms}
"""
GC_LINE = re.compile(r"gen-2 collection ([\d.]+) ms at ([\d.]+) \(\d+ collected, pid (\d+)\)")


@dataclass
class Proc:
    """What one process of the daemon's tree used."""

    pid: int
    cmd: str
    rss_peak_mb: float = 0.0
    hwm_mb: float = 0.0
    rss_end_mb: float = 0.0
    pss_mb: float = 0.0
    uss_mb: float = 0.0
    gc_window_ms: list[float] = field(default_factory=list)
    gc_startup_ms: list[float] = field(default_factory=list)


@dataclass
class Run:
    """What one size measured."""

    n: int
    window_s: int
    startup_s: float = 0.0
    procs: dict[int, Proc] = field(default_factory=dict)
    sum_rss_peak_mb: float = 0.0
    sum_rss_end_mb: float = 0.0
    points: int = 0
    evaluations: int = 0
    results: int = 0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    exit_code: int = 0

    @property
    def sum_hwm_mb(self) -> float:
        """Sum of each process's own peak (an upper bound: the peaks need not coincide)."""
        return sum(p.hwm_mb for p in self.procs.values())

    @property
    def sum_pss_mb(self) -> float:
        """Sum of PSS at the end: what the box pays for the tree, shared pages counted once."""
        return sum(p.pss_mb for p in self.procs.values())


def host_of(i: int) -> str:
    """The i-th distinct loopback address, 127.1.0.1 upwards (z in 1..254)."""
    return f"127.{1 + i // (256 * 254)}.{(i // 254) % 256}.{i % 254 + 1}"


def write_config(folder: Path, n: int, influx_url: str) -> Path:
    """Config with one v1 InfluxDB output and analysis every minute; N targets, 10 per village."""
    (folder / "profiles").mkdir(parents=True)
    (folder / "profiles" / "benchping.yaml").write_text(PROFILE, encoding="utf-8")
    lines = ["version: 1", "agent: {name: bench-memory, state_dir: state}",
             "scheduler: {max_pps: 8000}", "profiles: [profiles]",
             "analysis: {evaluate_every: 60s}",
             f"outputs: {{influxdb: {{name: bench, url: '{influx_url}', api: v1, database: netmon}}}}",
             "inventory:", "  - name: Lai Châu", "    communes:"]
    for v in range((n + 9) // 10):
        if v % 50 == 0:
            lines += [f"      - name: Xã Sìn Hồ {v // 50}", "        villages:"]
        lines += [f"          - name: Bản Tả Phìn {v}", "            devices:"]
        lines += [f"              - {{name: cpe-{d}, kind: cpe, profile: benchping, host: {host_of(d)}}}"
                  for d in range(v * 10, min(n, v * 10 + 10))]
    path = folder / "netmon.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def descendants(pid: int) -> list[int]:
    """pid and every process below it (through /proc/*/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in (task / "children").read_text().split()]
    return out


def status_mb(pid: int, keys: tuple[str, ...] = ("VmRSS", "VmHWM")) -> dict[str, float]:
    """Fields of /proc/PID/status in MB (missing ones absent: the process may be gone)."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in keys:
                out[key] = int(rest.split()[0]) / 1024
    except OSError:
        pass
    return out


def rollup_mb(pid: int) -> tuple[float, float]:
    """(PSS, USS = private clean + dirty) in MB from /proc/PID/smaps_rollup."""
    values: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            key, _, rest = line.partition(":")
            values[key] = int(rest.split()[0]) / 1024
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0
    return values.get("Pss", 0.0), values.get("Private_Clean", 0.0) + values.get("Private_Dirty", 0.0)


def cmdline(pid: int) -> str:
    try:
        parts = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(p.decode(errors="replace") for p in parts if p)
    if "resource_tracker" in text:
        return "resource tracker"
    if "multiprocessing" in text or "netmon.bookkeeping_worker" in text:
        return "bookkeeping worker"
    return "daemon" if " netmon run" in text else text[:60]


def sample(run: Run, root: int) -> None:
    """One sample of every process of the tree: RSS peaks, and the tree's summed RSS."""
    total = 0.0
    for pid in descendants(root):
        mem = status_mb(pid)
        if "VmRSS" not in mem:
            continue
        proc = run.procs.setdefault(pid, Proc(pid, ""))
        if proc.cmd in ("", "?"):  # read before the exec finished: empty
            proc.cmd = cmdline(pid)
        proc.rss_peak_mb = max(proc.rss_peak_mb, mem["VmRSS"])
        proc.hwm_mb, proc.rss_end_mb = mem["VmHWM"], mem["VmRSS"]
        total += mem["VmRSS"]
    run.sum_rss_peak_mb = max(run.sum_rss_peak_mb, total)
    run.sum_rss_end_mb = total


def wait_started(proc: subprocess.Popen, log: Path, run: Run, limit_s: float) -> None:
    """Sample memory until the daemon logs that it started; raises if it dies or takes too long."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        if proc.poll() is not None:
            raise RuntimeError(f"daemon exited {proc.returncode}:\n{log.read_text()[-2000:]}")
        sample(run, proc.pid)
        if " started: " in log.read_text(errors="replace"):
            run.startup_s = time.monotonic() - t0
            return
        time.sleep(0.2)
    raise RuntimeError(f"daemon did not start within {limit_s:.0f} s:\n{log.read_text()[-2000:]}")


def gc_pauses(run: Run, log: Path, window: tuple[float, float]) -> None:
    """Sort the logged full collections into start-up and window, per process."""
    for m in GC_LINE.finditer(log.read_text(errors="replace")):
        ms, ts, pid = float(m.group(1)), float(m.group(2)), int(m.group(3))
        proc = run.procs.setdefault(pid, Proc(pid, "gone"))
        (proc.gc_window_ms if window[0] <= ts <= window[1] else proc.gc_startup_ms).append(ms)


def read_back(run: Run, db: Path, influx: InfluxServer, window: tuple[float, float]) -> None:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        run.results = conn.execute("SELECT count(*) FROM results WHERE ts >= ? AND ts < ? AND prober = 'icmp'",
                                   window).fetchone()[0]
        run.evaluations = conn.execute("SELECT count(DISTINCT ts) FROM results WHERE check_name = 'village-status'"
                                       ).fetchone()[0] if _has_column(conn, "results", "check_name") else 0
    try:
        run.points = sum(influx.count(m, f) for m, f in (("ping", "packets_transmitted"),))
    except Exception as exc:  # the numbers above stay useful without it
        print(f"  influx count failed: {exc}", file=sys.stderr)


def _has_column(conn: sqlite3.Connection, table: str, column: str) -> bool:
    return any(r[1] == column for r in conn.execute(f"PRAGMA table_info({table})"))


def measure(n: int, window_s: int, netmon_from: Path = REPO) -> Run:
    """Run influxd and the daemon on n targets; sample memory from start to the end of the window."""
    run = Run(n, window_s, load=os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        folder = Path(tmp)
        influx = InfluxServer(folder / "influxd").start()
        try:
            influx.create_database("netmon")
            config = write_config(folder, n, influx.url)
            log = folder / "daemon.log"
            env = dict(os.environ, NETMON_GC_LOG="1", PYTHONPATH=str(netmon_from))
            proc = subprocess.Popen([sys.executable, "-m", "netmon", "run", "-c", str(config)],
                                    stdout=subprocess.DEVNULL, stderr=log.open("w"), cwd=netmon_from, env=env)
            try:
                wait_started(proc, log, run, 300)
                start = time.time() + INTERVAL_S  # the first interval has every batch's first round
                window = (start, start + window_s)
                print(f"  {n:,} targets: started in {run.startup_s:.1f} s; measuring {window_s} s from "
                      f"{dt.datetime.fromtimestamp(start):%H:%M:%S}", file=sys.stderr)
                while time.time() < window[1]:
                    if proc.poll() is not None:
                        raise RuntimeError(f"daemon exited {proc.returncode}:\n{log.read_text()[-2000:]}")
                    sample(run, proc.pid)
                    time.sleep(1.0)
                for pid, p in run.procs.items():
                    p.pss_mb, p.uss_mb = rollup_mb(pid)
                run.load = os.getloadavg()
            finally:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                try:
                    run.exit_code = proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    run.exit_code = proc.wait(timeout=10)
            gc_pauses(run, log, window)
            read_back(run, folder / "state" / "netmon.db", influx, window)
            errors = [line for line in log.read_text(errors="replace").splitlines() if " ERROR " in line]
            if errors:
                print(f"  daemon logged {len(errors)} error line(s); the first: {errors[0]}", file=sys.stderr)
        finally:
            influx.stop()
    return run


def heap(n: int, top: int) -> None:
    """Load an n-target config in this process and show where tracemalloc finds the memory."""
    import gc
    import tracemalloc

    from netmon.config import load_config
    from netmon.daemon import probers_for
    from netmon.scheduler import ProbeSchedule

    with tempfile.TemporaryDirectory(prefix="bench-memory-heap-") as tmp:
        config_path = write_config(Path(tmp), n, "http://127.0.0.1:9")
        # imported before the baseline: their memory is the modules', not the inventory's
        import netmon.analysis.evaluator
        import netmon.sinks.influx  # noqa: F401

        gc.collect()
        tracemalloc.start(1)
        base = tracemalloc.take_snapshot()
        config = load_config(config_path)
        schedule = ProbeSchedule(probers_for(config), lambda r: None)
        schedule.load(config)
        gc.collect()
        snap = tracemalloc.take_snapshot()
        stats = snap.compare_to(base, "lineno")
        total = sum(s.size_diff for s in stats)
        print(f"{n:,} targets: {total / 2**20:.1f} MB allocated and alive after load + schedule")
        for s in stats[:top]:
            print(f"{s.size_diff / 2**20:8.2f} MB {s.count_diff:>9,}  {s.traceback}")
        by_file: dict[str, int] = {}
        for s in stats:
            by_file[s.traceback[0].filename] = by_file.get(s.traceback[0].filename, 0) + s.size_diff
        print("by file:")
        for name, size in sorted(by_file.items(), key=lambda kv: -kv[1])[:top]:
            print(f"{size / 2**20:8.2f} MB  {name}")
        del schedule, config


def table(runs: list[Run]) -> list[str]:
    out = ["| targets | start-up s | daemon RSS peak / HWM MB | bookkeeping RSS peak / HWM MB | other children "
           "RSS MB | sum of RSS, peak (end) MB | sum of PSS MB (USS daemon, worker) | longest gen-2 GC ms in "
           "window: daemon / worker (count) | start-up gen-2 ms daemon / worker | icmp results / points to "
           "InfluxDB / evaluations | load avg (1 min) |",
           "|---:|---:|---|---|---:|---|---|---|---|---|---|"]
    for r in runs:
        daemon = next((p for p in r.procs.values() if p.cmd == "daemon"), Proc(0, "?"))
        worker = next((p for p in r.procs.values() if p.cmd == "bookkeeping worker"), Proc(0, "?"))
        others = sum(p.rss_peak_mb for p in r.procs.values() if p.cmd not in ("daemon", "bookkeeping worker"))

        def gcs(p: Proc, which: str) -> str:
            values = getattr(p, which)
            return f"{max(values):.0f} ({len(values)})" if values else "none (0)"

        out.append(f"| {r.n:,} | {r.startup_s:.1f} | {daemon.rss_peak_mb:.0f} / {daemon.hwm_mb:.0f} | "
                   f"{worker.rss_peak_mb:.0f} / {worker.hwm_mb:.0f} | {others:.0f} | "
                   f"**{r.sum_rss_peak_mb:.0f}** ({r.sum_rss_end_mb:.0f}) | {r.sum_pss_mb:.0f} "
                   f"({daemon.uss_mb:.0f}, {worker.uss_mb:.0f}) | {gcs(daemon, 'gc_window_ms')} / "
                   f"{gcs(worker, 'gc_window_ms')} | {gcs(daemon, 'gc_startup_ms')} / "
                   f"{gcs(worker, 'gc_startup_ms')} | {r.results:,} / {r.points:,} / {r.evaluations} | "
                   f"{r.load[0]:.1f} |")
    return out


def verdicts(runs: list[Run]) -> list[str]:
    lines = []
    for r in runs:
        limit = 150 if r.n <= 20_000 else 400 if r.n <= 100_000 else None
        if limit:
            lines.append(f"- {r.n:,} targets: sum of RSS peak {r.sum_rss_peak_mb:.0f} MB (goal <= {limit}) -> "
                         f"{'met' if r.sum_rss_peak_mb <= limit else 'NOT met'}")
        daemon = [p for p in r.procs.values() if p.cmd == "daemon"]
        if not any(p.gc_window_ms or p.gc_startup_ms for p in daemon):
            lines.append(f"- {r.n:,} targets: full GCs not recorded (that netmon has no NETMON_GC_LOG)")
            continue
        worst = max((ms for p in daemon for ms in p.gc_window_ms), default=0.0)
        lines.append(f"- {r.n:,} targets: longest full GC of the daemon in the window {worst:.0f} ms "
                     f"(goal <= 50) -> {'met' if worst <= 50 else 'NOT met'}")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2,000 targets, 60 s window")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=None)
    ap.add_argument("--window", type=int, default=None, help="seconds measured after the warm-up interval")
    ap.add_argument("--heap", type=int, default=None, metavar="N", help="tracemalloc breakdown for N targets")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--netmon-from", type=Path, default=REPO,
                    help="run the daemon from another checkout (e.g. the code before a change)")
    ap.add_argument("--no-append", action="store_true", help="do not append to BENCHMARKS.md")
    args = ap.parse_args()
    if args.heap:
        heap(args.heap, args.top)
        return 0
    sizes = args.sizes or ([2000] if args.quick else [20_000, 100_000])
    window = args.window or (60 if args.quick else 180)
    runs = [measure(n, window, args.netmon_from.resolve()) for n in sizes]
    for r in runs:
        for p in r.procs.values():
            print(f"  pid {p.pid} {p.cmd}: RSS peak {p.rss_peak_mb:.0f} MB, HWM {p.hwm_mb:.0f}, PSS {p.pss_mb:.0f}, "
                  f"USS {p.uss_mb:.0f}", file=sys.stderr)
    lines = [*table(runs), "", *verdicts(runs)]
    print("\n".join(lines))
    if not args.no_append:
        command = "python3 " + " ".join(["bench/bench_memory.py", *sys.argv[1:]])
        origin = "this checkout" if args.netmon_from.resolve() == REPO else str(args.netmon_from)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        block = [f"\n## Memory, daemon with an InfluxDB output and analysis ({stamp})", "",
                 f"Command: `{command}`", "",
                 f"{os.cpu_count()} CPUs, Python {platform.python_version()}. `python3 -m netmon run` as a child "
                 f"process with NETMON_GC_LOG=1; ICMP count 3 every 60 s on distinct 127.x.y.z targets, "
                 f"analysis evaluating every 60 s, one InfluxDB output (api v1) to a real influxd on loopback "
                 f"(not counted); netmon from {origin}. Counted: the daemon and every descendant process "
                 f"(bookkeeping worker; the multiprocessing resource tracker where one runs); memory sampled "
                 f"every second from start-up to the end of "
                 f"a {window} s window that begins one interval after start-up; PSS/USS at the end from "
                 f"/proc/PID/smaps_rollup. Load average: the last column (1 min, at the end of each run).",
                 "", *lines, ""]
        with (REPO / "BENCHMARKS.md").open("a", encoding="utf-8") as fh:
            fh.write("\n".join(block))
    return 1 if any(r.exit_code for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
