"""In the lab: a power cut announced as maintenance raises no flag and no message, the live view shows
`maintenance`, and the availability report counts the time as maintenance (issue 18).

Real parts throughout: the lab's namespaces and snmpd power cuts, the real daemon in the agent's
namespace, the planned cut imported with `netmon maintenance import` (the EVN CSV), a real HTTP
receiver on the agent namespace's loopback as the notify channel, `netmon status` and `netmon report
availability` as a technician runs them. Two villages of one commune lose power at the same moment;
only Tả Phìn's cut was announced. Nậm Tăm is the control: flagged, and its message arrives.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from netmon.analysis.status import flags_since
from netmon.store import Store
from tests.fixtures.need import need

CUT_AT, CUT_S = 30, 40
WINDOW = (CUT_AT - 5, CUT_AT + CUT_S + 5)
"""The announced window around the cut, seconds after the lab's t0."""
WINDOW_NOW_S = 60
SCENARIO = f"""\
lab: 1
province: Lai Châu
lifetime: 300s
netmon: {{icmp_interval: 3s, icmp_count: 5, icmp_timeout: 1s, snmp_interval: 4s, evaluate_every: 10s,
          window_now: {WINDOW_NOW_S}s, window_trend: 10m, raise_after: 2, clear_after: 2}}
communes:
  - name: Sìn Hồ
    operator: VNPT
    devices: [{{name: router, kind: router}}]
    villages:
      - {{name: Tả Phìn, operator: Viettel, devices: [{{name: cpe-ta-phin, kind: cpe}}]}}
      - {{name: Nậm Tăm, operator: Viettel, devices: [{{name: cpe-nam-tam, kind: cpe}}]}}
      - {{name: Làng Mô, operator: Viettel, devices: [{{name: cpe-lang-mo, kind: cpe}}]}}
trouble:
  - {{kind: power, village: Tả Phìn, at: {CUT_AT}s, duration: {CUT_S}s}}
  - {{kind: power, village: Nậm Tăm, at: {CUT_AT}s, duration: {CUT_S}s}}
"""
HOOK_PORT = 18018
RECEIVER = """\
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
out = open(sys.argv[2], "a", encoding="utf-8")
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        out.write(json.dumps({"path": self.path, "json": json.loads(body)}, ensure_ascii=False) + "\\n")
        out.flush()
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def _netmon(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netmon", *args], capture_output=True, text=True, timeout=60,
                          env=env)


def _wait(cond, until_ts: float, what: str, log: Path):
    """Poll `cond` until truthy (returns its value) or fail at `until_ts` with the daemon's log."""
    while time.time() < until_ts:
        value = cond()
        if value:
            return value
        time.sleep(1.0)
    raise AssertionError(f"timed out waiting for {what}\n" + log.read_text(errors="replace")[-3000:])


