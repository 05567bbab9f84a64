"""The size model: its bytes per result hold on a real store, and `netmon check` prints the projection."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from netmon.cli import main
from netmon.config import load_config
from netmon.model import ProbeResult, Sample, Status
from netmon.store import Store
from netmon.storesize import BYTES_PER_RESULT, ROLLUP_VILLAGE_ROW, project
from tests.analysis.helpers import T0, Rig, village_device

CONFIG = """version: 1
agent: {{name: t, state_dir: {state}}}
auths: {{office: {{version: 2c, community: public}}}}
store:
  retention: {{results_icmp: 2d, rollups: 100d, device_hourly: 50d}}
{cap}
inventory:
  - name: Lai Châu
    communes:
      - name: Sìn Hồ
        devices:
          - {{name: ubnd-router, kind: router, host: 10.20.0.1, auth: office}}
        villages:
{villages}
"""


def write_config(tmp_path: Path, villages: int, cap: str = "") -> Path:
    """An inventory of one router and `villages` villages with one CPE each (stock profiles)."""
    lines = [f"          - {{name: Bản {v}, devices: [{{name: cpe, kind: cpe, host: 10.20.{v}.2, auth: office}}]}}"
             for v in range(villages)]
    path = tmp_path / "netmon.yaml"
    path.write_text(CONFIG.format(state=tmp_path / "state", cap=cap, villages="\n".join(lines)), encoding="utf-8")
    return path


def real_ping(device_id: str, ts: float, rng: random.Random) -> ProbeResult:
    """An ICMP result with every field and the reason the prober writes (netmon.probers.icmp.ping_sample)."""
    got = 3 - (rng.random() < 0.05)
    rtts = [rng.uniform(10.0, 90.0) for _ in range(got)]
    mean = sum(rtts) / got
    fields = {"packets_transmitted": 3, "packets_received": got, "percent_packet_loss": (3 - got) * 100.0 / 3,
              "minimum_response_ms": min(rtts), "average_response_ms": mean, "maximum_response_ms": max(rtts),
              "standard_deviation_ms": (sum((r - mean) ** 2 for r in rtts) / got) ** 0.5, "result_code": 0}
    return ProbeResult(device_id, "reachability", "icmp", Status.OK, f"{got}/3 replies, avg {mean:.1f} ms", ts,
                       0.4 + rng.random() / 10, (Sample("ping", fields, {"url": "10.20.7.2"}),))


def table_bytes(store: Store, table: str) -> int:
    """Bytes of a table and its indexes, from SQLite's dbstat."""
    return store.conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name IN (SELECT name FROM sqlite_master"
                              " WHERE tbl_name = ?)", (table,)).fetchone()[0]


def test_bytes_per_icmp_result_and_village_rollup_hold_on_a_real_store(tmp_path: Path) -> None:
    devices = [village_device(f"ban-{v:03d}") for v in range(40)]
    rig = Rig(Store.open(tmp_path), devices, rollup_bucket=3600)
    rng = random.Random(5)
    results = [real_ping(d.id, T0 + m * 60.0 + i, rng) for m in range(360) for i, d in enumerate(devices)]
    rig.feed(results, T0 + 7 * 3600)
    store = rig.store
    per_result = table_bytes(store, "results") / len(results)
    assert per_result == pytest.approx(BYTES_PER_RESULT["icmp"], rel=0.25)
    # Since schema version 5 the rows are stored keyed by integers in rollup_village_k.
    per_village_row = table_bytes(store, "rollup_village_k") / store.conn.execute(
        "SELECT count(*) FROM rollup_village").fetchone()[0]
    assert per_village_row == pytest.approx(ROLLUP_VILLAGE_ROW, rel=0.35)
    store.close()


def test_projection_follows_the_inventory_and_retention(tmp_path: Path) -> None:
    small, large = (project(load_config(write_config(tmp_path, n))) for n in (10, 40))
    assert large.results["icmp"] / small.results["icmp"] == pytest.approx(41 / 11)
    # 11 devices, ICMP every 60 s (stock router/cpe profiles), 2 days kept.
    assert small.results["icmp"] == pytest.approx(11 * 1440 * 2 * BYTES_PER_RESULT["icmp"])
    assert small.rollup_village == pytest.approx(10 * 24 * 100 * ROLLUP_VILLAGE_ROW)


def test_check_prints_the_projection_and_a_cap_too_small(tmp_path: Path, capsys) -> None:
    assert main(["check", "-c", str(write_config(tmp_path, 40, cap="  max_disk_mb: 16"))]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "store at steady state: ~" in out and "icmp 2d" in out
    assert "max_disk_mb 16: too small" in out
    assert main(["check", "-c", str(write_config(tmp_path, 40, cap="  max_disk_mb: 100000"))]) == 0
    assert "max_disk_mb 100,000: fits" in " ".join(capsys.readouterr().out.split())
