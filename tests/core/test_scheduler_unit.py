"""Scheduler pieces without the network: phases, slices, deadlines, a hanging prober."""

from __future__ import annotations

import asyncio
import time

from netmon.config.schema import IcmpCheck
from netmon.model import Device, ProbeResult, Status
from netmon.probers import ProberBase, ProberContext
from netmon.scheduler import phase_of, run_batch


def devices(n: int) -> list[Device]:
    return [Device(id=f"p/c/d{i}", name=f"d{i}", kind="bts", profile="bts", province="P", commune="C",
                   village="", host=f"127.0.0.{i + 1}") for i in range(n)]


class HangingProber(ProberBase):
    """Answers at once for every device except the ones named, which never return."""

    name = "icmp"

    def __init__(self, hang: set[str]) -> None:
        super().__init__(ProberContext())
        self.hang = hang

    async def probe(self, device: Device, check: IcmpCheck) -> ProbeResult:
        if device.id in self.hang:
            await asyncio.Event().wait()
        return ProbeResult(device.id, check.name, self.name, Status.OK, "fine", time.time(), 0.0)


def test_phase_is_stable_and_spread():
    a = phase_of("lai-chau/sin-ho/x", "reachability", 60.0)
    assert a == phase_of("lai-chau/sin-ho/x", "reachability", 60.0)
    phases = [phase_of(f"dev{i}", "reachability", 60.0) for i in range(6000)]
    assert all(0 <= p < 60 for p in phases)
    per_slice = [0] * 60
    for p in phases:
        per_slice[int(p)] += 1
    assert max(per_slice) < 2 * min(per_slice)  # evenly spread, no burst at the top of the minute


def test_hanging_target_does_not_delay_the_others():
    check = IcmpCheck(name="reachability", prober="icmp", interval=10, timeout=1)
    devs = devices(50)
    prober = HangingProber({devs[7].id})
    got: list[tuple[float, ProbeResult]] = []

    async def main() -> None:
        t0 = time.monotonic()
        await run_batch(prober, devs, check, lambda r: got.append((time.monotonic() - t0, r)), deadline_s=1.5)

    asyncio.run(main())
    by_id = {r.device_id: (t, r) for t, r in got}
    assert len(got) == 50 and len(by_id) == 50  # exactly one result each
    fast = [t for d, (t, r) in by_id.items() if d != devs[7].id]
    assert max(fast) < 0.5
    t_hung, r_hung = by_id[devs[7].id]
    assert r_hung.status is Status.ERROR and "stalled" in r_hung.reason
    assert 1.4 < t_hung < 3.0


def test_prober_exception_becomes_error_results(caplog):
    class Broken(ProberBase):
        name = "icmp"

        async def probe_many(self, devices, check, emit):
            raise RuntimeError("boom")

    got: list[ProbeResult] = []
    check = IcmpCheck(name="reachability", prober="icmp")
    asyncio.run(run_batch(Broken(ProberContext()), devices(3), check, got.append, 1.0))
    assert [r.status for r in got] == [Status.ERROR] * 3
    assert "this is a bug" in caplog.text and "boom" in caplog.text


def test_deadline_covers_the_rounds_own_worst_case():
    from netmon.config.schema import SnmpCheck
    from netmon.scheduler import deadline_for

    fast = IcmpCheck(name="r", prober="icmp", interval=2, timeout=1, count=5, packet_interval=0.5)
    assert deadline_for(fast) >= 4 * 0.5 + 1  # never cut off a round that is still within its timeouts
    slow = IcmpCheck(name="r", prober="icmp", interval=60, timeout=2, count=3)
    assert deadline_for(slow) == 54.0  # 90 % of the interval when that is longer
    paced = deadline_for(slow, targets=300_000, max_pps=1000)
    assert paced > 900  # pacing 900,000 packets at 1,000/s takes 15 minutes
    walks = SnmpCheck(name="s", prober="snmp", interval=10, timeout=2, retries=1, walk={"a": "1.3.6.1.2.1.2.2.1"})
    assert deadline_for(walks) >= 2 * 2 * 2


def test_reload_reuses_a_prober_only_when_its_context_is_unchanged(tmp_path):
    from netmon.config import load_config
    from netmon.daemon import probers_for

    def config(max_pps: int, community: str):
        path = tmp_path / "netmon.yaml"
        path.write_text(f"""version: 1
scheduler: {{max_pps: {max_pps}}}
auths: {{office: {{version: 2c, community: {community}}}}}
inventory:
  - name: P
    communes:
      - name: C
        devices: [{{name: r, kind: router, host: 127.0.60.1, auth: office}}]
""")
        return load_config(path)

    first = probers_for(config(2000, "public"))
    same = probers_for(config(2000, "public"), first)
    assert same["icmp"] is first["icmp"] and same["snmp"] is first["snmp"]
    rotated = probers_for(config(2000, "n3w-community"), first)
    assert rotated["snmp"] is not first["snmp"]  # new credentials are used at once
    assert rotated["snmp"].context.auths["office"].community.reveal() == "n3w-community"
    paced = probers_for(config(500, "public"), first)
    assert paced["icmp"] is not first["icmp"]


class SlowProber(ProberBase):
    """Every round takes `seconds`, longer than the check's interval (targets timing out, say)."""

    name = "icmp"

    def __init__(self, seconds: float) -> None:
        super().__init__(ProberContext())
        self.seconds = seconds
        self.rounds = 0

    async def probe(self, device: Device, check: IcmpCheck) -> ProbeResult:
        self.rounds += 1
        await asyncio.sleep(self.seconds)
        return ProbeResult(device.id, check.name, self.name, Status.OK, "slow", time.time(), self.seconds)


def test_a_round_longer_than_its_interval_is_skipped_counted_and_logged_once(caplog):
    """A round never overlaps its predecessor; the skips are counted and logged once, not every round."""
    from apscheduler.triggers.interval import IntervalTrigger

    from netmon.scheduler import Batch, ProbeSchedule

    check = IcmpCheck(name="reachability", prober="icmp", interval=0.5, timeout=1)
    prober = SlowProber(1.6)
    results: list[ProbeResult] = []
    schedule = ProbeSchedule({"icmp": prober}, results.append)
    batch = Batch("bts/reachability/0", "bts", check, tuple(devices(1)), 0.0)

    async def main() -> None:
        schedule.start()
        schedule.scheduler.add_job(schedule._run, IntervalTrigger(seconds=0.5), args=[batch, time.time()],
                                   id="probe:1:x", name=batch.job_id, max_instances=1, coalesce=True,
                                   misfire_grace_time=1)
        deadline = time.monotonic() + 20
        while schedule.skipped_rounds < 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        schedule.scheduler.shutdown(wait=False)

    with caplog.at_level("INFO"):
        asyncio.run(main())
    assert schedule.skipped_rounds >= 4
    skipped_lines = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped_lines) == 1, [r.getMessage() for r in skipped_lines]  # once, not once per round
    assert "bts/reachability/0" in skipped_lines[0].getMessage()
    assert not any("maximum number of running instances" in r.getMessage() for r in caplog.records)
