"""The snmp prober against snmpsim with crafted devices: rates, wraps, reboots, aging, many agents."""

from __future__ import annotations

import asyncio
import time

from snmp_helpers import Agent, by_tag, context, device, scalars, snmp_check

from netmon.analysis.aging import score_pc
from netmon.analysis.officehours import OfficeHours
from netmon.model import ProbeResult, Status
from netmon.probers.snmp import SnmpProber

COMMUNITIES = ("pc-healthy", "pc-old", "router-wrap-a", "router-wrap-b", "router-boot-a", "router-boot-b",
               "pc-wrong", "router-absurd")
AUTHS = {c: {"version": "2c", "community": c} for c in COMMUNITIES}


async def two_polls(agent: Agent, first: str, second: str) -> tuple[ProbeResult, ProbeResult]:
    """Poll the same device id twice, the agent's data swapped in between (community a, then b)."""
    prober = SnmpProber(context(AUTHS))
    check = snmp_check("router")
    try:
        one = await prober.probe(device("r1", agent.port, first, kind="router"), check)
        await asyncio.sleep(0.2)
        two = await prober.probe(device("r1", agent.port, second, kind="router"), check)
    finally:
        await prober.close()
    return one, two


def test_counter32_wrap_and_hc_counters_give_true_rates(snmpsim: Agent) -> None:
    one, two = asyncio.run(two_polls(snmpsim, "router-wrap-a", "router-wrap-b"))
    assert one.status is two.status is Status.OK, two.reason
    dt = two.ts - one.ts
    first = by_tag(one.samples, "interface", "ifIndex")
    ifaces = by_tag(two.samples, "interface", "ifIndex")
    assert "in_bps" not in first["1"].fields  # no previous poll, no rate
    # ifIndex 1 has only Counter32: 2^32-1000 -> 2000 is a wrap of 3000 octets, not a reset
    assert ifaces["1"].fields["in_bps"] == 3000 * 8 / dt
    assert ifaces["1"].fields["out_bps"] == 4000 * 8 / dt
    # ifIndex 2 has ifHC* columns: the rate comes from them (1e10 -> 1e10+4000)
    assert ifaces["2"].fields["in_bps"] == 4000 * 8 / dt
    assert ifaces["2"].fields["ifHCInOctets"] == 10_000_004_000
    assert ifaces["2"].tags["ifName"] == "ether2"
    assert scalars(two)["rebooted"] == 0


def test_reboot_between_polls_is_detected_and_rates_skipped(snmpsim: Agent) -> None:
    one, two = asyncio.run(two_polls(snmpsim, "router-boot-a", "router-boot-b"))
    assert two.status is Status.OK
    fields = scalars(two)
    assert fields["rebooted"] == 1
    assert abs(fields["reboot_ts"] - (two.ts - 60.0)) < 1e-6
    assert "rebooted" in two.reason
    assert all("in_bps" not in s.fields for s in two.samples if s.measurement == "interface")
    assert scalars(one)["rebooted"] == 0


def test_old_pc_ranks_first_with_its_reasons(snmpsim: Agent) -> None:
    async def poll() -> dict[str, ProbeResult]:
        prober = SnmpProber(context(AUTHS))
        try:
            return {c: await prober.probe(device(c, snmpsim.port, c), snmp_check("pc"))
                    for c in ("pc-healthy", "pc-old")}
        finally:
            await prober.close()

    results = asyncio.run(poll())
    old = results["pc-old"]
    assert old.status is Status.OK
    fields = scalars(old)
    assert fields["uptime_s"] == 10800.0 and fields["hr_memory_kb"] == 2_097_152
    assert fields["cpu_load_avg_pct"] == 93.5
    disk = by_tag(old.samples, "hr_storage", "hrStorageIndex")["1"]
    assert disk.fields["hrStorageType"] == "fixed_disk" and disk.fields["used_pct"] == 97.0
    rules = snmp_profile_aging()
    office = OfficeHours("Mon-Sun 00:00-24:00", "Asia/Ho_Chi_Minh")
    scores = {c: score_pc(r.device_id, [r], rules, r.ts, office) for c, r in results.items()}
    assert scores["pc-old"].score > scores["pc-healthy"].score
    assert scores["pc-healthy"].score == 0, scores["pc-healthy"].reasons
    text = "; ".join(scores["pc-old"].reasons)
    for words in ("end-of-life OS: Windows 7 (6.1 build 7601), support ended 2020-01-14", "RAM 2 GB", "97% full",
                  "CPU 94% busy"):
        assert words in text


def snmp_profile_aging():
    from snmp_helpers import profile as load

    rules = load("pc").aging
    assert rules is not None
    return rules


