#!/usr/bin/env python3
"""ICMP sweep benchmark: netmon's engine vs fping vs icmplib.async_multiping, on loopback only.

Every contender pings N distinct addresses 127.A.B.C three times inside a network namespace this
script creates (lo up, net.ipv4.ping_group_range opened for the datagram path) and deletes at the
end, so nothing leaves the machine and the root namespace's sysctls are never touched.
Needs root (ip netns, raw sockets). CPU is user+sys: for netmon and icmplib measured by the
worker around the sweep itself (interpreter start-up excluded; building every ProbeResult
included; storing, rollups and forwarding are not: that is bench_sustained.py), for fping the
rusage of the fping process itself from os.wait4, started directly inside the namespace (the
`ip netns exec` wrapper is not counted). fping's start-up (measured on one target) is shown
apart, and the ratio is given with and without it. Contenders run one at a time, and so do
fping's shards beyond 21,844 targets (in parallel they would receive each other's replies).

    python3 bench/bench_icmp.py --quick      # N = 1k, 10k; icmplib 1k only; < 1 minute
    python3 bench/bench_icmp.py              # N = 1k, 10k, 50k; 3 repetitions
    python3 bench/bench_icmp.py --profile 10000 --mode raw   # cProfile summary of netmon's sweep
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COUNT = 3
FPING_MAX_PACKETS = 65_535


@dataclass(frozen=True)
class Pace:
    """Timings shared by every contender in one run."""

    interval_s: float
    timeout_s: float
    max_pps: float
    max_inflight: int

    def describe(self) -> str:
        """One sentence for BENCHMARKS.md."""
        ceiling = "unlimited" if self.max_pps >= 1e9 else f"{self.max_pps:g}/s (fping -i {1000 / self.max_pps:g})"
        return (f"{COUNT} echo requests {self.interval_s * 1000:g} ms apart per target, "
                f"{self.timeout_s:g} s timeout, packet rate {ceiling}; netmon max_inflight {self.max_inflight:,}")


SWEEP = Pace(interval_s=0.010, timeout_s=0.5, max_pps=1e9, max_inflight=20_000)
"""As fast as possible: fping -i 0 -p 10 -t 500."""
PACED = Pace(interval_s=0.2, timeout_s=2.0, max_pps=2000.0, max_inflight=1024)
"""netmon's production defaults (IcmpCheck, SchedulerSettings)."""


def targets(n: int) -> list[str]:
    """N distinct loopback addresses 127.A.B.C (A >= 1, B and C in 1..254)."""
    return [f"127.{1 + i // 64516}.{1 + (i // 254) % 254}.{1 + i % 254}" for i in range(n)]


# ---------------------------------------------------------------- workers (run inside the netns)


async def _netmon_sweep(n: int, mode: str, pace: Pace) -> dict:
    sys.path.insert(0, str(ROOT))
    from netmon.config.schema import IcmpCheck, SchedulerSettings
    from netmon.model import Device
    from netmon.probers.base import ProberContext
    from netmon.probers.icmp import IcmpProber

    devices = [Device(id=f"t{i}", name=h, kind="bts", profile="bts", province="p", commune="c",
                      village="v", host=h) for i, h in enumerate(targets(n))]
    check = IcmpCheck(name="reachability", prober="icmp", count=COUNT, timeout=pace.timeout_s,
                      packet_interval=pace.interval_s)
    context = ProberContext(scheduler=SchedulerSettings(max_pps=pace.max_pps, concurrency=pace.max_inflight))
    results: list = []
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    prober = IcmpProber(context, mode=mode)
    await prober.probe_many(devices, check, results.append)
    await prober.close()
    wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    replies = sum(r.samples[0].fields.get("packets_received", 0) for r in results)
    return {"wall_s": wall, "cpu_s": r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime,
            "replies": replies, "results": len(results)}


async def _icmplib_sweep(n: int, privileged: bool, pace: Pace) -> dict:
    from icmplib import async_multiping

    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    hosts = await async_multiping(targets(n), count=COUNT, interval=pace.interval_s, timeout=pace.timeout_s,
                                  concurrent_tasks=50, privileged=privileged)
    wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    return {"wall_s": wall, "cpu_s": r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime,
            "replies": sum(h.packets_received for h in hosts), "results": len(hosts)}


def worker(args: argparse.Namespace) -> None:
    """Run one sweep and print its numbers as JSON (inside the namespace)."""
    if args.worker == "fping":
        out = fping_sweep(args.n, Path(args.workdir), pace_of(args))
    elif args.worker == "netmon":
        out = asyncio.run(_netmon_sweep(args.n, args.mode, pace_of(args)))
    else:
        out = asyncio.run(_icmplib_sweep(args.n, args.mode == "raw", pace_of(args)))
    print(json.dumps(out))


