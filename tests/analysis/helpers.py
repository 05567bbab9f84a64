"""Synthetic inventory and results for the analysis tests: one commune router, a few village CPEs."""

from __future__ import annotations

import random
from collections.abc import Iterable

from netmon.analysis.catalog import build_catalog
from netmon.analysis.db import ensure_schema
from netmon.analysis.evaluator import Evaluator
from netmon.analysis.officehours import OfficeHours
from netmon.analysis.rollups import RollupEngine
from netmon.config.schema import AgentConfig
from netmon.model import Device, ProbeResult, Sample, Status
from netmon.store import Store

T0 = 1_800_000_000.0  # a fixed instant (2027-01-15 08:00 UTC), far from the test machine's clock
STEP_S = 60.0
ROUTER = "lai-chau/sin-ho/ubnd-router"


def village_device(village: str, operator: str = "Viettel", parent: str | None = ROUTER,
                   kind: str = "cpe") -> Device:
    """A coverage device in village `village` of commune Sìn Hồ."""
    return Device(id=f"lai-chau/sin-ho/{village}/{kind}", name=kind, kind=kind, profile=kind,
                  province="Lai Châu", commune="Sìn Hồ", village=village.replace("-", " ").title(),
                  host="127.0.0.1", parent=parent, operator=operator, lat=22.36, lon=103.24)


def router() -> Device:
    """The commune office router every village CPE depends on."""
    return Device(id=ROUTER, name="ubnd-router", kind="router", profile="router", province="Lai Châu",
                  commune="Sìn Hồ", village="", host="127.0.0.1", operator="VNPT")


def settings(**analysis) -> AgentConfig:
    """Agent settings with short windows (30 min now, 2 h trend, 5 min buckets)."""
    base = {"evaluate_every": 60, "window_now": 1800, "window_trend": 7200, "rollup_bucket": 300,
            "raise_after": 3, "clear_after": 3, "settle": 120}
    base.update(analysis)
    return AgentConfig.model_validate({"version": 1, "agent": {"timezone": "UTC",
                                       "office_hours": "Mon-Fri 07:30-11:30,13:30-17:00"},
                                       "analysis": base})


def ping(device_id: str, ts: float, received: int = 3, sent: int = 3, rtt_ms: float = 20.0) -> ProbeResult:
    """An icmp result with Telegraf `ping` fields."""
    fields: dict = {"packets_transmitted": sent, "packets_received": received,
                    "percent_packet_loss": 100.0 * (sent - received) / sent, "result_code": 0 if received else 1}
    if received:
        fields["average_response_ms"] = rtt_ms
    status = Status.OK if received else Status.TIMEOUT
    return ProbeResult(device_id, "reachability", "icmp", status, "test", ts, 0.1,
                       (Sample("ping", fields, {"url": "127.0.0.1"}),))


def snmp_uptime(device_id: str, ts: float, uptime_s: float) -> ProbeResult:
    """An snmp result carrying the device's uptime."""
    return ProbeResult(device_id, "system", "snmp", Status.OK, "test", ts, 0.1,
                       (Sample("snmp", {"uptime_s": uptime_s, "rebooted": 0}),))


class Rig:
    """Store + rollup engine + evaluator over a synthetic inventory."""

    def __init__(self, store: Store, devices: list[Device], **analysis) -> None:
        self.store = store
        self.settings = settings(**analysis)
        ensure_schema(store)
        store.sync_devices(devices)
        self.catalog = build_catalog(devices, None, self.settings)
        a = self.settings.analysis
        office = OfficeHours(self.settings.agent.office_hours, "UTC")
        self.engine = RollupEngine(store, self.catalog, a.bucket_s, a.settle, office, a.window_trend)
        self.evaluator = Evaluator(store, self.catalog, self.settings)

    def feed(self, results: Iterable[ProbeResult], now: float) -> None:
        """Commit results, mark the agent alive until `now` and roll up what settled."""
        self.store.append(list(results))
        self.engine.process(now)

    def alive(self, start: float, end: float) -> None:
        """The agent ran from `start` to `end`."""
        self.store.mark_alive(start, 1, end)

    def evaluate(self, now: float):
        """One evaluation; returns {village_id: Evaluation}."""
        self.engine.process(now)
        _, evals = self.evaluator.evaluate(now)
        return {e.village.id: e for e in evals}


def rounds(device_id: str, start: float, end: float, loss: float = 0.0, down: Iterable[tuple[float, float]] = (),
           seed: int = 1, rtt_ms: float = 20.0) -> list[ProbeResult]:
    """One round a minute in [start, end): random packet loss and scripted down spans."""
    rng = random.Random(seed)
    spans = list(down)
    out, ts = [], start
    while ts < end:
        received = 0 if any(a <= ts < b for a, b in spans) else sum(rng.random() >= loss for _ in range(3))
        out.append(ping(device_id, ts, received, rtt_ms=rtt_ms))
        ts += STEP_S
    return out