def test_200_devices_and_dead_ones_do_not_delay_the_rest(snmpsim: Agent) -> None:
    live = [device(f"dev{i:03d}", snmpsim.port, f"dev{i:03d}", kind="router") for i in range(200)]
    dead = [device(f"dead{i}", snmpsim.port, "dev000", host=f"127.0.{i + 10}.1", kind="router")
            for i in range(6)]
    auths = {f"dev{i:03d}": {"version": "2c", "community": f"dev{i:03d}"} for i in range(200)}
    check = snmp_check("router", walk={}, timeout=1.0, retries=0)

    async def cycle(devices):
        prober = SnmpProber(context(auths, concurrency=32))
        done: dict[str, tuple[float, ProbeResult]] = {}
        t0 = time.monotonic()
        try:
            await prober.probe_many(devices, check,
                                    lambda r: done.__setitem__(r.device_id, (time.monotonic() - t0, r)))
        finally:
            await prober.close()
        return done, time.monotonic() - t0

    baseline, base_wall = asyncio.run(cycle(live))
    mixed, mixed_wall = asyncio.run(cycle(dead + live))
    assert all(r.status is Status.OK for _, r in baseline.values())
    live_done = [t for key, (t, r) in mixed.items() if "/dev" in key and r.status is Status.OK]
    assert len(live_done) == 200
    dead_results = [r for key, (_, r) in mixed.items() if "/dead" in key]
    assert [r.status for r in dead_results] == [Status.TIMEOUT] * 6
    # each dead one costs its own 1 s timeout, plus however long the busy loop takes to notice
    assert all(0.9 <= r.duration_s < 1.2 + base_wall for r in dead_results), [r.duration_s for r in dead_results]
    # 6 dead targets hold 6 of 32 slots for their own 1 s: the live ones are late by at most that
    # timeout (the 1.5 absorbs the noise of a shared 2-core machine)
    assert max(live_done) < base_wall * 1.5 + check.timeout, (max(live_done), base_wall)
    print(f"\n200 devices: {200 / base_wall:.0f} devices/s alone; with 6 dead: live done in "
          f"{max(live_done):.2f} s (alone {base_wall:.2f} s), whole cycle {mixed_wall:.2f} s")


def test_wrong_typed_and_absurd_values_are_errors_and_left_out(snmpsim: Agent) -> None:
    """The same PC agent gone wrong: each bad value named with its OID; good values still kept."""
    pc_get = {**snmp_check("pc").get, "sys_contact": "1.3.6.1.2.1.1.4.0"}
    check = snmp_check("pc", get=pc_get)

    async def poll() -> tuple[ProbeResult, ProbeResult]:
        prober = SnmpProber(context(AUTHS))
        try:
            good = await prober.probe(device("pc-a", snmpsim.port, "pc-healthy"), check)
            bad = await prober.probe(device("pc-b", snmpsim.port, "pc-wrong"), check)
            return good, bad
        finally:
            await prober.close()

    good, bad = asyncio.run(poll())
    assert good.status is Status.OK, good.reason
    assert isinstance(scalars(good)["sys_contact"], str)
    assert bad.status is Status.ERROR
    fields = scalars(bad)
    # left out, never stored as text or as an absurd number
    assert "uptime_s" not in fields and "hr_memory_kb" not in fields and "sys_contact" not in fields
    assert fields["sys_descr"].startswith("Hardware:") and fields["hr_uptime_s"] == 172805.0
    for words in ("sysUpTime (1.3.6.1.2.1.1.3.0): got OCTET STRING '1728000', expected TimeTicks 0..4294967295",
                  "hrMemorySize (1.3.6.1.2.1.25.2.2.0): got number 18446744073709551615, expected an "
                  "integer 1..2147483647",
                  "hrStorageSize.1 (1.3.6.1.2.1.25.2.3.1.5.1): got number -5",
                  "and 2 more"):
        assert words in bad.reason, bad.reason
    disk = by_tag(bad.samples, "hr_storage", "hrStorageIndex")["1"]
    assert "hrStorageSize" not in disk.fields and "size_bytes" not in disk.fields and "used_pct" not in disk.fields
    cpus = by_tag(bad.samples, "hr_cpu", "index")
    assert "4" not in cpus and cpus["3"].fields["hrProcessorLoad"] == 8
    assert fields["cpu_load_avg_pct"] == 8.0  # the 250 % processor is not averaged in


def test_field_never_changes_type_and_absurd_counters_are_errors(snmpsim: Agent) -> None:
    async def poll() -> ProbeResult:
        prober = SnmpProber(context(AUTHS))
        try:
            await prober.probe(device("r1", snmpsim.port, "router-wrap-a", kind="router"), snmp_check("router"))
            return await prober.probe(device("r2", snmpsim.port, "router-absurd", kind="router"),
                                      snmp_check("router"))
        finally:
            await prober.close()

    result = asyncio.run(poll())
    assert result.status is Status.ERROR
    assert ("ifHCInOctets.2 (1.3.6.1.2.1.31.1.1.1.6.2): got number 18446744073709551615, expected an integer "
            "0..9223372036854775807") in result.reason
    assert "ifOperStatus.1 (1.3.6.1.2.1.2.2.1.8.1): got number 9, expected an integer 1..7" in result.reason
    ifaces = by_tag(result.samples, "interface", "ifIndex")
    assert "ifHCInOctets" not in ifaces["2"].fields and ifaces["2"].fields["ifHCOutOctets"] == 800
    assert "ifOperStatus" not in ifaces["1"].fields and ifaces["1"].fields["ifAdminStatus"] == 1