def profile(args: argparse.Namespace) -> None:
    """Print a cProfile summary of one netmon sweep (inside the namespace)."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    out = asyncio.run(_netmon_sweep(args.profile_worker, args.mode, pace_of(args)))
    prof.disable()
    print(json.dumps(out))
    pstats.Stats(prof).sort_stats("tottime").print_stats(18)


# ---------------------------------------------------------------- driver (root namespace)


class Netns:
    """A throw-away network namespace with only `lo`, deleted on exit."""

    def __init__(self) -> None:
        self.name = f"nmbench-{os.getpid()}"

    def __enter__(self) -> Netns:
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        try:
            self.run(["ip", "link", "set", "lo", "up"])
            self.run(["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"])
        except BaseException:
            self.__exit__()
            raise
        return self

    def run(self, cmd: list[str], **kw) -> subprocess.CompletedProcess:
        """Run a command inside the namespace."""
        return subprocess.run(["ip", "netns", "exec", self.name, *cmd], check=True, **kw)

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["ip", "netns", "del", self.name], check=False)


def pace_of(args: argparse.Namespace) -> Pace:
    """The timings this run uses."""
    return PACED if args.paced else SWEEP


def run_python_worker(ns: Netns, kind: str, n: int, mode: str, pace: Pace) -> dict:
    """Start a worker in the namespace and return its JSON line."""
    paced = ["--paced"] if pace is PACED else []
    out = ns.run([sys.executable, __file__, "--worker", kind, "--n", str(n), "--mode", mode, *paced],
                 capture_output=True, text=True, timeout=900)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_fping(ns: Netns, n: int, workdir: Path, pace: Pace) -> dict:
    """fping over N targets, measured by a worker inside the namespace (see `fping_sweep`)."""
    paced = ["--paced"] if pace is PACED else []
    out = ns.run([sys.executable, __file__, "--worker", "fping", "--n", str(n), "--workdir", str(workdir), *paced],
                 capture_output=True, text=True, timeout=900)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fping(hosts: list[str], path: Path, pace: Pace) -> tuple[float, float, int]:
    """(wall s, CPU s, replies) of one fping process started directly (no wrapper in between)."""
    path.write_text("\n".join(hosts) + "\n")
    gap_ms = 0 if pace.max_pps >= 1e9 else 1000 / pace.max_pps
    cmd = ["fping", "-q", "-C", str(COUNT), "-r", "0", "-i", f"{gap_ms:g}", "-p", f"{pace.interval_s * 1000:g}",
           "-t", f"{pace.timeout_s * 1000:g}", "-f", str(path)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read() if proc.stderr else ""
    _pid, _status, usage = os.wait4(proc.pid, 0)  # this child's own rusage: fping and nothing else
    proc.returncode = 0
    replies = sum(1 for line in err.splitlines() if " : " in line
                  for v in line.split(" : ", 1)[1].split() if v != "-")
    return time.perf_counter() - t0, usage.ru_utime + usage.ru_stime, replies


def fping_sweep(n: int, workdir: Path, pace: Pace) -> dict:
    """fping's own CPU for N targets (inside the namespace, so no `ip netns exec` is counted).

    One fping at a time: fping keeps N*count < 65,535 per process, so larger N runs as shards one
    after another (run side by side, raw sockets would hand each shard the others' replies).
    Start-up (exec, libc, option parsing) is measured on one target and reported apart.
    """
    per_shard = (FPING_MAX_PACKETS - 1) // COUNT
    hosts = targets(n)
    wall = cpu = 0.0
    replies = shards = 0
    for k in range(0, n, per_shard):
        w, c, r = _fping(hosts[k:k + per_shard], workdir / f"fping_{n}_{k}.txt", pace)
        wall, cpu, replies, shards = wall + w, cpu + c, replies + r, shards + 1
    startup = statistics.median(_fping(hosts[:1], workdir / "fping_1.txt", SWEEP)[1] for _ in range(5))
    return {"wall_s": wall, "cpu_s": cpu, "replies": replies, "results": n, "shards": shards,
            "startup_cpu_s": startup * shards}


def contenders(quick: bool, n: int, icmplib: bool) -> list[tuple[str, str, str]]:
    """(label, kind, mode) to run for this N."""
    rows = [("netmon datagram", "netmon", "datagram"), ("netmon raw", "netmon", "raw"),
            ("fping", "fping", "")]
    if icmplib and n <= 1000:
        rows += [("icmplib unprivileged", "icmplib", "datagram"), ("icmplib privileged", "icmplib", "raw")]
    elif icmplib and not quick:
        rows += [("icmplib unprivileged", "icmplib", "datagram")]
        if n <= 10_000:
            rows += [("icmplib privileged", "icmplib", "raw")]
    return rows


def measure(ns: Netns, label: str, kind: str, mode: str, n: int, reps: int, workdir: Path, pace: Pace) -> dict:
    """Median over `reps` runs (icmplib privileged beyond 1k: one run, it is slow)."""
    reps = 1 if kind == "icmplib" and n > 1000 else reps
    runs = [run_fping(ns, n, workdir, pace) if kind == "fping" else run_python_worker(ns, kind, n, mode, pace)
            for _ in range(reps)]
    wall = statistics.median(r["wall_s"] for r in runs)
    cpu = statistics.median(r["cpu_s"] for r in runs)
    startup = statistics.median(r.get("startup_cpu_s", 0.0) for r in runs)
    return {"label": label, "n": n, "reps": reps, "wall_s": wall, "cpu_s": cpu, "startup_s": startup,
            "load": os.getloadavg()[0],
            "cpu_per_1k": cpu / n * 1000, "replies": min(r["replies"] for r in runs),
            "cpu_min": min(r["cpu_s"] for r in runs), "cpu_max": max(r["cpu_s"] for r in runs)}


def table(rows: list[dict]) -> str:
    """Markdown table with the netmon/fping CPU ratios per N (fping's start-up counted and not)."""
    fping = {r["n"]: r for r in rows if r["label"] == "fping"}
    lines = ["| contender | N | reps | wall s (median) | CPU s (median, min-max) | CPU s / 1k targets "
             "| x fping CPU | x fping CPU without its start-up | load 1m | replies |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        f = fping.get(r["n"])
        ratio = r["cpu_s"] / f["cpu_s"] if f and f["cpu_s"] else float("nan")
        bare = f["cpu_s"] - f["startup_s"] if f else 0.0
        ratio_bare = r["cpu_s"] / bare if bare > 0 else float("nan")
        lines.append(f"| {r['label']} | {r['n']:,} | {r['reps']} | {r['wall_s']:.3f} | {r['cpu_s']:.3f} "
                     f"({r['cpu_min']:.3f}-{r['cpu_max']:.3f}) | {r['cpu_per_1k']:.4f} | {ratio:.2f} | "
                     f"{ratio_bare:.2f} | {r['load']:.2f} | {r['replies']:,}/{r['n'] * COUNT:,} |")
    lines += ["", "fping start-up (exec, option parsing; one target, median of 5, times its processes): "
              + ", ".join(f"N={n:,}: {f['startup_s']:.4f} s" for n, f in fping.items())]
    return "\n".join(lines)


def main() -> None:
    """Parse arguments; run a worker, a profile, or the whole comparison."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="N = 1k, 10k, 1 repetition (< 1 minute)")
    ap.add_argument("--paced", action="store_true",
                    help="netmon's defaults (2,000 pps, 200 ms apart, 2 s timeout), N = 3k, no icmplib")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=None)
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--no-icmplib", action="store_true")
    ap.add_argument("--no-record", "--no-append", action="store_true", help="do not append to BENCHMARKS.md")
    ap.add_argument("--profile", type=int, metavar="N", help="cProfile one netmon sweep of N targets")
    ap.add_argument("--profile-worker", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--worker", choices=["netmon", "icmplib", "fping"], help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="datagram", choices=["datagram", "raw"])
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    if args.profile_worker:
        return profile(args)
    pace = pace_of(args)
    sizes = args.sizes or ([3000] if args.paced else [1000, 10_000] if args.quick else [1000, 10_000, 50_000])
    reps = args.reps or (1 if args.quick else 3)
    rows: list[dict] = []
    with Netns() as ns, tempfile.TemporaryDirectory(prefix="bench_icmp_") as tmp:
        if args.profile:
            ns.run([sys.executable, __file__, "--profile-worker", str(args.profile), "--mode", args.mode,
                    *(["--paced"] if args.paced else [])])
            return None
        load = os.getloadavg()
        for n in sizes:
            for label, kind, mode in contenders(args.quick, n, not (args.no_icmplib or args.paced)):
                rows.append(measure(ns, label, kind, mode, n, reps, Path(tmp), pace))
                print(f"  {label:22s} N={n:>6,}  cpu/1k={rows[-1]['cpu_per_1k']:.4f}  "
                      f"wall={rows[-1]['wall_s']:.3f}  replies={rows[-1]['replies']:,}", flush=True)
    text = table(rows)
    print(text)
    if not args.no_record:
        record(text, load, " ".join(["python3", "bench/bench_icmp.py", *sys.argv[1:]]), pace)
    return None


def record(text: str, load: tuple[float, float, float], command: str, pace: Pace) -> None:
    """Append a dated block to BENCHMARKS.md (never rewrites what is there)."""
    path = ROOT / "BENCHMARKS.md"
    header = "" if path.exists() else "# netmon benchmarks\n\nAppend-only; each block names its command.\n"
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = (f"\n## ICMP sweep, {when}\n\n`{command}`\n\n"
             f"{os.cpu_count()} CPUs, kernel {platform.release()}, Python {platform.python_version()}, "
             f"load average before the run {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f} (shared machine). "
             f"{pace.describe()}. Loopback targets inside a private network namespace; "
             f"netmon/icmplib: CPU of the sweep in the worker, building every ProbeResult included, storing and "
             f"forwarding not; fping: its own process's rusage (no `ip netns exec`), shards one after another; "
             f"contenders one at a time.\n\n{text}\n")
    with path.open("a", encoding="utf-8") as fh:
        fh.write(header + block)


if __name__ == "__main__":
    main()
