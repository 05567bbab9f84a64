"""PC aging judges office-hours reachability on the week of device rollups, not on the day of raw pings."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from netmon.analysis.officehours import OfficeHours
from netmon.analysis.pcs import pc_rows
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
"""
HOUR = 3600.0
NOW = datetime(2026, 11, 25, 18, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")).timestamp()
"""A Wednesday evening: the last 24 h hold one office day, the week five."""


def _snmp(device_id: str, ts: float) -> ProbeResult:
    return ProbeResult(device_id, "host-resources", "snmp", Status.OK, "ok", ts, 0.1,
                       (Sample("snmp", {"sys_descr": "Windows Version 6.3 (Build 22631)", "hr_memory_kb": 16 << 20}),))


def _ping(device_id: str, ts: float, up: bool) -> ProbeResult:
    return ProbeResult(device_id, "reachability", "icmp", Status.OK if up else Status.TIMEOUT, "", ts, 0.5,
                       (Sample("ping", {"packets_transmitted": 3, "packets_received": 3 if up else 0}),))


def test_office_reachability_counts_the_week_of_rollups_when_raw_pings_keep_one_day(tmp_path: Path):
    (tmp_path / "netmon.yaml").write_text(CONFIG)
    config = load_config(tmp_path / "netmon.yaml")
    office = OfficeHours(config.settings.agent.office_hours, config.settings.agent.timezone)
    pc = config.devices[0]
    store = Store.open(config.state_dir)
    # The last day (what raw ICMP retention keeps): down all through office hours.
    last_day = [NOW - 86400.0 + k * 60.0 for k in range(1440)]
    store.append([_ping(pc.id, ts, up=False) for ts in last_day] + [_snmp(pc.id, NOW - 300.0)])
    # Rollups of the week as the rollup engine writes them: up in office hours on the six days
    # before, down on the last one (the same rounds as the raw pings above).
    rows, rounds, up = [], 0, 0
    for h in range(7 * 24):
        bucket = NOW - NOW % HOUR - (h + 1) * HOUR
        office_rounds = sum(office.contains(bucket + m * 60.0) for m in range(60))
        office_up = office_rounds if bucket < NOW - 86400.0 else 0
        rows.append((bucket, pc.id, 60, office_rounds, office_up))
        rounds, up = rounds + office_rounds, up + office_up
    with store.transaction() as conn:
        conn.executemany("INSERT INTO rollup_device (bucket_ts, device_id, rounds, office_rounds, office_up)"
                         " VALUES (?, ?, ?, ?, ?)", rows)
    assert 0 < up < rounds  # the week holds office hours both up and down

    (row,) = pc_rows(config, store, NOW)
    week_pct = 100.0 * up / rounds
    assert row.health.metrics["office_reachability_pct"] == week_pct
    assert 70 < week_pct < 90  # four office days up of five: not the 0 % of the last day alone
    assert f"reachable {week_pct:.0f}% of office hours" in row.health.reasons

    # Without rollups (analysis not running) the raw pings are all there is: the last day, down.
    with store.transaction() as conn:
        conn.execute("DELETE FROM rollup_device")
    (row,) = pc_rows(config, store, NOW)
    assert row.health.metrics["office_reachability_pct"] == 0.0
    assert any("reachable 0% of office hours" in reason for reason in row.health.reasons)
    store.close()
