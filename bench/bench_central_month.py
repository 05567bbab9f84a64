"""A month of one province plus the national set in influxd, the central commands timed through the real CLI.

What is written (one Debian influxd on loopback, two databases, as a province and the nation would
each have their own InfluxDB):

- database `province`: 3 agents x 1,000 villages over DAYS days (default 30): village_status in the
  short window every EVERY s (default 300 s, the default evaluate_every) for the whole month, the
  long (24h) window for the last day only (no central command reads it beyond its tag), about ten
  village_outage points per village over the month, heartbeats every minute for the month, and
  commune-router pings for the last 15 minutes (the status reads 5 minutes of them);
- database `national`: 34 agents x 3,000 villages (102,000) with NATIONAL_HOURS (default 1) of
  history in both windows, as bench_central.fill writes it; its last agent went silent 10 minutes
  before the end. The status and villages report read the newest point of each series within a
  7-day range; a week of 102,000 villages (400 M points) does not fit this shared box, so the
  national set is timed with an hour behind the newest points, and the province with a month:
  comparing the province with a month to the province with an hour shows what history costs.

Each command runs as its own `python -m netmon` process (what an operator runs), best of two wall
times, with its peak RSS from wait4(). Lines are built with netmon's line-protocol builder once per
series and state, then stamped: the bytes are what agents send.

    python3 bench/bench_central.py --month [--days 30] [--national-hours 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_central import STATES, fill, write
from netmon.sinks.lineproto import join_tags, line, tag_pairs
from tests.fixtures.influxd import InfluxServer

REPO = Path(__file__).resolve().parents[1]
TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def _template(measurement: str, tags: str, fields: dict) -> str:
    """netmon's own line for these tags and fields, without its timestamp (stamped per point)."""
    return line(measurement, tags, fields, 0)[:-1]


class Writer:
    """Batches of 50,000 lines posted by two threads while the next batch is built."""

    def __init__(self, server: InfluxServer, db: str) -> None:
        self.server, self.db, self.batch, self.points = server, db, [], 0
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.pending: list = []

    def add(self, text: str) -> None:
        self.batch.append(text)
        if len(self.batch) >= 50_000:
            self.flush()

    def flush(self) -> None:
        if self.batch:
            if len(self.pending) >= 2:  # at most two batches on the wire: memory stays bounded
                self.pending.pop(0).result()
            self.pending.append(self.pool.submit(write, self.server, self.batch, self.db))
            self.points += len(self.batch)
            self.batch = []

    def close(self) -> int:
        self.flush()
        for f in self.pending:
            f.result()
        self.pool.shutdown()
        return self.points


