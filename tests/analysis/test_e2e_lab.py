"""End to end on real packets: the lab's namespaces, nft loss/outages, snmpd power cuts, the real daemon.

The daemon runs inside the lab's agent namespace (no route out) for ~3.5 minutes with 3 s rounds,
a 60 s short window and 10 s evaluations; then the store must hold exactly the flags the lab's
ground truth predicts: link flags with the right operator for lossy and flapping villages, power
for the power cut, upstream (never link) behind the failed commune router, nothing for the clean
village, and the village whose loss stopped cleared after `clear_after` good evaluations.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netmon.analysis.status import flags_since, latest_village_status
from netmon.store import Store
from tests.fixtures.need import need

SCENARIO = """\
lab: 1
province: E2E
lifetime: 260s
netmon: {icmp_interval: 3s, icmp_count: 5, icmp_timeout: 1s, snmp_interval: 4s, evaluate_every: 10s,
         window_now: 60s, window_trend: 10m, raise_after: 2, clear_after: 2}
communes:
  - name: Sìn Hồ
    operator: VNPT
    devices: [{name: router, kind: router}]
    villages:
      - {name: Lossy, operator: Viettel, devices: [{name: cpe-lossy, kind: cpe}]}
      - {name: Flaky, operator: MobiFone, devices: [{name: cpe-flaky, kind: cpe}]}
      - {name: Powerless, operator: Viettel, devices: [{name: cpe-power, kind: cpe}]}
      - {name: Clean, operator: Viettel, devices: [{name: cpe-clean, kind: cpe}]}
  - name: Tam Đường
    operator: VNPT
    devices: [{name: router, kind: router}]
    villages:
      - {name: Behind, operator: Viettel, devices: [{name: cpe-behind, kind: cpe}]}
trouble:
  - {kind: loss, village: Lossy, loss_pct: 40, at: 0s, duration: 80s}
  - {kind: outage, village: Flaky, at: 5s, every: 20s, duration: 6s}
  - {kind: power, village: Powerless, at: 40s, duration: 15s}
  - {kind: upstream, commune: Tam Đường, at: 70s, duration: 30s}
"""
RUN_S = 200.0


@pytest.fixture
def lab_run(tmp_path: Path):
    """Build the lab, run the daemon in its agent namespace for RUN_S, stop both; yield the run dir."""
    need(sys.platform.startswith("linux") and os.geteuid() == 0, "root on Linux (network namespaces)")
    for tool in ("ip", "nft", "snmpd"):
        need(shutil.which(tool) is not None, tool)
    from netmon.lab import builder

    name = f"a{os.getpid() % 100000}"
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    state = builder.up(scenario, name, run_dir=tmp_path / "run")
    daemon = None
    try:
        with open(tmp_path / "daemon.log", "wb") as log:
            daemon = subprocess.Popen(["ip", "netns", "exec", state.agent_ns, sys.executable, "-m", "netmon", "run",
                                       "-c", state.config], env=builder.python_env(), stdout=log,
                                      stderr=subprocess.STDOUT)
        deadline = state.t0 + RUN_S
        while time.time() < deadline and daemon.poll() is None:
            time.sleep(1.0)
        assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
        yield Path(state.run_dir), tmp_path / "daemon.log"
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait(timeout=10)
        builder.down(name)


@pytest.mark.slow
@pytest.mark.netns
@pytest.mark.timeout(420)
def test_lab_villages_flagged_with_the_right_cause(lab_run):
    run_dir, daemon_log = lab_run
    truth = json.loads((run_dir / "ground-truth.json").read_text(encoding="utf-8"))
    store = Store.open(run_dir / "state", readonly=True)
    try:
        flags = flags_since(store, 0)
        status = latest_village_status(store)
    finally:
        store.close()
    log_text = daemon_log.read_text(encoding="utf-8", errors="replace")
    by_village: dict[str, list] = {}
    for f in flags:
        by_village.setdefault(f.village, []).append(f)
    expected = {v["village"]: v for v in truth["villages"]}
    assert set(by_village) <= set(expected), by_village
    assert {v for v, e in expected.items() if e["flagged"]} == set(by_village), (by_village, log_text[-4000:])
    for village, e in expected.items():
        causes = {f.cause for f in by_village.get(village, [])}
        if "upstream" in e["causes"]:
            assert causes == {"upstream"}, (village, causes)  # never sent to the operator as link
        elif "power" in e["causes"]:
            assert "power" in causes, (village, causes)
        elif e["flagged"]:
            assert causes == {"link"}, (village, causes)
            assert {f.operator for f in by_village[village]} == {e["operator"]}
    lossy = by_village["Lossy"]
    assert lossy[-1].cleared_ts is not None, "the loss stopped at 80 s: the flag must clear"
    assert any(f.cleared_ts is None for f in by_village["Flaky"]), "Flaky keeps flapping: still flagged"
    assert status and all(s.state != "unknown" for s in status.values()), status
    assert log_text.count("flag raised: Sìn Hồ / Lossy") == 1
    assert "analysis step failed" not in log_text and "result listener" not in log_text, log_text[-4000:]
