"""Notifier cost on a large province: one tick (derive + compose) with many open problems, and
delivery throughput of the outbox to a loopback webhook.

    PYTHONPATH=. python bench/bench_notify.py --communes 100 --villages 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from netmon.analysis import flags as flagmod
from netmon.analysis.catalog import catalog_from_config
from netmon.analysis.db import ensure_schema
from netmon.analysis.stability import Cause
from netmon.config import load_config
from netmon.notify.component import Notifier
from netmon.store import Store


def _config(folder: Path, communes: int, villages: int, port: int) -> Path:
    lines = ["version: 1", "agent: {name: bench, state_dir: state}", "auths: {o: {version: 2c, community: x}}",
             "notify:", "  group_wait: 1ms", "  group_interval: 1ms", "  flood: {max_messages: 100000, per: 1m}",
             "  channels:", f"    hook: {{webhook: {{url: 'http://127.0.0.1:{port}/h'}}}}",
             "  routes:", "    - {channels: [hook]}",
             "inventory:", "  - name: Lai Châu", "    communes:"]
    for c in range(communes):
        lines += [f"      - name: Xã {c}", "        devices:",
                  "          - {name: r, kind: router, host: 127.0.0.1, auth: o}", "        villages:"]
        for v in range(villages):
            lines += [f"          - name: Thôn {v}", "            devices:",
                      "              - {name: cpe, kind: cpe, host: 127.0.0.1, auth: o, parent: r}"]
    path = folder / "netmon.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--communes", type=int, default=100)
    ap.add_argument("--villages", type=int, default=10)
    ap.add_argument("--flagged-pct", type=float, default=20.0)
    args = ap.parse_args()

    class Ok(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(_config(Path(tmp), args.communes, args.villages, server.server_address[1]))
        store = Store.open(config.state_dir)
        ensure_schema(store)
        notifier = Notifier(config)
        notifier.open()
        now = time.time() - 10  # ticks in the recent past, so the queued messages are due now
        villages = list(catalog_from_config(config).villages.values())
        flagged = villages[:: max(1, round(100 / args.flagged_pct))]
        with store.transaction() as conn:
            for v in flagged:
                flagmod.raise_flag(conn, v, Cause.LINK, {"availability_pct": 97.0}, now - 60)
        t0 = time.perf_counter()
        new, _ = notifier.tick(now)
        t1 = time.perf_counter()
        _, made = notifier.tick(now + 1)
        t2 = time.perf_counter()
        notifier.tick(now + 2)
        t3 = time.perf_counter()
        sent = asyncio.run(notifier.deliver())
        t4 = time.perf_counter()
        print(json.dumps({"villages": len(villages), "open_flags": len(flagged), "new_events": new,
                          "messages": made, "first_tick_s": round(t1 - t0, 3), "compose_tick_s": round(t2 - t1, 3),
                          "idle_tick_s": round(t3 - t2, 3), "sent": sent,
                          "delivery_msgs_per_s": round(sent / (t4 - t3), 1)}))
        store.close()
    server.shutdown()


if __name__ == "__main__":
    main()
