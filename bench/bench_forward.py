"""Forwarding throughput: netmon draining a store backlog into a local influxd vs a raw HTTP POST.

    python3 bench/bench_forward.py --quick     # 100,000 points, < 1 min
    python3 bench/bench_forward.py             # 1,000,000 points
    python3 bench/bench_forward.py --points 2000 --no-append   # tiny, for the tests

Starts Debian's influxd on a free loopback port (stopped by PID), fills a fresh store with ping
results of a province-sized inventory (10,000 devices, Vietnamese names), then measures:
- raw: the same line protocol (pre-built, not timed) POSTed with http.client in batches of the
  same size to database `raw` (the ceiling: only influxd's cost);
- netmon: `Forwarder` from cursor 0 to the end into database `netmon` (reading SQLite, building
  line protocol, sending, advancing the cursor).
Both databases are warmed with the first round first (series exist, as in a real catch-up).
Prints a table and appends a dated block to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.client
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

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


async def forward(store: Store, server: InfluxServer, resolver: TagResolver, batch: int) -> float:
    """Drain the whole backlog with netmon's forwarder; returns seconds."""
    output = InfluxOutput.model_validate({"name": "bench", "url": server.url, "api": "v1", "database": "netmon",
                                          "batch_size": batch})
    forwarder = Forwarder(output, store, resolver)
    end = store.max_seq()
    t = time.perf_counter()
    forwarder.start()
    while store.cursor("bench") < end:
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - t
    await forwarder.stop()
    return elapsed


def main() -> int:
    """Run the benchmark and record it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 points instead of 1,000,000")
    parser.add_argument("--batch", type=int, default=5000, help="points per request (default 5000)")
    parser.add_argument("--points", type=int, default=None, help="points to forward (tests use a tiny number)")
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
            raw_s = raw_post(server, bodies, "raw")
            net_s = asyncio.run(forward(store, server, resolver, args.batch))
            counts = {db: server.count("ping", "packets_received", db) for db in ("raw", "netmon")}
        finally:
            server.stop()
    if counts != {"raw": n, "netmon": n}:
        print(f"point counts differ from {n}: {counts}", file=sys.stderr)
        return 1
    rows = [("store fill (not part of forwarding)", n / fill_s, fill_s),
            ("netmon read + build line protocol only", n / build_s, build_s),
            (f"raw http.client POST, {args.batch}-line batches", n / raw_s, raw_s),
            (f"netmon Forwarder (v1), {args.batch}-point batches", n / net_s, net_s)]
    table = ["| step | points/s | seconds |", "|---|---:|---:|"]
    table += [f"| {name} | {rate:,.0f} | {secs:.2f} |" for name, rate, secs in rows]
    ratio = raw_s / net_s
    table.append(f"| **ratio netmon / raw** | **{ratio:.2f}x** | |")
    text = "\n".join(table)
    print(text)
    print(f"catch-up of {n:,} points: {net_s:.1f} s; both databases hold {n:,} points")
    if args.no_append:
        return 0
    command = " ".join(["python3", "bench/bench_forward.py", *sys.argv[1:]])
    block = (f"\n## bench_forward ({dt.date.today().isoformat()})\n\n`{command}` on {platform.node()} "
             f"({platform.machine()}, Python {platform.python_version()}, influxd 1.6.7 on loopback, "
             f"{n:,} ping points, {N_DEVICES:,} devices)\n\n{text}\n\nCatch-up of {n:,} points: {net_s:.1f} s.\n")
    with (REPO / "BENCHMARKS.md").open("a") as f:
        f.write(block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
