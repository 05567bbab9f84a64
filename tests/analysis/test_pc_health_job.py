"""The daemon's analysis component writes pc_health results for every PC with aging rules."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

from netmon.analysis import worker
from netmon.analysis.db import ensure_schema
from netmon.bags import to_worker
from netmon.config import load_config
from netmon.model import ProbeResult, Sample, Status
from netmon.store import Store

CONFIG = """version: 1
agent: {name: t, state_dir: state}
auths: {office: {version: 2c, community: public}}
inventory:
  - name: Lai Châu
    communes:
      - name: Sìn Hồ
        devices:
          - {name: ketoan-pc, kind: pc, host: 127.0.50.1, auth: office}
          - {name: motcua-pc, kind: pc, host: 127.0.50.2, auth: office}
          - {name: ubnd-router, kind: bts, host: 127.0.50.3}
"""

WIN7 = "Hardware: Intel64 Family 6 Model 23 - Software: Windows Version 6.1 (Build 7601 Multiprocessor Free)"
WIN11 = "Hardware: Intel64 Family 6 Model 151 - Software: Windows Version 6.3 (Build 22631 Multiprocessor Free)"


def snmp_result(device_id: str, descr: str, ram_kb: int, disk_pct: float, ts: float) -> ProbeResult:
    return ProbeResult(device_id, "host-resources", "snmp", Status.OK, "ok", ts, 0.1, (
        Sample("snmp", {"sys_descr": descr, "hr_memory_kb": ram_kb, "uptime_s": 86400.0 * 3}),
        Sample("hr_storage", {"hrStorageType": "fixed_disk", "used_pct": disk_pct, "hrStorageSize": 1000,
                              "hrStorageUsed": int(disk_pct * 10)},
               {"hrStorageIndex": "1", "hrStorageDescr": "C:\\\\"}),
    ))


def test_pc_health_results_rank_the_old_pc_first(tmp_path: Path):
    (tmp_path / "netmon.yaml").write_text(CONFIG)
    config = load_config(tmp_path / "netmon.yaml")
    store = Store.open(config.state_dir)
    now = time.time()
    old, new = (d for d in config.devices if d.kind == "pc")
    store.append([snmp_result(old.id, WIN7, 2 * 1024 * 1024, 97.0, now - 60),
                  snmp_result(new.id, WIN11, 16 * 1024 * 1024, 40.0, now - 60)])
    ensure_schema(store)
    worker.build(store, pickle.loads(to_worker(worker.ForWorker(config))))  # as it reaches the worker
    assert worker.score_pcs(store) == (2, 0)
    results = list(store.iter_results(prober="analysis"))
    store.close()
    by_device = {r.device_id: r for r in results}
    assert set(by_device) == {old.id, new.id}  # the bts has no aging rules
    scores = {d: r.samples[0].fields["score"] for d, r in by_device.items()}
    assert all(r.samples[0].measurement == "pc_health" and r.prober == "analysis" for r in results)
    assert scores[old.id] > scores[new.id]
    reasons = by_device[old.id].samples[0].fields["reasons"]
    assert "RAM" in reasons and "C:" in reasons


def test_a_pc_not_answering_yet_is_counted_waiting_not_scored(tmp_path: Path):
    """The component asks again at the next evaluation, not an hour later, while a PC waits for its first answer."""
    (tmp_path / "netmon.yaml").write_text(CONFIG)
    config = load_config(tmp_path / "netmon.yaml")
    store = Store.open(config.state_dir)
    now = time.time()
    answered, silent = (d for d in config.devices if d.kind == "pc")
    store.append([snmp_result(answered.id, WIN11, 16 * 1024 * 1024, 40.0, now - 60)])
    ensure_schema(store)
    worker.build(store, pickle.loads(to_worker(worker.ForWorker(config))))
    assert worker.score_pcs(store) == (1, 1)
    scored = {r.device_id for r in store.iter_results(prober="analysis")}
    store.close()
    assert scored == {answered.id} and silent.id not in scored  # no score (not a 0) for the silent PC
