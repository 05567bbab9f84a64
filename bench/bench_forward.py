"""Forwarding throughput: netmon draining a store backlog into a local influxd vs a raw HTTP POST.

    python3 bench/bench_forward.py --quick     # 100,000 points, 3 alternations, ~1-2 min
    python3 bench/bench_forward.py             # 1,000,000 points, 3 alternations
    python3 bench/bench_forward.py --points 2000 --reps 1 --no-append   # tiny, for the tests
    python3 bench/bench_forward.py --quick --max-in-flight 1            # one batch on the wire at a time

Starts Debian's influxd on a free loopback port (stopped by PID), fills a fresh store with ping
results of a province-sized inventory (10,000 devices, Vietnamese names), then alternates two
phases `--reps` times (raw first in odd repetitions, netmon first in even ones):
- raw: the same line protocol netmon sends (pre-built, not timed) POSTed with http.client in
  batches of the same size to database `raw`: influxd's cost plus a minimal client;
- netmon: `Forwarder` from cursor 0 to the end into database `netmon` (reading SQLite, building
  line protocol, POSTing with http.client in worker threads, up to `--max-in-flight` batches on
  the wire at once, advancing the cursor in the store).
Before every phase influxd is left idle until its own CPU use settles (< 5 % of a core over
0.5 s, read from /proc/<pid>/stat), so a cache flush of one phase never lands in the next.
Counted per phase: wall time, influxd's CPU (its rusage from /proc), this process's CPU (its
own rusage: netmon's forwarder in the netmon phase, http.client in the raw phase) and the
load average. Both databases first get the first round (series exist, as in a real catch-up);
later repetitions overwrite the same points in both. Prints a table, appends it to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.client
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netmon.codec import samples_count  # noqa: E402
from netmon.config.schema import InfluxOutput  # noqa: E402
from netmon.model import Device, ProbeResult, Sample, Status  # noqa: E402
from netmon.sinks.batches import BatchReader, TagResolver  # noqa: E402
from netmon.sinks.influx import Forwarder  # noqa: E402
from netmon.store import Store  # noqa: E402
from tests.fixtures.influxd import InfluxServer  # noqa: E402

N_DEVICES = 10_000
AGENT = "bench-agent"


def devices() -> list[Device]:
    """A province: 100 communes x 10 villages x 10 devices, with real-looking names."""
    out = []
    for i in range(N_DEVICES):
        c, v, d = i // 100, (i // 10) % 10, i % 10
        out.append(Device(id=f"lai-chau/xa-{c}/ban-{v}/cpe-{d}", name=f"cpe nhà văn hoá {d}", kind="cpe",
                          profile="cpe", province="Lai Châu", commune=f"Xã Sìn Hồ {c}", village=f"Bản Tả Phìn {v}",
                          host=f"10.{c}.{v}.{d}", operator=("VNPT", "Viettel", "MobiFone")[i % 3]))
    return out


def fill(store: Store, devs: list[Device], n: int) -> None:
    """n ping results, each device every 60 s, 1 ms apart inside a round."""
    t0 = time.time() - 30 * 86400
    chunk = []
    for i in range(n):
        d = devs[i % len(devs)]
        fields = {"packets_transmitted": 3, "packets_received": 3, "percent_packet_loss": 0.0, "result_code": 0,
                  "minimum_response_ms": 20.0 + i % 17, "average_response_ms": 25.5 + i % 13,
                  "maximum_response_ms": 41.25, "standard_deviation_ms": 3.125}
        chunk.append(ProbeResult(d.id, "reachability", "icmp", Status.OK, "3/3 replies",
                                 t0 + (i // len(devs)) * 60 + (i % len(devs)) * 0.001, 0.05,
                                 (Sample("ping", fields, {"url": d.host or ""}),)))
        if len(chunk) == 50_000:
            store.append(chunk)
            chunk = []
    store.append(chunk)


def cpu_s() -> float:
    """CPU seconds of this process so far (all threads: the forwarder reads in a worker thread)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pid_cpu_s(pid: int) -> float:
    """CPU seconds of another process (utime + stime from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load1() -> float:
    """The 1-minute load average (the machine is shared: every number is shown next to it)."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def settle(pid: int, timeout_s: float = 30.0) -> float:
    """Wait until influxd uses < 5 % of a core over 0.5 s (its cache flush is done); seconds waited."""
    t0 = time.monotonic()
    before = pid_cpu_s(pid)
    while time.monotonic() - t0 < timeout_s:
        time.sleep(0.5)
        now = pid_cpu_s(pid)
        if now - before < 0.025:
            break
        before = now
    return time.monotonic() - t0


