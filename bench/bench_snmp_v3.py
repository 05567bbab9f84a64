"""SNMP v3 benchmark: netmon's own USM vs v2c vs pysnmp, CPU per full device poll, side by side.

One snmpd on loopback (started by bench_snmp.start_snmpd, with a v2c community and a v3 authPriv
SHA/AES user); three probers in one event loop poll it, as v2c (own codec), as the v3 user
through netmon's own USM (snmp_v3_fast) and through pysnmp (snmp_v3). After one cold cycle each,
their warm cycles take turns, the order reversed every round; the goal (issue 21: v3 <= 2x v2c)
is checked on the median of the per-round ratios.

    python3 bench/bench_snmp_v3.py                        # 7 rounds of 300 polls per mode, ~4 min
    python3 bench/bench_snmp_v3.py --polls 30 --rounds 2 --no-append --profile   # smoke + profiles

Prints a table and the goal line; appends both, dated, with the command, to BENCHMARKS.md
(unless --no-append).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_snmp import (
    COMMUNITY,
    V3_AUTH,
    V3_PRIV,
    V3_USER,
    Row,
    devices_for,
    full_check,
    netmon_cycle,
    report,
    start_snmpd,
    stop,
)

from netmon.config.schema import SchedulerSettings, SnmpAuth
from netmon.probers.base import ProberContext
from netmon.probers.snmp import SnmpProber

V3_MODES = ("v2c", "v3 authPriv SHA/AES netmon USM", "v3 authPriv SHA/AES pysnmp")


def v3_auth(user: str = V3_USER, priv: bool = True) -> SnmpAuth:
    """The bench's v3 user as a netmon auth (SHA, and AES when `priv`)."""
    spec: dict = {"version": "3", "user": user, "auth": {"protocol": "sha", "key": V3_AUTH}}
    if priv:
        spec["priv"] = {"protocol": "aes", "key": V3_PRIV}
    return SnmpAuth.model_validate(spec)


def bench_v3(work: Path, polls: int, rounds: int, profile: bool) -> tuple[list[Row], list[str]]:
    """v2c, netmon's v3 and pysnmp's v3 full polls of one snmpd, interleaved `rounds` times.

    One prober per mode, all in one event loop: each runs a cold cycle (engine discovery, key
    localisation) first, then the modes take turns, one warm cycle of `polls` polls each, the
    order reversed every round, so load from other work on the machine falls on all of them.
    The ratios are taken per round (adjacent cycles) and their median reported.
    """
    snmpd, port = start_snmpd(work)
    cpu: dict[str, list[float]] = {m: [] for m in V3_MODES}
    rows: list[Row] = []
    load0 = os.getloadavg()
    try:
        cold = asyncio.run(interleave(port, polls, rounds, cpu, rows))
        if profile:
            for mode in V3_MODES[1:]:
                profile_v3(port, min(polls, 200), "netmon" in mode)
    finally:
        stop(snmpd)
    load1 = os.getloadavg()
    rows[:0] = [(f"{m} full poll, snmpd, cold cycle", "", "", f"{cold[m]:.3f}", "") for m in V3_MODES]

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    v2, fast, slow = (median(cpu[m]) for m in V3_MODES)
    fast_x = median([f / v for f, v in zip(cpu[V3_MODES[1]], cpu["v2c"], strict=True)])
    slow_x = median([s / v for s, v in zip(cpu[V3_MODES[2]], cpu["v2c"], strict=True)])
    spread = sorted(f / v for f, v in zip(cpu[V3_MODES[1]], cpu["v2c"], strict=True))
    lines = [f"- v3 authPriv (SHA/AES) CPU per full poll <= 2x v2c: netmon USM {fast:.3f} ms vs v2c "
             f"{v2:.3f} ms, median per-round ratio {fast_x:.2f}x (rounds {spread[0]:.2f}-{spread[-1]:.2f}x), "
             f"{'**met**' if fast_x <= 2 else '**NOT met**'}; pysnmp {slow:.3f} ms = {slow_x:.1f}x v2c, "
             f"{slow / fast:.1f}x netmon USM ({rounds} interleaved rounds of {polls} polls per mode)",
             f"- load average before {load0[0]:.2f} {load0[1]:.2f}, after {load1[0]:.2f} {load1[1]:.2f} "
             "(1 and 5 min; the machine is shared)"]
    return rows, lines