def _posts(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _village(doc: dict, name: str) -> dict:
    return next(v for v in doc["villages"] if v["village"] == name)


@pytest.mark.slow
@pytest.mark.netns
@pytest.mark.timeout(600)
def test_announced_power_cut_is_maintenance_end_to_end(tmp_path: Path) -> None:
    need(sys.platform.startswith("linux") and os.geteuid() == 0, "root on Linux (network namespaces)")
    for tool in ("ip", "nft", "snmpd"):
        need(shutil.which(tool) is not None, tool)
    from netmon.lab import builder

    name = f"maint{os.getpid() % 10000}"
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    state = builder.up(scenario, name, run_dir=tmp_path / "run")
    env = builder.python_env()
    daemon = receiver = None
    log, posts = tmp_path / "daemon.log", tmp_path / "posts.jsonl"
    try:
        t0, config = state.t0, state.config
        data = yaml.safe_load(Path(config).read_text(encoding="utf-8"))
        data["notify"] = {"language": "en", "group_wait": "1ms", "group_interval": "1ms", "down_after": "10s",
                          "channels": {"tinh-it": {"url": f"json://127.0.0.1:{HOOK_PORT}/it"}}}
        Path(config).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        # EVN's announcement as the province receives it: commune/village, start, end, reason (here in UTC)
        csv = tmp_path / "evn.csv"
        local = [datetime.fromtimestamp(t0 + s, UTC).strftime("%Y-%m-%d %H:%M:%S") for s in WINDOW]
        csv.write_text(f"xã,bắt đầu,kết thúc,lý do\nTả Phìn,{local[0]},{local[1]},EVN cắt điện\n", encoding="utf-8")
        imported = _netmon("maintenance", "import", str(csv), "--timezone", "UTC", "-c", config, env=env)
        assert imported.returncode == 0 and "imported 1 window(s)" in imported.stdout, imported
        window_end = t0 + WINDOW[1]
        receiver = subprocess.Popen(["ip", "netns", "exec", state.agent_ns, sys.executable, "-c", RECEIVER,
                                     str(HOOK_PORT), str(posts)])
        with open(log, "wb") as out:
            daemon = subprocess.Popen(["ip", "netns", "exec", state.agent_ns, sys.executable, "-m", "netmon", "run",
                                       "-c", config], env=env, stdout=out, stderr=subprocess.STDOUT)

        def status() -> dict:
            run = _netmon("status", "--once", "--format", "json", "-c", config, env=env)
            assert run.returncode == 0, run.stderr
            return json.loads(run.stdout)

        # during the cut: the view says maintenance while the evaluator measures the village dark
        held = _wait(lambda: (v := _village(status(), "Tả Phìn"))["state"] == "maintenance"
                     and v["maintenance"]["measured_state"] in ("down", "unstable") and v,
                     window_end, "Tả Phìn shown as maintenance while measured dark", log)
        assert held["maintenance"]["reason"] == "EVN cắt điện"
        assert held["maintenance"]["end_ts"] == pytest.approx(window_end, abs=1)
        text = _netmon("status", "--once", "-c", config, env={**env, "COLUMNS": "160"}).stdout
        line = next(ln for ln in text.splitlines() if "Tả Phìn" in ln)
        assert "⚒" in line and "EVN cắt điện" in line and "⚑" not in line, text
        # the control: the unannounced cut is flagged and told
        _wait(lambda: any("Nậm Tăm" in json.dumps(p, ensure_ascii=False) for p in _posts(posts)),
              t0 + 150, "the message about Nậm Tăm", log)
        # past the window and the minute its cut stays in the judged window: still no flag for Tả Phìn
        _wait(lambda: time.time() > window_end + WINDOW_NOW_S + 20, window_end + WINDOW_NOW_S + 30, "time", log)
        assert daemon.poll() is None, log.read_text(errors="replace")[-3000:]
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0
        store = Store.open(Path(state.run_dir) / "state", readonly=True)
        try:
            flags = {f.village for f in flags_since(store, 0)}
            events = store.conn.execute("SELECT kind, action, muted FROM notify_events WHERE village = ?",
                                        ("Tả Phìn",)).fetchall()
        finally:
            store.close()
        assert "Nậm Tăm" in flags and "Tả Phìn" not in flags, flags
        # the cut was seen (device down and back) and recorded, each event muted by the window, none sent
        assert {(k, a) for k, a, _m in events} >= {("device", "down")}, events
        assert all(m.startswith("maintenance: EVN cắt điện") for _k, _a, m in events), events
        sent = json.dumps(_posts(posts), ensure_ascii=False)
        assert "Nậm Tăm" in sent and "Tả Phìn" not in sent, sent
        # the availability report: the cut is maintenance time, left out; counted with the option
        month = datetime.fromtimestamp(t0, UTC).strftime("%Y-%m")

        def availability(*extra: str) -> dict[str, dict]:
            run = _netmon("report", "availability", "--month", month, "--format", "json", *extra, "-c", config,
                          env=env)
            assert run.returncode == 0, run.stderr
            return {r["name"]: r for r in json.loads(run.stdout)["rows"] if r["level"] == "village"}

        out, counted = availability(), availability("--include-maintenance")
        ta_phin, nam_tam = out["Sìn Hồ / Tả Phìn"], out["Sìn Hồ / Nậm Tăm"]
        assert ta_phin["maintenance_s"] == pytest.approx(WINDOW[1] - WINDOW[0], abs=1)
        assert ta_phin["availability_pct"] >= 99.0 and ta_phin["outages"] == 0 and ta_phin["downtime_s"] == 0
        assert nam_tam["maintenance_s"] == 0 and nam_tam["availability_pct"] < 90 and nam_tam["outages"] >= 1
        assert counted["Sìn Hồ / Tả Phìn"]["availability_pct"] < 90 and counted["Sìn Hồ / Tả Phìn"]["outages"] >= 1
        print("LAB-MAINT", json.dumps({"ta_phin": ta_phin, "ta_phin_counted": counted["Sìn Hồ / Tả Phìn"],
                                       "nam_tam": nam_tam, "messages": [p["json"]["title"] for p in _posts(posts)],
                                       "events_ta_phin": events}, ensure_ascii=False))
    finally:
        for proc in (daemon, receiver):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        builder.down(name)