def raw_post(server: InfluxServer, bodies: list[bytes], db: str) -> float:
    """POST every body with http.client on one keep-alive connection; returns seconds."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    t = time.perf_counter()
    for body in bodies:
        conn.request("POST", f"/write?db={db}&precision=ms", body=body)
        response = conn.getresponse()
        response.read()
        if response.status != 204:
            raise RuntimeError(f"raw write failed: {response.status}")
    elapsed = time.perf_counter() - t
    conn.close()
    return elapsed


async def forward(store: Store, server: InfluxServer, resolver: TagResolver, batch: int,
                  max_in_flight: int | None = None) -> float:
    """Drain the whole backlog from cursor 0 with netmon's forwarder; returns seconds."""
    settings = {"name": "bench", "url": server.url, "api": "v1", "database": "netmon", "batch_size": batch}
    if max_in_flight is not None:
        settings["max_in_flight"] = max_in_flight
    output = InfluxOutput.model_validate(settings)
    store.set_cursor("bench", 0)
    forwarder = Forwarder(output, store, resolver)
    end, points = store.max_seq(), samples_total(store)
    t = time.perf_counter()
    forwarder.start()
    deadline = time.monotonic() + 3600
    # Polls the forwarder's own count (set right after each cursor commit), not the store: a SQL
    # query every 20 ms would be the harness's CPU counted as netmon's. The cursor is checked once.
    while forwarder.sent_points < points:
        if time.monotonic() > deadline:
            raise RuntimeError("forwarding did not finish within an hour")
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - t
    await forwarder.stop()
    if store.cursor("bench") != end:
        raise RuntimeError(f"the cursor is at {store.cursor('bench')}, not at the end ({end})")
    return elapsed


def samples_total(store: Store) -> int:
    """Points in the store (one per sample), counted before the timed phase."""
    return sum(samples_count(value) for (value,) in store.conn.execute("SELECT samples FROM results"))


@dataclass
class Phase:
    """One timed phase: what it cost on each side."""

    name: str
    rep: int
    wall_s: float
    own_cpu_s: float
    influxd_cpu_s: float
    load: float


def run_phase(name: str, rep: int, pid: int, work: Callable[[], float]) -> Phase:
    """Settle influxd, then time `work` with both processes' CPU."""
    settle(pid)
    load, own, influx = load1(), cpu_s(), pid_cpu_s(pid)
    wall = work()
    return Phase(name, rep, wall, cpu_s() - own, pid_cpu_s(pid) - influx, load)


