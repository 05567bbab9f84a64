"""A small province on loopback and a store filled with known results, for the status and probe tests.

Villages and what the store says about them (the shapes analysis writes):
    Lai Châu / Sìn Hồ / Tả Phìn            good (analysis)
    Lai Châu / Sìn Hồ / Làng Mô, Nậm Tăm   degraded (analysis)
    Lai Châu / Sìn Hồ / Nậm Cuổi           unstable, flagged, cause link (Viettel)
    Lai Châu / Phong Thổ / Sì Lở Lầu       down, flagged, cause power (MobiFone)
    Lai Châu / Phong Thổ / Mù Sang         unstable, flagged, cause upstream (VNPT)
    Lai Châu / Phong Thổ / Huổi Luông      no result at all -> unknown (provisional)
    Điện Biên / Mường Nhé / Chung Chải     no village_status, one of two pings down -> degraded*
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from netmon.model import ProbeResult, Sample, Status
from netmon.store import Store

NOW = 1_760_000_000.0  # 2025-10-09 15:53:20 in Asia/Ho_Chi_Minh

CONFIG = """\
version: 1
agent: {name: lai-chau-01, timezone: Asia/Ho_Chi_Minh, state_dir: state}
outputs:
  influxdb: {name: influxdb, url: "http://127.0.0.1:8086", api: v1, database: netmon}
auths:
  office-v2: {version: 2c, community: public}
inventory:
  - name: Lai Châu
    operator: VNPT
    communes:
      - name: Sìn Hồ
        devices:
          - {name: ubnd-router, kind: router, profile: ping, host: 127.0.10.1}
          - {name: motcua-pc-1, kind: pc, host: 127.0.10.21, auth: office-v2, snmp_port: 1}
          - {name: ketoan-pc, kind: pc, host: 127.0.10.22, auth: office-v2, snmp_port: 1}
          - {name: cong-dvc, kind: service, url: "http://127.0.0.1:9/"}
        villages:
          - name: Tả Phìn
            operator: Viettel
            location: {lat: 22.36, lon: 103.24}
            devices:
              - {name: cpe-nha-van-hoa, kind: cpe, profile: ping, host: 127.0.11.2, parent: ubnd-router}
              - {name: bts-ta-phin, kind: bts, host: 127.0.11.1}
          - name: Làng Mô, Nậm Tăm
            operator: MobiFone
            devices:
              - {name: cpe-truong-hoc, kind: cpe, profile: ping, host: 127.0.12.2}
          - name: Nậm Cuổi
            operator: Viettel
            devices:
              - {name: cpe-nha-van-hoa, kind: cpe, profile: ping, host: 127.0.13.2}
      - name: Phong Thổ
        devices:
          - {name: ubnd-router, kind: router, profile: ping, host: 127.0.20.1}
        villages:
          - name: Sì Lở Lầu
            operator: MobiFone
            devices:
              - {name: cpe-ubnd-thon, kind: cpe, profile: ping, host: 127.0.21.2}
          - name: Mù Sang
            devices:
              - {name: cpe-nha-van-hoa, kind: cpe, profile: ping, host: 127.0.22.2}
          - name: Huổi Luông
            devices:
              - {name: cpe-nha-van-hoa, kind: cpe, profile: ping, host: 127.0.23.2}
  - name: Điện Biên
    operator: Viettel
    communes:
      - name: Mường Nhé
        villages:
          - name: Chung Chải
            devices:
              - {name: cpe-a, kind: cpe, profile: ping, host: 127.0.31.2}
              - {name: bts-b, kind: bts, host: 127.0.31.1}