async def interleave(port: int, polls: int, rounds: int, cpu: dict[str, list[float]],
                     rows: list[Row]) -> dict[str, float]:
    """The modes' warm cycles taking turns in one loop; fills `cpu` and `rows`, returns cold ms/poll."""
    devs, _ = devices_for(port, polls, None)
    check, probers, cold = full_check(), {}, {}
    for mode in V3_MODES:
        auth = SnmpAuth(version="2c", community=COMMUNITY) if mode == "v2c" else v3_auth()
        probers[mode] = SnmpProber(ProberContext(auths={COMMUNITY: auth},
                                                 scheduler=SchedulerSettings(snmp_concurrency=32)))
        probers[mode].client.v3_fast = "netmon" in mode
    try:
        for mode, prober in probers.items():
            _, used, ok = await netmon_cycle(prober, devs, check)
            if ok != polls:
                raise RuntimeError(f"{mode}: only {ok} of {polls} cold polls answered")
            cold[mode] = used / polls * 1000
        for rnd in range(1, rounds + 1):
            for mode in V3_MODES if rnd % 2 else tuple(reversed(V3_MODES)):
                wall, used, ok = await netmon_cycle(probers[mode], devs, check)
                cpu[mode].append(used / polls * 1000)
                rows.append((f"{mode} full poll, snmpd, round {rnd} (warm)", f"{ok}/{polls}",
                             f"{polls / wall:,.0f}", f"{used / polls * 1000:.3f}", "devices/s"))
    finally:
        for prober in probers.values():
            await prober.close()
    return cold


def profile_v3(port: int, polls: int, v3_fast: bool) -> None:
    """cProfile one warm cycle of v3 full polls; print the top functions by own time."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    devs, _ = devices_for(port, polls, None)
    auths = {COMMUNITY: v3_auth()}

    async def run() -> None:
        prober = SnmpProber(ProberContext(auths=auths, scheduler=SchedulerSettings(snmp_concurrency=32)))
        prober.client.v3_fast = v3_fast
        try:
            await netmon_cycle(prober, devs, full_check())
            prof.enable()
            await netmon_cycle(prober, devs, full_check())
            prof.disable()
        finally:
            await prober.close()

    asyncio.run(run())
    print(f"\n--- cProfile, {polls} warm v3 full polls, {'netmon USM' if v3_fast else 'pysnmp'} ---")
    stats = pstats.Stats(prof).strip_dirs().sort_stats("tottime")
    stats.print_stats(25)


def main() -> None:
    """Run the v3 comparison and record it."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--polls", type=int, default=300, help="polls per cycle and mode (default 300)")
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    ap.add_argument("--profile", action="store_true", help="cProfile a warm cycle of each v3 path")
    ap.add_argument("--no-append", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args()
    if shutil.which("snmpd") is None:
        sys.exit("snmpd is missing (Debian package snmpd)")
    work = Path(tempfile.mkdtemp(prefix="netmon-bench-snmpv3-"))
    try:
        rows, goals = bench_v3(work, args.polls, args.rounds, args.profile)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = " ".join(["python3", "bench/bench_snmp_v3.py", *sys.argv[1:]])
    note = ("client CPU = rusage of the polling process only, snmpd's CPU on neither side; one "
            "prober per mode in one event loop, a cold cycle each, then warm cycles taking turns "
            "(order reversed each round); all three read the same snmpd; the per-poll figures "
            "include netmon's derive/field checks, the same for all three")
    report(rows, goals, command, append=not args.no_append, title="SNMP v3 vs v2c", issue="21", note=note)


if __name__ == "__main__":
    main()
