"""The real daemon forwarding to a real influxd: an InfluxDB outage, and SIGKILL mid-catch-up."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from netmon.codec import sample_rows
from netmon.config import load_config
from netmon.model import ProbeResult, Status
from netmon.sinks.batches import TagResolver
from netmon.sinks.influx import Forwarder
from netmon.store import Store
from tests.fixtures.influxd import InfluxServer
from tests.sinks.helpers import ping_sample

REPO = Path(__file__).resolve().parents[2]
PROFILE = """kind: fastping
checks:
  - {name: reachability, prober: icmp, interval: 1s, count: 2, timeout: 500ms, packet_interval: 10ms}
"""
N_DEVICES = 6


def write_config(folder: Path, server: InfluxServer) -> Path:
    (folder / "profiles").mkdir(parents=True, exist_ok=True)
    (folder / "profiles" / "fastping.yaml").write_text(PROFILE)
    devices = "\n".join(f"              - {{name: 'cpe {d}, số={d}', kind: fastping, host: 127.0.44.{d + 1}}}"
                        for d in range(N_DEVICES))
    path = folder / "netmon.yaml"
    path.write_text(f"""version: 1
agent: {{name: test-agent, state_dir: state}}
profiles: [profiles]
outputs:
  influxdb: {{name: main, url: "{server.url}", api: v1, database: netmon, max_backoff: 1s, timeout: 5s}}
inventory:
  - name: Lai Châu
    communes:
      - name: Sìn Hồ
        operator: VNPT
        villages:
          - name: Tả Phìn, bản=1
            operator: Viettel
            devices:
{devices}
""")
    return path


def start_daemon(config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "netmon", "run", "-c", str(config)],
                            stdout=subprocess.DEVNULL, stderr=log.open("a"), cwd=REPO)


def stop_daemon(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)


def db_value(config: Path, sql: str) -> int:
    db = config.parent / "state" / "netmon.db"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=10) as conn:
            row = conn.execute(sql).fetchone()
    except sqlite3.OperationalError as exc:  # the daemon created the file but not its tables yet
        if "no such table" in str(exc):
            return 0
        raise
    return int(row[0] or 0) if row else 0


def cursor(config: Path) -> int:
    return db_value(config, "SELECT seq FROM cursors WHERE output = 'main'")


def max_seq(config: Path) -> int:
    return db_value(config, "SELECT max(seq) FROM results")


def wait_for(predicate, timeout_s: float, what: str, proc: subprocess.Popen | None = None,
             log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"daemon exited ({proc.returncode}): {log.read_text()[-2000:] if log else ''}")
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def finish_and_compare(config: Path, server: InfluxServer) -> int:
    """Drain what the stopped daemon left unsent, then compare InfluxDB with the store point by point."""
    cfg = load_config(config)
    store = Store.open(cfg.state_dir)
    output = cfg.settings.outputs.influxdb[0]

    async def drain() -> None:
        forwarder = Forwarder(output, store, TagResolver(cfg.settings.agent.name, cfg.all_devices))
        forwarder.start()
        for _ in range(1200):
            if store.cursor("main") >= store.max_seq():
                break
            await asyncio.sleep(0.05)
        await forwarder.stop()

    asyncio.run(drain())
    stored: collections.Counter = collections.Counter()
    for (samples_json, ts) in store.conn.execute("SELECT samples, ts FROM results"):
        for measurement, _tags, _fields in sample_rows(samples_json):
            stored[(measurement, round(ts * 1000))] += 1
    store.close()
    in_influx: collections.Counter = collections.Counter()
    for measurement in {m for m, _ in stored}:
        for series in server.query(f'SELECT * FROM "{measurement}" GROUP BY *'):
            for values in series["values"]:
                in_influx[(measurement, values[0])] += 1
    missing, extra = stored - in_influx, in_influx - stored
    assert not missing and not extra, (list(missing.items())[:5], list(extra.items())[:5])
    return sum(stored.values())


def test_influx_outage_loses_nothing(tmp_path: Path, influxd: InfluxServer) -> None:
    config = write_config(tmp_path, influxd)
    log = tmp_path / "daemon.log"
    proc = start_daemon(config, log)
    try:
        wait_for(lambda: cursor(config) > 0, 30, "the first batch in InfluxDB", proc, log)
        influxd.stop()
        outage_start = max_seq(config)
        wait_for(lambda: max_seq(config) >= outage_start + 5 * N_DEVICES, 30, "results during the outage", proc, log)
        assert cursor(config) <= outage_start + N_DEVICES  # nothing acknowledged while the server is down
        outage_end = max_seq(config)
        influxd.start()
        wait_for(lambda: cursor(config) >= outage_end, 60, "catch-up after the outage", proc, log)
    finally:
        stop_daemon(proc)
    assert proc.returncode == 0
    points = finish_and_compare(config, influxd)
    assert points >= outage_end
    text = log.read_text()
    assert text.count("cannot write to") == 1 and text.count("writing again after") == 1


def test_sigkill_mid_catch_up_loses_and_duplicates_nothing(tmp_path: Path, influxd: InfluxServer) -> None:
    config = write_config(tmp_path, influxd)
    cfg = load_config(config)
    ids = [d.id for d in cfg.devices]
    t0 = time.time() - 6 * 3600  # a backlog from hours ago, inside the default ICMP retention (1 d)
    store = Store.open(cfg.state_dir)
    backlog = [ProbeResult(ids[i % len(ids)], "reachability", "icmp", Status.OK, "up", t0 + i * 0.001, 0.01,
                           (ping_sample(i),)) for i in range(300_000)]
    store.append(backlog)
    store.close()
    log = tmp_path / "daemon.log"
    proc = start_daemon(config, log)
    wait_for(lambda: cursor(config) >= 20_000, 60, "forwarding under way", proc, log)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    killed_at = cursor(config)
    assert 0 < killed_at < 300_000, killed_at
    proc = start_daemon(config, log)
    try:
        wait_for(lambda: cursor(config) >= 300_000, 120, "catch-up after the restart", proc, log)
    finally:
        stop_daemon(proc)
    assert finish_and_compare(config, influxd) >= 300_000
