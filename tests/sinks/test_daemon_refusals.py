"""The real daemon behind a proxy that answers 400 to everything: a stall that shows and heals.

`netmon run` forwards through the loopback proxy (tests/sinks/proxy.py) to a real influxd. While
the proxy refuses every write, the daemon sets nothing aside, says so once in its log, and
`netmon status` shows the output's server fault; when the proxy heals, everything arrives.
"""

from __future__ import annotations

import asyncio
import collections
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

from netmon.config import load_config
from netmon.sinks.batches import TagResolver
from netmon.sinks.influx import Forwarder
from netmon.store import Store
from tests.fixtures.influxd import InfluxServer
from tests.sinks.helpers import drain
from tests.sinks.proxy import Proxy
from tests.sinks.test_daemon_forward import (
    REPO,
    cursor,
    db_value,
    max_seq,
    start_daemon,
    stop_daemon,
    wait_for,
    write_config,
)


class ProxyThread:
    """The proxy in its own event loop, so the test can block while the daemon runs."""

    def __init__(self, target: str) -> None:
        self.proxy = Proxy(target, refuse_until=time.monotonic() + 3600)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Proxy:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.proxy.start(), self.loop).result(10)
        return self.proxy

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def status_json(config: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "netmon", "status", "-c", str(config), "--once", "--format", "json"],
                         capture_output=True, text=True, cwd=REPO, timeout=60, check=True).stdout
    return json.loads(out)


def output_state(config: Path) -> str:
    try:
        row = db_value(config, "SELECT count(*) FROM agent_state WHERE key = 'output:main'"
                       " AND json_extract(value, '$.state') = 'server_fault'")
    except Exception:
        return ""
    return "server_fault" if row else ""


def test_daemon_behind_a_refusing_proxy_stalls_visibly_and_loses_nothing(tmp_path: Path,
                                                                       influxd: InfluxServer) -> None:
    log = tmp_path / "daemon.log"
    with ProxyThread(influxd.url) as proxy:
        config = write_config(tmp_path, SimpleNamespace(url=proxy.url))  # type: ignore[arg-type]
        proc = start_daemon(config, log)
        try:
            wait_for(lambda: output_state(config) == "server_fault", 60, "the server fault", proc, log)
            wait_for(lambda: max_seq(config) >= 30, 30, "results while refused", proc, log)
            status = status_json(config)
            assert status["agent"]["outputs"]["main"]["state"] == "server_fault"
            assert "backend busy" in status["agent"]["outputs"]["main"]["problem"]
            assert status["agent"]["backlog"]["main"] > 0
            assert cursor(config) == 0
            proxy.refuse_until = 0.0
            healed_from = max_seq(config)
            wait_for(lambda: cursor(config) >= healed_from, 60, "the catch-up", proc, log)
            assert status_json(config)["agent"]["outputs"]["main"]["state"] == "ok"
        finally:
            stop_daemon(proc)
    assert proc.returncode == 0
    assert db_value(config, "SELECT count(*) FROM dead_letters") == 0
    text = log.read_text()
    assert text.count("server or proxy fault") == 1 and text.count("writing again after") == 1
    assert "Traceback" not in text
    stored, sent = ping_points(config, influxd)
    assert stored == sent and len(stored) >= healed_from  # every ping point, once


def ping_points(config: Path, server: InfluxServer) -> tuple[collections.Counter, collections.Counter]:
    """(stored, in InfluxDB) ping points by (device, ms) after draining what the daemon left unsent.

    Only `ping`: the canaries the forwarder wrote while deciding are `netmon_agent` points.
    """
    cfg = load_config(config)
    store = Store.open(cfg.state_dir)
    names = {d.id: d.name for d in cfg.devices}
    straight = cfg.settings.outputs.influxdb[0].model_copy(update={"url": server.url})  # the proxy is gone
    asyncio.run(drain(Forwarder(straight, store,
                                TagResolver(cfg.settings.agent.name, cfg.all_devices)), store))
    stored: collections.Counter = collections.Counter()
    for r in store.iter_results():
        stored.update((names[r.device_id], round(r.ts * 1000)) for s in r.samples if s.measurement == "ping")
    store.close()
    sent: collections.Counter = collections.Counter()
    for series in server.query('SELECT * FROM "ping" GROUP BY "device"'):
        sent.update((series["tags"]["device"], values[0]) for values in series["values"])
    return stored, sent
