"""SIGKILL of the sending process mid-delivery, then a restart: nothing lost, nothing sent twice unannounced."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from netmon.analysis import flags as flagmod
from netmon.analysis.catalog import catalog_from_config
from netmon.analysis.db import ensure_schema as analysis_schema
from netmon.analysis.stability import Cause
from netmon.notify.component import Notifier
from netmon.store import Store
from tests.notify.conftest import HttpReceiver, load, wait_for

ROOT = Path(__file__).resolve().parents[2]


def _notify_yaml(port: int) -> str:
    return f"""  group_wait: 1ms
  group_interval: 1ms
  max_backoff: 1s
  channels:
    relay:
      webhook:
        url: "http://127.0.0.1:{port}/relay"
        template: {{id: "{{key}}", text: "{{subject}}", repeat: "{{repeat}}", body: "{{body}}"}}
        timeout: 5s
  routes:
    - {{channels: [relay]}}
"""


def _sender(config_path: Path) -> subprocess.Popen:
    code = f"from netmon.notify.component import run_standalone; run_standalone({str(config_path)!r}, 60)"
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _statuses(db: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(db, timeout=10) as conn:
        return conn.execute("SELECT key, status, in_doubt FROM notify_outbox ORDER BY id").fetchall()


def test_sigkill_while_sending_then_restart_loses_nothing_and_flags_the_one_in_doubt(tmp_path):
    http = HttpReceiver(delay_s=1.0).start()  # a slow receiver: the kill lands while it holds a request
    procs: list[subprocess.Popen] = []
    try:
        config = load(tmp_path, _notify_yaml(http.port))
        store = Store.open(config.state_dir)
        analysis_schema(store)
        notifier = Notifier(config)
        notifier.open()
        villages = list(catalog_from_config(config).villages.values())
        now = time.time()
        for i, v in enumerate(villages):  # six villages, six messages queued in order (composed, not sent)
            with store.transaction() as conn:
                flagmod.raise_flag(conn, v, Cause.LINK, {"availability_pct": 90.0 + i}, now - 60 + i)
            notifier.tick(now + i)
            notifier.tick(now + i + 0.5)
        expected = [k for k, _s, _d in _statuses(store.path)]
        assert len(expected) == len(villages) == 6
        store.close()

        procs.append(_sender(config.path))
        wait_for(lambda: len(http.on("/relay")) >= 3, 30, "three deliveries before the kill")
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        in_flight = http.on("/relay")[-1]["json"]["id"]
        doubt = [k for k, s, _d in _statuses(store.path) if s == "sending"]
        assert doubt == [in_flight], "the kill lands while the receiver holds the third message"

        procs.append(_sender(config.path))
        try:
            wait_for(lambda: all(s == "sent" for _k, s, _d in _statuses(store.path)), 30, "every message sent")
        finally:
            procs[1].send_signal(signal.SIGTERM)
            _out, err = procs[1].communicate(timeout=30)
            print(err.decode()[-3000:])

        posts = [p["json"] for p in http.on("/relay")]
        first_seen = list(dict.fromkeys(p["id"] for p in posts))
        assert first_seen == expected  # nothing lost, in order
        repeats = [p for p in posts if p["repeat"] == "1"]
        assert len(posts) == len(expected) + 1  # only the message in doubt went twice...
        assert [p["id"] for p in repeats] == [in_flight]  # ...and its second copy says so, with the same key
        for p in repeats:
            assert p["id"] in p["body"] and "tin gửi lại" in p["body"]  # announced, with the same key
        assert [k for k, _s, d in _statuses(store.path) if d] == [in_flight]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        http.stop()
