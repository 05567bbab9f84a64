"""`netmon run` with a notify: section: a real daemon probes a real service on loopback and tells a real
HTTP receiver when it goes down and when it is back."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.notify.conftest import HttpReceiver, free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
PROFILE = """kind: service
checks:
  - {name: http, prober: http, interval: 1s, timeout: 500ms, expect_status: [200]}
"""


def test_daemon_sends_service_down_and_back(tmp_path):
    hook = HttpReceiver().start()
    service_port = free_port()
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "fastsvc.yaml").write_text(PROFILE)
    config = tmp_path / "netmon.yaml"
    config.write_text(f"""version: 1
agent: {{name: test-agent, state_dir: state, timezone: Asia/Ho_Chi_Minh}}
profiles: [profiles]
notify:
  language: en
  group_wait: 1ms
  group_interval: 1ms
  service_down_after: 3
  channels:
    tinh-it: {{url: "json://127.0.0.1:{hook.port}/it"}}
  routes:
    - {{kind: service, channels: [tinh-it]}}
inventory:
  - name: Lai Châu
    communes:
      - name: Sìn Hồ
        devices:
          - {{name: một cửa, kind: service, profile: fastsvc, url: "http://127.0.0.1:{service_port}/"}}
""", encoding="utf-8")
    log = tmp_path / "daemon.log"
    proc = subprocess.Popen([sys.executable, "-m", "netmon", "run", "-c", str(config)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=log.open("w"))
    service = None
    try:
        down = wait_for(lambda: hook.on("/it"), 60, "the service-down message")
        assert down[0]["json"]["title"] == "Service một cửa unreachable from Sìn Hồ"
        assert "Evidence: http:" in down[0]["json"]["message"]
        service = HttpReceiver(port=service_port).start()  # the service comes back
        wait_for(lambda: len(hook.on("/it")) >= 2, 60, "the service-back message")
        assert hook.on("/it")[1]["json"]["title"] == "Service một cửa reachable again from Sìn Hồ"
        # a mute from the command line reaches the running daemon without a reload
        mute = subprocess.run([sys.executable, "-m", "netmon", "mute", "một cửa", "1h", "--reason", "nâng cấp",
                               "-c", str(config)], cwd=REPO, capture_output=True, text=True, timeout=60)
        assert mute.returncode == 0, mute.stderr
        service.stop()
        db = tmp_path / "state" / "netmon.db"

        def muted_down() -> bool:
            with sqlite3.connect(db, timeout=10) as conn:
                return bool(conn.execute("SELECT count(*) FROM notify_events WHERE kind = 'service' AND action = 'down'"
                                         " AND muted LIKE 'maintenance: nâng cấp%'").fetchone()[0])

        wait_for(muted_down, 60, "the second outage recorded as muted")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        assert len(hook.on("/it")) == 2  # once each, and nothing for the muted outage
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        hook.stop()
        if service is not None:
            service.stop()
        print(log.read_text()[-3000:])