def main() -> int:
    """Run the benchmark and record it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 points instead of 1,000,000")
    parser.add_argument("--batch", type=int, default=5000, help="points per request (default 5000)")
    parser.add_argument("--points", type=int, default=None, help="points to forward (tests use a tiny number)")
    parser.add_argument("--reps", type=int, default=3, help="alternations of the two phases (default 3)")
    parser.add_argument("--max-in-flight", type=int, default=None,
                        help="netmon's batches on the wire at once (default: the output's default)")
    parser.add_argument("--no-append", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args()
    n = args.points or (100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory(prefix="bench-forward-") as tmp:
        server = InfluxServer(Path(tmp) / "influxd").start()
        try:
            for db in ("raw", "netmon"):
                server.create_database(db)
            devs = devices()
            resolver = TagResolver(AGENT, devs)
            store = Store.open(Path(tmp) / "state")
            t = time.perf_counter()
            fill(store, devs, n)
            fill_s = time.perf_counter() - t
            reader = BatchReader(store.path, resolver)
            t = time.perf_counter()
            bodies, after = [], 0
            while not (b := reader.read(after, args.batch)).empty:
                bodies.append(b.body())
                after = b.last_seq
            build_s = time.perf_counter() - t
            reader.close()
            # Both databases first get the first round (one point per series, untimed): a catch-up
            # writes to series that already exist, and the timed runs overwrite these same points.
            warm = bodies[:-(-N_DEVICES // args.batch)]
            for db in ("raw", "netmon"):
                raw_post(server, warm, db)
            phases: list[Phase] = []
            pid = server.proc.pid
            for rep in range(args.reps):
                order = ("raw", "netmon") if rep % 2 == 0 else ("netmon", "raw")
                for name in order:
                    if name == "raw":
                        phases.append(run_phase(name, rep, pid, lambda: raw_post(server, bodies, "raw")))
                    else:
                        phases.append(run_phase(name, rep, pid, lambda: asyncio.run(
                            forward(store, server, resolver, args.batch, args.max_in_flight))))
            counts = {db: server.count("ping", "packets_received", db) for db in ("raw", "netmon")}
        finally:
            server.stop()
    if counts != {"raw": n, "netmon": n}:
        print(f"point counts differ from {n}: {counts}", file=sys.stderr)
        return 1
    us = 1e6 / n
    in_flight = args.max_in_flight or InfluxOutput.model_fields["max_in_flight"].default
    table = ["| rep | phase | points/s | seconds | own CPU µs/point | influxd CPU µs/point | load avg 1m |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for p in phases:
        who = f"netmon Forwarder (v1, {in_flight} in flight)" if p.name == "netmon" else "raw http.client POST"
        table.append(f"| {p.rep + 1} | {who} | {n / p.wall_s:,.0f} | {p.wall_s:.2f} | {p.own_cpu_s * us:.2f} | "
                     f"{p.influxd_cpu_s * us:.2f} | {p.load:.2f} |")
    ratios = [r.wall_s / f.wall_s for r, f in zip([p for p in phases if p.name == "raw"],
                                                  [p for p in phases if p.name == "netmon"], strict=True)]
    own = sorted(p.own_cpu_s * us for p in phases if p.name == "netmon")
    table.append(f"| | **throughput netmon / raw, per repetition** | **{' / '.join(f'{r:.2f}x' for r in ratios)}** "
                 f"| median **{statistics.median(ratios):.2f}x** | | | |")
    table.append(f"| | **netmon's own CPU per forwarded point** | | | **{statistics.median(own):.2f}** (median; "
                 f"min {own[0]:.2f}) | | |")
    text = "\n".join(table)
    print(text)
    print(f"read + build line protocol only (untimed setup): {build_s / n * 1e6:.2f} µs/point; "
          f"store fill {fill_s:.1f} s")
    print(f"both databases hold {n:,} points")
    if args.no_append:
        return 0
    command = " ".join(["python3", "bench/bench_forward.py", *sys.argv[1:]])
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = (f"\n## bench_forward ({when})\n\n`{command}` on {platform.node()} "
             f"({platform.machine()}, {os.cpu_count()} CPUs shared with other work: see the load column; "
             f"Python {platform.python_version()}, influxd on loopback, {n:,} ping points, {N_DEVICES:,} devices, "
             f"{args.batch}-point batches, phases alternated {args.reps}x, influxd idle before each)\n\n{text}\n\n"
             "Counted: netmon = this process's rusage (all threads) while the Forwarder drains the store "
             f"(SQLite read, inflating, line protocol, http.client POSTs with max_in_flight {in_flight}, "
             "cursor commits); raw = this process's rusage while http.client POSTs the pre-built "
             "bodies one after another on one connection (building them is not counted); influxd = its own "
             "/proc rusage in each phase. Not counted: the store fill and influxd's idle time between "
             "phases.\n")
    with (REPO / "BENCHMARKS.md").open("a") as f:
        f.write(block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