def fill_month(server: InfluxServer, agents: int, villages: int, days: float, every_s: float, now: float) -> int:
    """The province's month (see the module text); returns the number of points."""
    w = Writer(server, "province")
    start, per_commune = now - days * 86400.0, 10
    for a in range(agents):
        agent = f"agent-{a:02d}"
        beat = _template("netmon_agent", join_tags(tag_pairs({"agent": agent})),
                         {"results_per_s": 50.0, "targets": villages * 2})
        for k in range(int((now - start) // 60) + 1):
            w.add(f"{beat}{int((start + 60 * k) * 1000)}")
        for v in range(villages):
            commune, village = f"Xã {a}-{v // per_commune}", f"Thôn {v}"
            tags = {"agent": agent, "province": "Tỉnh 0", "commune": commune, "village": village, "operator": "VNPT"}
            for window, since in (("1h", start), ("24h", now - 86400.0)):
                joined = join_tags(tag_pairs({**tags, "window": window}))
                states = [_template("village_status", joined, {
                    "state": s, "cause": "link" if s != "good" else "none", "flagged": int(s == "down"),
                    "availability_pct": 99.0, "loss_pct": 0.5, "rtt_p95_ms": 40.0, "outages": 0})
                    for s in STATES]
                t, k = since, 0
                while t <= now:
                    w.add(f"{states[(v + k) % len(STATES)]}{int(t * 1000)}")
                    t, k = t + every_s, k + 1
            for k in range(int(days // 3)):  # an outage every third day, 10 to 600 s long
                dev = join_tags(tag_pairs({**tags, "device": "cpe"}))
                began = start + k * 3 * 86400.0 + 3600.0 * (v % 24)
                w.add(line("village_outage", dev, {"duration_s": 10.0 + (v * 7 + k * 13) % 590, "open": False,
                                                   "cause": "link" if k % 4 else "power"}, int(began * 1000)))
            if v % per_commune == 0:
                router = _template("ping", join_tags(tag_pairs({"agent": agent, "province": "Tỉnh 0",
                                                                "commune": commune, "device": "router",
                                                                "kind": "router"})),
                                   {"percent_packet_loss": 0.0, "result_code": 0})
                for k in range(16):
                    w.add(f"{router}{int((now - 900 + 60 * k) * 1000)}")
    return w.close()


def config(tmp: Path, server: InfluxServer, db: str) -> Path:
    """A central config: no inventory of its own, read access to one database."""
    path = tmp / f"{db}.yaml"
    path.write_text(f"version: 1\nagent: {{name: central-{db}, state_dir: {tmp / db}}}\n"
                    f"outputs:\n  influxdb: {{name: {db}, url: '{server.url}', api: v1, database: {db}, "
                    f"timeout: 300s}}\ninventory: []\n", encoding="utf-8")
    return path


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SERVER_PID: list[int] = []


def settle(pid: int, limit_s: float = 900.0) -> float:
    """Wait (bounded) until influxd has used under 5 % of a core for 10 s in a row; returns the wait."""
    t0 = last_t = time.monotonic()
    last_cpu, quiet_since = cpu_s(pid), time.monotonic()
    while time.monotonic() - t0 < limit_s:
        time.sleep(2.0)
        now, cpu = time.monotonic(), cpu_s(pid)
        if (cpu - last_cpu) / (now - last_t) > 0.05:
            quiet_since = now
        elif now - quiet_since >= 10.0:
            break
        last_t, last_cpu = now, cpu
    return time.monotonic() - t0


def run(args: list[str]) -> tuple[float, float, int, str, float, float]:
    """One `python -m netmon` process: (wall s, peak RSS MB, exit code, stderr tail, its CPU s, influxd's CPU s)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server_cpu = cpu_s(SERVER_PID[0]) if SERVER_PID else 0.0
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "netmon", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    server_cpu = (cpu_s(SERVER_PID[0]) if SERVER_PID else 0.0) - server_cpu
    return (time.perf_counter() - t0, usage.ru_maxrss / 1024.0, proc.returncode, err[-500:],
            usage.ru_utime + usage.ru_stime, server_cpu)


def timed(name: str, args: list[str]) -> dict:
    """Best of two runs of a command, with its largest peak RSS."""
    runs = [run(args) for _ in range(2)]
    for _wall, _rss, code, err, _cpu, _server in runs:
        assert code == 0, f"{name}: exit {code}: {err}"
    best = min(runs, key=lambda r: r[0])
    out = {"command": "netmon " + " ".join(a if "/" not in a else Path(a).name for a in args), "name": name,
           "best_s": round(best[0], 2), "runs_s": [round(r[0], 2) for r in runs],
           "peak_rss_mb": round(max(r[1] for r in runs), 1), "load": os.getloadavg()}
    print(f"{name}: {out['best_s']} s (runs {out['runs_s']}; CPU of that run: command {best[4]:.2f} s, influxd "
          f"{best[5]:.2f} s), peak RSS {out['peak_rss_mb']} MB, load average "
          f"{out['load'][0]:.2f} {out['load'][1]:.2f} {out['load'][2]:.2f}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    """Write the month and the national set, time the commands, print the numbers."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--days", type=float, default=30.0, help="history of the province database")
    p.add_argument("--national-hours", type=float, default=1.0, help="history of the national database")
    p.add_argument("--every", type=float, default=300.0, help="seconds between evaluations (village_status)")
    p.add_argument("--keep", help="write the data into this folder and leave influxd's files there")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(args.keep or scratch)
        server = InfluxServer(tmp / "influxd")
        # A month-old database is compacted; a freshly written one sits in the WAL cache, slower to
        # read. Snapshot and compact soon after the writes stop, and time the commands only then.
        server.config.write_text(server.config.read_text().replace(
            "[data]\n", '[data]\n  cache-snapshot-write-cold-duration = "5s"\n'
                        '  compact-full-write-cold-duration = "30s"\n'))
        server.start()
        assert server.proc is not None
        SERVER_PID[:] = [server.proc.pid]
        try:
            for db in ("province", "national"):
                server.create_database(db)
            now = time.time()
            t0 = time.perf_counter()
            points = fill_month(server, 3, 1000, args.days, args.every, now)
            print(f"province: wrote {points:,} points (3 x 1,000 villages, {args.days:g} days) in "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
            t0 = time.perf_counter()
            national = fill(server, 34, 3000, args.national_hours, args.every, now, db="national")
            print(f"national: wrote {national:,} points (34 x 3,000 villages, {args.national_hours:g} h) in "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
            du = subprocess.run(["du", "-sm", str(tmp / "influxd")], capture_output=True, text=True).stdout.split()
            print(f"influxd data: {du[0] if du else '?'} MB", flush=True)
            print(f"influxd compacting: idle after {settle(server.proc.pid):.0f} s", flush=True)
            prov, nat = str(config(tmp, server, "province")), str(config(tmp, server, "national"))
            last_month = datetime.fromtimestamp(now, TZ).replace(day=1).timestamp() - 86400
            month = datetime.fromtimestamp(last_month, TZ).strftime("%Y-%m")
            timed("province status --from influxdb (month of history)",
                  ["status", "-c", prov, "--from", "influxdb", "--once", "--format", "json"])
            timed(f"province report availability --month {month} --from influxdb",
                  ["report", "availability", "-c", prov, "--from", "influxdb", "--format", "json", "--month", month])
            timed("national report villages --from influxdb",
                  ["report", "villages", "-c", nat, "--from", "influxdb", "--format", "json"])
            timed("national status --from influxdb",
                  ["status", "-c", nat, "--from", "influxdb", "--once", "--format", "json"])
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
