"""Shared helpers for the output tests: a tricky inventory, stored results, and InfluxDB read-back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from netmon.model import Device, ProbeResult, Sample, Status
from netmon.sinks.lineproto import sanitize_tag_value
from netmon.store import Store

AGENT = "lai-chau-01"
DEVICES = (
    Device(id="lai-chau/sin-ho/ta-phin/cpe-1", name="cpe nhà văn hoá, số=1", kind="cpe", profile="cpe",
           province="Lai Châu", commune="Sìn Hồ, Huyện=Mường Tè", village="Tả Phìn DOMAIN\\user",
           host="10.20.7.2", operator="Viettel"),
    Device(id="lai-chau/sin-ho/ubnd-router", name="ubnd router", kind="router", profile="router",
           province="Lai Châu", commune="Sìn Hồ, Huyện=Mường Tè", village="", host="10.20.0.1", operator="VNPT"),
)
VILLAGE_ID = "lai-chau/sin-ho/ta-phin"


def ping_sample(i: int, up: bool = True) -> Sample:
    fields: dict[str, Any] = {"packets_transmitted": 3, "packets_received": 3 if up else 0,
                              "percent_packet_loss": 0.0 if up else 100.0, "result_code": 0 if up else 1}
    if up:
        fields.update(minimum_response_ms=1.0 + i % 7, average_response_ms=2.5 + i % 5,
                      maximum_response_ms=9.25, standard_deviation_ms=0.125)
    return Sample("ping", fields, {"url": "10.20.7.2"})


def make_results(n: int, t0: float = 1_700_000_000.0, step_s: float = 1.0) -> list[ProbeResult]:
    """n results spread over both devices, a village status and the agent; distinct timestamps."""
    out = []
    for i in range(n):
        ts = t0 + i * step_s
        kind = i % 4
        if kind == 0:
            out.append(ProbeResult(DEVICES[0].id, "reachability", "icmp", Status.OK, "up", ts, 0.01,
                                   (ping_sample(i),)))
        elif kind == 1:
            out.append(ProbeResult(DEVICES[1].id, "reachability", "icmp", Status.TIMEOUT, "no reply", ts, 2.0,
                                   (ping_sample(i, up=False),)))
        elif kind == 2:
            fields = {"state": "degraded", "availability_pct": 99.25, "loss_pct": 0.5, "outages": 1,
                      "longest_outage_s": 60.0, "flagged": 0, "cause": "none", "lat": 22.36, "lon": 103.24}
            out.append(ProbeResult(VILLAGE_ID, "village-status", "analysis", Status.OK, "degraded", ts, 0.0,
                                   (Sample("village_status", fields, {"window": "1h"}),
                                    Sample("village_status", {**fields, "state": "good"}, {"window": "24h"}))))
        else:
            out.append(ProbeResult("agent", "self", "agent", Status.OK, "fine", ts, 0.0,
                                   (Sample("netmon_agent", {"results_per_s": 12.5, "backlog_points": i}),
                                    Sample("netmon_agent", {"backlog_points": i, "oldest_unsent_age_s": 0.0},
                                           {"output": "main"}))))
    return out


def expected_tags(device_id: str) -> dict[str, str]:
    """What the output must tag a result of `device_id` with (docs/series.md)."""
    if device_id == "agent":
        tags = {"agent": AGENT}
    elif device_id == VILLAGE_ID:
        d = DEVICES[0]
        tags = {"agent": AGENT, "province": d.province, "commune": d.commune, "village": d.village,
                "operator": d.operator}
    else:
        tags = next(d for d in DEVICES if d.id == device_id).tags(AGENT)
    return {k: sanitize_tag_value(v) for k, v in tags.items() if v}


def norm(value: Any) -> Any:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def expected_points(store: Store) -> set[tuple]:
    """(measurement, sorted tags, ts_ms, sorted fields) of every stored point."""
    points = set()
    for r in store.iter_results():
        for s in r.samples:
            device = r.device_id not in ("agent", VILLAGE_ID)  # a device's points name their check
            tags = {**expected_tags(r.device_id), **({"check": r.check} if device else {}), **s.tags}
            fields = tuple(sorted((k, norm(v)) for k, v in s.fields.items()))
            points.add((s.measurement, tuple(sorted(tags.items())), round(r.ts * 1000), fields))
    return points


def influx_points(server: Any, measurements: Iterable[str], db: str = "netmon",
                  canaries: bool = False) -> list[tuple]:
    """Every point in InfluxDB for `measurements`, in the shape of `expected_points`."""
    points = []
    for m in measurements:
        for series in server.query(f'SELECT * FROM "{m}" GROUP BY *', db):
            tags = tuple(sorted((k, v) for k, v in series.get("tags", {}).items() if v != ""))
            for values in series["values"]:
                row = dict(zip(series["columns"], values, strict=True))
                ts = row.pop("time")
                fields = tuple(sorted((k, norm(v)) for k, v in row.items() if v is not None))
                if m == "netmon_agent" and ("canary", True) in fields and not canaries:
                    continue  # the forwarder's own probe that the server takes good data (influx.py)
                points.append((m, tags, ts, fields))
    return points


async def drain(forwarder: Any, store: Store, timeout_s: float = 60.0) -> None:
    """Run a forwarder until it acknowledged everything stored, then stop it."""
    forwarder.start()
    deadline = time.monotonic() + timeout_s
    try:
        while store.cursor(forwarder.name) < store.max_seq():
            if time.monotonic() > deadline:
                raise AssertionError(f"forwarder stuck at {store.cursor(forwarder.name)} of {store.max_seq()}")
            await asyncio.sleep(0.05)
    finally:
        await forwarder.stop()
