"""Power evidence: the host's uptime, not the SNMP agent's; TimeTicks wraps; devices that agree.

A real snmpd restarted on the same port resets sysUpTime while hrSystemUptime (read from the
host's /proc/uptime) runs on: that is an agent restart, not a reboot, and must not turn a
village's outage into a power cut. The rollup tests run the real RollupEngine over a store.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from snmp_helpers import COMMUNITY, context, device, free_udp_port, scalars, snmp_check, stop, wait_snmp

from netmon import uptime as snmp_uptime
from netmon.analysis.power import power_evidence, village_power_evidence
from netmon.model import ProbeResult, Status
from netmon.probers.snmp import SnmpProber
from netmon.store import Store
from tests.analysis.helpers import T0, Rig, ping, village_device
from tests.analysis.helpers import snmp_uptime as uptime_result
from tests.fixtures.need import need

AUTHS = {"v2": {"version": "2c", "community": COMMUNITY}}
WRAP_S = (1 << 32) / 100


def _start_snmpd(work: Path, port: int) -> subprocess.Popen:
    conf = work / "snmpd.conf"
    conf.write_text(f"agentAddress udp:127.0.0.1:{port}\nrocommunity {COMMUNITY} 127.0.0.1\nsysName power-test\n")
    (work / "persist").mkdir(exist_ok=True)
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(work / "persist"), "MIBS": ""}
    proc = subprocess.Popen(["snmpd", "-f", "-Lf", str(work / "snmpd.log"), "-C", "-c", str(conf)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_snmp(port, COMMUNITY, proc, work / "snmpd.log")
    except Exception:
        stop(proc)
        raise
    return proc


def _restart_polls(work: Path) -> dict[str, list[ProbeResult]]:
    """Poll a real snmpd, restart it on the same port, poll again: with and without hrSystemUptime."""
    port = free_udp_port()
    cpe = snmp_check("cpe", walk={})
    assert "hr_uptime" in cpe.get  # the shipped profile asks for the host's uptime
    checks = {"host": cpe, "agent-only": cpe.model_copy(update={
        "name": "system-agent", "get": {k: v for k, v in cpe.get.items() if k != "hr_uptime"}})}
    dev = device("cpe", port, "v2", kind="cpe")

    async def poll_all(prober: SnmpProber) -> dict[str, ProbeResult]:
        return {name: await prober.probe(dev, check) for name, check in checks.items()}

    async def run() -> dict[str, list[ProbeResult]]:
        prober = SnmpProber(context(AUTHS))
        out: dict[str, list[ProbeResult]] = {name: [] for name in checks}
        proc = _start_snmpd(work, port)
        try:
            deadline = time.monotonic() + 15
            while True:  # let the agent's uptime outgrow the boot slack, so its reset is visible
                first = await poll_all(prober)
                if scalars(first["host"])["uptime_s"] > 3 * snmp_uptime.BOOT_SLACK_S or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            stop(proc)
            proc = _start_snmpd(work, port)
            second = await poll_all(prober)
        finally:
            stop(proc)
            await prober.close()
        for polls in (first, second):
            for name, result in polls.items():
                out[name].append(result)
        return out

    return asyncio.run(run())


def test_snmpd_restart_with_the_host_up_is_not_a_reboot_nor_a_power_cut(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need(shutil.which("snmpd") is not None, "net-snmp snmpd")
    monkeypatch.setattr(snmp_uptime, "BOOT_SLACK_S", 2.0)  # the agent runs seconds, not hours
    polls = _restart_polls(tmp_path)
    before, after = polls["host"]
    assert before.status is after.status is Status.OK, after.reason
    assert scalars(after)["uptime_s"] < scalars(before)["uptime_s"]  # the agent did restart
    assert scalars(after)["hr_uptime_s"] >= scalars(before)["hr_uptime_s"]  # the host did not
    assert scalars(after)["rebooted"] == 0 and "reboot_ts" not in scalars(after)
    assert "SNMP agent restarted" in after.reason and "host rebooted" not in after.reason
    # the same restart seen through sysUpTime alone looks like a reboot: the fallback's limit
    agent_only = polls["agent-only"][1]
    assert scalars(agent_only)["rebooted"] == 1 and "host rebooted" in agent_only.reason

    # and in the analysis: the village CPE was down across the restart
    for name, expected in (("host", "link"), ("agent-only", "power")):
        one, two = polls[name]
        cause = _outage_cause(tmp_path / f"{name}.db", one, two)
        assert cause == expected, (name, cause)


def _outage_cause(db: Path, one: ProbeResult, two: ProbeResult) -> str:
    """Rounds up before the first poll, down between the polls, up after the second."""
    cpe = village_device("ta-phin", parent=None)
    store = Store.open(db)
    try:
        rig = Rig(store, [cpe])
        rounds = [ping(cpe.id, one.ts - 120), ping(cpe.id, one.ts - 60), ping(cpe.id, one.ts),
                  ping(cpe.id, one.ts + 0.01, received=0), ping(cpe.id, two.ts + 0.5)]
        polls = [ProbeResult(cpe.id, r.check, r.prober, r.status, r.reason, r.ts, r.duration_s, r.samples)
                 for r in (one, two)]
        rig.feed(rounds + polls, two.ts + 1000)
        (cause,) = store.conn.execute("SELECT cause FROM analysis_outages").fetchone()
        return cause
    finally:
        store.close()


def _village_rig(tmp_path: Path, name: str, devices: list) -> tuple[Store, Rig]:
    store = Store.open(tmp_path / f"{name}.db")
    return store, Rig(store, devices)


def test_timeticks_wrap_during_an_outage_is_not_a_power_cut(tmp_path: Path) -> None:
    """sysUpTime wraps every 497.1 days: after the wrap it is small again, the host never booted."""
    cpe = village_device("ta-phin", parent=None)
    causes = {}
    for case, after_s in (("wrap", 4200.0 - 100.0), ("reboot", 500.0)):
        store, rig = _village_rig(tmp_path, case, [cpe])
        try:
            boot = T0 - WRAP_S + 3600.0  # uptime reaches 2^32 ticks at T0 + 3600
            down = (T0 + 3000.0, T0 + 4200.0)
            results = [ping(cpe.id, T0 + k * 60.0, received=0 if down[0] <= T0 + k * 60.0 < down[1] else 3)
                       for k in range(0, 100)]
            results += [uptime_result(cpe.id, T0 + 2900.0, T0 + 2900.0 - boot)]  # before the wrap
            # after: the wrapped counter (T0+4300 - boot - WRAP), or a true boot 500 s ago
            results += [uptime_result(cpe.id, T0 + 4300.0, (T0 + 4300.0 - boot - WRAP_S) if case == "wrap"
                                      else after_s)]
            rig.feed(results, T0 + 100 * 60.0 + 1000)
            causes[case] = [c for (c,) in store.conn.execute("SELECT cause FROM analysis_outages")]
        finally:
            store.close()
    assert causes == {"wrap": ["link"], "reboot": ["power"]}


def test_a_second_device_rebooting_in_the_same_outage_strengthens_the_verdict(tmp_path: Path) -> None:
    cpe = village_device("ta-phin", parent=None)
    router = village_device("ta-phin", parent=None, kind="router")
    notes = {}
    for case in ("one", "both"):
        store, rig = _village_rig(tmp_path, case, [cpe, router])
        try:
            down = (T0 + 600.0, T0 + 1200.0)
            results = [ping(d.id, T0 + k * 60.0, received=0 if down[0] <= T0 + k * 60.0 < down[1] else 3)
                       for d in (cpe, router) for k in range(30)]
            results += [uptime_result(cpe.id, T0 + 300.0, 86_400.0), uptime_result(router.id, T0 + 300.0, 9e5),
                        uptime_result(cpe.id, T0 + 1300.0, 200.0)]  # the CPE booted at T0 + 1100
            results.append(uptime_result(router.id, T0 + 1300.0, 260.0 if case == "both" else 9e5 + 1000))
            rig.feed(results, T0 + 30 * 60.0 + 1000)
            (outage_id,) = store.conn.execute("SELECT id FROM analysis_outages WHERE device_id = ?",
                                              (cpe.id,)).fetchone()
            causes = {c for (c,) in store.conn.execute("SELECT cause FROM analysis_outages")}
            village = rig.catalog.devices[cpe.id].village_id
            notes[case] = (causes, power_evidence(store.conn, rig.catalog, village, outage_id))
            assert village_power_evidence(store.conn, rig.catalog, village, T0)["power_devices"] == \
                (2 if case == "both" else 1)
            assert village_power_evidence(store.conn, rig.catalog, village, T0 + 5000) == {}
        finally:
            store.close()
    assert notes["one"][0] == {"power"} and notes["one"][1]["power_devices"] == 1
    assert notes["one"][1]["power_note"].startswith("host rebooted during the outage: cpe at ")
    assert notes["both"][1]["power_devices"] == 2
    note = notes["both"][1]["power_note"]
    assert note.startswith("2 devices of the village rebooted during the same outage (router at ")
    assert "cpe at" in note and note.endswith("a power cut, not one device failing")
