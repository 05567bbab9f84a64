"""Config models reach the bookkeeping process as plain bags (netmon/bags.py): same values, no pydantic there.

Real parts: a real config with per-village thresholds, office hours, a maintenance window and PCs
with aging rules; the real worker process (`Bookkeeper`) running the daemon's analysis jobs; and
the same jobs in this process on the models themselves, whose stored verdicts must be equal.
"""

from __future__ import annotations

import asyncio
import pickle
import time
from pathlib import Path
from typing import Any

import pytest

from netmon.analysis import worker
from netmon.analysis.db import ensure_schema
from netmon.bags import Bag, to_worker
from netmon.bookkeeping import Bookkeeper
from netmon.config import load_config
from netmon.model import ProbeResult, Sample, Status
from netmon.store import Store
from tests.core.bookkeeping_jobs import analysis_round

CONFIG = """version: 1
agent: {name: t, state_dir: state, office_hours: "Mon-Fri 07:30-17:00", timezone: Asia/Ho_Chi_Minh}
analysis:
  thresholds: {unstable_loss_pct: 3.0}
notify:
  maintenance:
    - {name: cắt điện, scope: {commune: Sìn Hồ}, start: "2026-01-05 08:00", duration: 2h, timezone: Asia/Ho_Chi_Minh}
auths: {office: {version: 2c, community: public}}
inventory:
  - name: Lai Châu
    communes:
      - name: Sìn Hồ
        villages:
          - name: Tả Phìn
            thresholds: {unstable_loss_pct: 10.0}
            devices:
              - {name: cpe-1, kind: cpe, host: 127.0.60.1, auth: office}
              - {name: cpe-2, kind: cpe, host: 127.0.60.2, auth: office}
          - name: Nậm Cuổi
            devices:
              - {name: cpe-3, kind: cpe, host: 127.0.60.3, auth: office}
        devices:
          - {name: ketoan-pc, kind: pc, host: 127.0.60.9, auth: office}
"""


def ping(device_id: str, ts: float, received: int) -> ProbeResult:
    fields: dict[str, Any] = {"packets_transmitted": 3, "packets_received": received,
                              "percent_packet_loss": (3 - received) * 100 / 3, "result_code": 0 if received else 1}
    if received:
        fields.update(minimum_response_ms=20.0, average_response_ms=25.0, maximum_response_ms=30.0,
                      standard_deviation_ms=4.0)
    return ProbeResult(device_id, "reachability", "icmp", Status.OK if received else Status.TIMEOUT,
                       "", ts, 0.4, (Sample("ping", fields, {"url": "x"}),))


def filled_store(folder: Path) -> tuple[Any, Store]:
    folder.mkdir()
    (folder / "netmon.yaml").write_text(CONFIG, encoding="utf-8")
    config = load_config(folder / "netmon.yaml", environ={})
    store = Store.open(config.state_dir)
    now = time.time()
    results = []
    for i, d in enumerate(d for d in config.devices if d.kind == "cpe"):
        for k in range(180):  # 3 h every minute; one village loses a packet in three, now and then
            received = 2 if (i == 2 and k % 4 == 0) else 3
            results.append(ping(d.id, now - 3 * 3600 + 60 * k, received))
    pc = next(d for d in config.devices if d.kind == "pc")
    results.append(ProbeResult(pc.id, "host-resources", "snmp", Status.OK, "ok", now - 60, 0.1, (
        Sample("snmp", {"sys_descr": "Hardware: x - Software: Windows Version 6.1 (Build 7601)",
                        "hr_memory_kb": 2 * 1024 * 1024, "uptime_s": 3600.0}),)))
    store.append(results)
    ensure_schema(store)
    return config, store


def verdicts(store: Store) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r.device_id, s.measurement): {k: v for k, v in s.fields.items()}
            for r in store.iter_results(prober="analysis") for s in r.samples}


def test_bags_carry_every_value_and_property() -> None:
    from netmon.config.schema import AgentConfig

    settings = AgentConfig.model_validate({"version": 1, "analysis": {"rollup_bucket": "15m"}})
    bag = pickle.loads(to_worker(settings))
    assert isinstance(bag, Bag) and bag.model == "AgentConfig"
    assert bag.analysis.bucket_s == settings.analysis.bucket_s == 900.0  # a property, read once as a value
    assert bag.analysis.thresholds.unstable_loss_pct == settings.analysis.thresholds.unstable_loss_pct
    assert bag == pickle.loads(to_worker(settings)) and hash(bag.analysis.thresholds) is not None
    with pytest.raises(AttributeError):
        bag.model_copy  # noqa: B018 - a method does not make the trip


def test_the_worker_judges_bags_as_the_models_and_never_imports_pydantic(tmp_path: Path) -> None:
    # In this process, on the models themselves.
    config, store = filled_store(tmp_path / "models")
    worker.build(store, worker.worker_config(config))
    worker.roll_up(store, 100_000)
    assert worker.evaluate(store) > 0 and worker.score_pcs(store) == (1, 0)
    expected = verdicts(store)
    store.close()

    # In the real bookkeeping process, on what crosses the pipe.
    config, store = filled_store(tmp_path / "bags")
    store.close()

    async def main() -> dict[str, Any]:
        keeper = Bookkeeper(config.state_dir / "netmon.db")
        try:
            await keeper.setup("analysis", worker.build, worker.ForWorker(config))
            return await keeper.run(analysis_round)
        finally:
            await keeper.close()

    facts = asyncio.run(main())
    assert facts["evaluated"] > 0 and facts["scored"] == (1, 0)
    assert not {"pydantic", "pydantic_core", "netmon.config.schema", "yaml"} & facts["modules"]
    store = Store.open(config.state_dir)
    got = verdicts(store)
    store.close()
    assert got.keys() == expected.keys() and len(got) == 3  # two villages and the PC
    assert got == expected