"""

VILLAGES = {
    # id: (state, availability_pct, loss_pct, rtt_p95_ms, outages, longest_outage_s, cause, flagged)
    "lai-chau/sin-ho/ta-phin": ("good", 100.0, 0.0, 12.4, 0, 0.0, "none", 0),
    "lai-chau/sin-ho/lang-mo-nam-tam": ("degraded", 99.31, 1.6, 180.2, 1, 25.0, "none", 0),
    "lai-chau/sin-ho/nam-cuoi": ("unstable", 96.5, 7.25, 320.0, 4, 610.0, "link", 1),
    "lai-chau/phong-tho/si-lo-lau": ("down", 41.0, 100.0, None, 1, 2100.0, "power", 1),
    "lai-chau/phong-tho/mu-sang": ("unstable", 98.2, 0.4, 45.0, 3, 300.0, "upstream", 1),
}
FLAGS = {  # village_id: (province, commune, village, operator, cause)
    "lai-chau/sin-ho/nam-cuoi": ("Lai Châu", "Sìn Hồ", "Nậm Cuổi", "Viettel", "link"),
    "lai-chau/phong-tho/si-lo-lau": ("Lai Châu", "Phong Thổ", "Sì Lở Lầu", "MobiFone", "power"),
    "lai-chau/phong-tho/mu-sang": ("Lai Châu", "Phong Thổ", "Mù Sang", "VNPT", "upstream"),
}
def village_status(village_id: str, values: tuple, ts: float) -> ProbeResult:
    """A village-status result as analysis writes it (netmon/analysis/evaluator.py)."""
    state, avail, loss, p95, outages, longest, cause, flagged = values
    samples = []
    for window, scale in (("1h", 1.0), ("24h", 0.5)):
        fields: dict = {"state": state, "availability_pct": avail, "loss_pct": loss * scale,
                        "outages": outages, "longest_outage_s": longest, "flagged": flagged, "cause": cause}
        if p95 is not None:
            fields["rtt_p95_ms"] = p95
        samples.append(Sample("village_status", fields, {"window": window}))
    return ProbeResult(village_id, "village-status", "analysis", Status.OK, f"{state}: test", ts, 0.0,
                       tuple(samples))


def ping(device_id: str, ok: bool, ts: float) -> ProbeResult:
    """A reachability result with Telegraf ping fields."""
    if ok:
        return ProbeResult(device_id, "reachability", "icmp", Status.OK, "3/3 replies", ts, 0.5,
                           (Sample("ping", {"percent_packet_loss": 0.0, "average_response_ms": 1.0}),))
    return ProbeResult(device_id, "reachability", "icmp", Status.TIMEOUT, "0/3 replies", ts, 2.0,
                       (Sample("ping", {"percent_packet_loss": 100.0}),))


def fill_store(store: Store, now: float) -> None:
    """Write the known results above, a heartbeat, a cursor and the flags table."""
    results = []
    down_after = {"lai-chau/phong-tho/si-lo-lau/cpe-ubnd-thon": 6, "dien-bien/muong-nhe/chung-chai/bts-b": 11}
    flaky = {"lai-chau/sin-ho/nam-cuoi/cpe-nha-van-hoa", "lai-chau/sin-ho/lang-mo-nam-tam/cpe-truong-hoc"}
    coverage = ["lai-chau/sin-ho/ta-phin/cpe-nha-van-hoa", "lai-chau/sin-ho/ta-phin/bts-ta-phin",
                *flaky, *down_after, "lai-chau/phong-tho/mu-sang/cpe-nha-van-hoa",
                "dien-bien/muong-nhe/chung-chai/cpe-a"]
    for i in range(12):  # one ping per device every 5 minutes over the last hour
        ts = now - 3600 + 150 + i * 300
        for dev in coverage:
            up = i < down_after.get(dev, 99) and not (dev in flaky and i % 4 == 1)
            results.append(ping(dev, up, ts))
    for dev in ("lai-chau/sin-ho/ubnd-router", "lai-chau/sin-ho/motcua-pc-1", "lai-chau/phong-tho/ubnd-router"):
        results.append(ping(dev, True, now - 40))
    results.append(ping("lai-chau/sin-ho/ketoan-pc", False, now - 40))
    for vid, values in VILLAGES.items():
        results.append(village_status(vid, values, now - 100))
    for dev, score, why in (("lai-chau/sin-ho/ketoan-pc", 75, "end-of-life OS; RAM 2048 MB < 4096 MB"),
                            ("lai-chau/sin-ho/motcua-pc-1", 25, "disk C: 95% used")):
        results.append(ProbeResult(dev, "pc-health", "analysis", Status.OK, why, now - 200, 0.0,
                                   (Sample("pc_health", {"score": score, "reasons": why}),)))
    seq = store.append(results)
    store.set_cursor("influxdb", seq - 5)
    store.set_state(agent="lai-chau-01", pid=os.getpid(), heartbeat_ts=now - 2, started_ts=now - 7200,
                    targets=16, results_per_s=3.5, scheduler_lag_s=0.012, last_round_ts=now - 30)
    # The flags table is the store's own (netmon.schema): every store has it from its first open.
    for vid, (prov, com, vil, op, cause) in FLAGS.items():
        evidence = json.dumps({"availability_pct": VILLAGES[vid][1], "worst_hours": []})
        store.conn.execute("INSERT INTO flags (village_id, province, commune, village, operator, cause,"
                           " raised_ts, cleared_ts, evidence, updated_ts) VALUES (?,?,?,?,?,?,?,NULL,?,?)",
                           (vid, prov, com, vil, op, cause, now - 86400 * 2, evidence, now - 86400 * 2))
    # A cleared flag must not show.
    store.conn.execute("INSERT INTO flags (village_id, province, commune, village, operator, cause, raised_ts,"
                       " cleared_ts, evidence, updated_ts) VALUES ('lai-chau/sin-ho/ta-phin', 'Lai Châu', 'Sìn Hồ',"
                       " 'Tả Phìn', 'Viettel', 'link', ?, ?, '{}', ?)", (now - 86400 * 5, now - 86400 * 4,
                                                                          now - 86400 * 4))


@pytest.fixture
def province(tmp_path: Path) -> Path:
    """A config file for the loopback province; its store is empty."""
    path = tmp_path / "netmon.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def filled(province: Path) -> Path:
    """The loopback province with its store filled relative to NOW."""
    store = Store.open(province.parent / "state")
    try:
        fill_store(store, NOW)
    finally:
        store.close()
    return province


def big_config(villages: int, per_commune: int = 10) -> str:
    """A province of `villages` villages (one loopback CPE each), `per_commune` per commune."""
    lines = ["version: 1", "agent: {name: big-01, timezone: Asia/Ho_Chi_Minh, state_dir: state}",
             "inventory:", "  - name: Sơn La", "    operator: Viettel", "    communes:"]
    for c in range((villages + per_commune - 1) // per_commune):
        lines += [f"      - name: Xã Mường {c}", "        devices:",
                  "          - {name: ubnd-router, kind: router, profile: ping,"
                  f" host: 127.1.{c // 250}.{c % 250 + 1}}}",
                  "        villages:"]
        for v in range(c * per_commune, min(villages, (c + 1) * per_commune)):
            lines += [f"          - name: Bản Nậm Lầu {v}", "            devices:",
                      f"              - {{name: cpe, kind: cpe, profile: ping, host: 127.2.{v // 250}.{v % 250 + 1}}}"]
    return "\n".join(lines) + "\n"


def fill_big(store: Store, village_ids: list[str], now: float) -> None:
    """A village-status per village (every 7th down and flagged) and an hour of pings per CPE."""
    results = []
    states = ("good", "good", "degraded", "good", "unstable", "good", "good")
    for i, vid in enumerate(village_ids):
        down = i % 7 == 6
        state = "down" if down else states[i % 7]
        values = (state, 50.0 if down else 99.9, 100.0 if down else 0.2, None if down else 20.0,
                  1 if down else 0, 900.0 if down else 0.0, "link" if down else "none", int(down))
        results.append(village_status(vid, values, now - 60))
        for k in range(12):
            results.append(ping(f"{vid}/cpe", not (down and k > 8), now - 3600 + 150 + k * 300))
    store.append(results)
    store.set_state(agent="big-01", pid=os.getpid(), heartbeat_ts=now, targets=len(village_ids),
                    results_per_s=85.0, scheduler_lag_s=0.02, last_round_ts=now - 20)
