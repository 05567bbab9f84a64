"""SNMP polling benchmark: netmon's snmp prober vs prometheus-snmp-exporter vs net-snmp CLI tools.

One "full device poll" = GET of 10 scalars + bulk walk of ifTable + bulk walk of hrStorageTable.
Everything runs on loopback: an own snmpd (v2c) on a free port, the exporter on a free port with
a hand-written numeric snmp.yml, and snmpsim with N copies of one device (communities dev0000..).
netmon's v1/v2c path is its own codec (snmp_wire/snmp_transport); the "pysnmp v1arch" rows run
the previous path (pysnmp 7 get_cmd + bulk_walk_cmd) on the same snmpd for comparison.

    python3 bench/bench_snmp.py --quick     # ~1 min: 200 polls, 200 simulated devices
    python3 bench/bench_snmp.py             # full: 1,000 polls, 2,000 simulated devices
    python3 bench/bench_snmp.py --polls 20 --devices 20 --no-append   # smoke run, a few seconds

snmp_exporter's CPU is counted twice (bench/snmp_exporter_peer.py): its whole process, and its SNMP
part only (a Go pprof profile over the scrapes, split by bench/pprof_split.py into SNMP work vs
HTTP serving + rendering + registry, runtime shared pro rata), since netmon's poll serves no HTTP.

SNMP v3 against v2c is measured by bench/bench_snmp_v3.py, on an snmpd started here.

Prints a table and the goals it is measured against, and appends both, dated, with the command,
to BENCHMARKS.md (unless --no-append).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "probers" / "snmp"))
sys.path.insert(0, str(ROOT / "bench"))

import pprof_split  # noqa: E402
from snmp_exporter_peer import bench_exporter, proc_cpu_s  # noqa: E402
from snmp_helpers import DATA, free_udp_port, start_snmpsim, stop, wait_snmp  # noqa: E402

from netmon.config.schema import SchedulerSettings, SnmpAuth, SnmpCheck  # noqa: E402
from netmon.model import Device, Status  # noqa: E402
from netmon.probers.base import ProberContext  # noqa: E402
from netmon.probers.snmp import SnmpProber  # noqa: E402

SCALARS = [f"1.3.6.1.2.1.1.{i}.0" for i in range(1, 8)] + [
    "1.3.6.1.2.1.2.1.0", "1.3.6.1.2.1.25.1.1.0", "1.3.6.1.2.1.25.2.2.0"]
IF_TABLE, HR_STORAGE = "1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.25.2.3.1"
COMMUNITY = "benchpub"


def full_check(get: bool = True, walks: tuple[str, ...] = (IF_TABLE, HR_STORAGE)) -> SnmpCheck:
    """The benchmark's device poll as a netmon check (or a part of it: GET only, one walk)."""
    names = {IF_TABLE: "if_table", HR_STORAGE: "hr_storage"}
    return SnmpCheck(name="bench", prober="snmp", timeout=2.0, retries=1, max_repetitions=25,
                     get={f"s{i}": oid for i, oid in enumerate(SCALARS)} if get else {},
                     walk={names[w]: w for w in walks})


def self_cpu_s(who: int = resource.RUSAGE_SELF) -> float:
    """user+system CPU seconds of this process (or its children)."""
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


V3_USER, V3_AUTH, V3_PRIV = "benchv3", "bench-auth-key", "bench-priv-key"
V3_USERS = (f'createUser {V3_USER} SHA "{V3_AUTH}" AES "{V3_PRIV}"\nrouser {V3_USER} priv\n'
            f'createUser {V3_USER}np SHA "{V3_AUTH}"\nrouser {V3_USER}np auth\n')


def start_snmpd(work: Path) -> tuple[subprocess.Popen, int]:
    """An own snmpd on a free loopback port (v2c community and two v3 users)."""
    port = free_udp_port()
    conf = work / "snmpd.conf"
    conf.write_text(f"agentAddress udp:127.0.0.1:{port}\nrocommunity {COMMUNITY} 127.0.0.1\n"
                    "sysLocation bench\nsysContact bench@localhost\nsysName bench-snmpd\n" + V3_USERS)
    (work / "persist").mkdir(exist_ok=True)
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(work / "persist"), "MIBS": ""}
    proc = subprocess.Popen(["snmpd", "-f", "-Lf", str(work / "snmpd.log"), "-C", "-c", str(conf)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_snmp(port, COMMUNITY, proc, work / "snmpd.log")
    return proc, port


async def netmon_cycle(prober: SnmpProber, devices: list[Device], check: SnmpCheck) -> tuple[float, float, int]:
    """One probe_many over `devices`: (wall s, client CPU s, ok count)."""
    ok = 0

    def emit(result) -> None:
        nonlocal ok
        ok += result.status is Status.OK

    c0, t0 = self_cpu_s(), time.perf_counter()
    await prober.probe_many(devices, check, emit)
    return time.perf_counter() - t0, self_cpu_s() - c0, ok


def devices_for(port: int, n: int, communities: list[str] | None) -> tuple[list[Device], dict[str, SnmpAuth]]:
    """n devices on one port; each its own community when given (snmpsim), else the bench one."""
    names = communities or [COMMUNITY] * n
    auths = {c: SnmpAuth(version="2c", community=c) for c in set(names)}
    devs = [Device(id=f"bench/d{i}", name=f"d{i}", kind="pc", profile="pc", province="b", commune="b",
                   village="", host="127.0.0.1", snmp_port=port, auth=names[i]) for i in range(n)]
    return devs, auths


def bench_netmon(port: int, n: int, cycles: int, communities: list[str] | None = None,
                 check: SnmpCheck | None = None) -> list[tuple[float, float, int]]:
    """Cycles of n polls (full by default) in one prober (cycle 1 is cold)."""
    devs, auths = devices_for(port, n, communities)
    check = check or full_check()

    async def run() -> list[tuple[float, float, int]]:
        prober = SnmpProber(ProberContext(auths=auths, scheduler=SchedulerSettings(snmp_concurrency=32)))
        try:
            return [await netmon_cycle(prober, devs, check) for _ in range(cycles)]
        finally:
            await prober.close()

    return asyncio.run(run())


def bench_pysnmp(port: int, n: int) -> tuple[float, float, int]:
    """The previous path, pysnmp 7 v1arch, n full polls (warm cycle after a cold one)."""
    from pysnmp.hlapi.v1arch import asyncio as v1
    from pysnmp.smi import builder, view

    from netmon.probers.snmp_v3 import _numeric_only

    async def poll(disp, auth, target, limit, scalars) -> bool:
        async with limit:
            error, status, _, _ = await v1.get_cmd(disp, auth, target, *scalars, lookupMib=False)
            ok = not error and not status
            for root in (IF_TABLE, HR_STORAGE):
                start = v1.ObjectType(v1.ObjectIdentity(root))
                async for error, status, _, _ in v1.bulk_walk_cmd(
                        disp, auth, target, 0, 25, start, lexicographicMode=False, lookupMib=False):
                    ok = ok and not error and not status
                    if error:
                        break
            return ok

    async def run() -> tuple[float, float, int]:
        disp, auth = v1.SnmpDispatcher(), v1.CommunityData(COMMUNITY, mpModel=1)
        # as the previous SnmpClient did: no pysmi compiler set-up on the first request
        disp.cache["mibViewController"] = view.MibViewController(_numeric_only(builder.MibBuilder()))
        target = await v1.UdpTransportTarget.create(("127.0.0.1", port), timeout=2, retries=1)
        scalars = [v1.ObjectType(v1.ObjectIdentity(o)) for o in SCALARS]
        limit = asyncio.Semaphore(32)
        try:
            await asyncio.gather(*(poll(disp, auth, target, limit, scalars) for _ in range(min(n, 50))))
            c0, t0 = self_cpu_s(), time.perf_counter()
            oks = await asyncio.gather(*(poll(disp, auth, target, limit, scalars) for _ in range(n)))
            return time.perf_counter() - t0, self_cpu_s() - c0, sum(oks)
        finally:
            disp.close()

    return asyncio.run(run())


def bench_cli(port: int, community: str, ops: int, parallel: int) -> dict[str, dict[str, float]]:
    """net-snmp tools, one process per operation: ops/s and client CPU per op."""
    base = ["-v2c", "-c", community, "-On", "-t", "2", "-r", "1", f"127.0.0.1:{port}"]
    commands = {"snmpget 10 scalars": ["snmpget", *base, *SCALARS],
                "snmpbulkwalk ifTable": ["snmpbulkwalk", "-Cr25", *base, IF_TABLE],
                "snmpbulkwalk hrStorageTable": ["snmpbulkwalk", "-Cr25", *base, HR_STORAGE]}
    out = {}
    for name, cmd in commands.items():
        c0, t0 = self_cpu_s(resource.RUSAGE_CHILDREN), time.perf_counter()
        with ThreadPoolExecutor(parallel) as pool:
            codes = list(pool.map(lambda _, c=cmd: subprocess.run(c, stdout=subprocess.DEVNULL,
                                                                  stderr=subprocess.DEVNULL).returncode,
                                  range(ops)))
        out[name] = {"wall": time.perf_counter() - t0,
                     "cpu": self_cpu_s(resource.RUSAGE_CHILDREN) - c0, "ok": codes.count(0)}
    return out


def bench_data(work: Path) -> Path:
    """One simulated device with the 10 scalars, an ifTable and an hrStorageTable."""
    rows: dict[str, str] = {}
    for name in ("router-wrap-a", "pc-healthy"):
        for line in (DATA / f"{name}.snmprec").read_text().splitlines():
            rows.setdefault(line.split("|", 1)[0], line)
    rows.setdefault("1.3.6.1.2.1.25.1.6.0", "1.3.6.1.2.1.25.1.6.0|66|120")
    ordered = sorted(rows, key=lambda oid: tuple(int(p) for p in oid.split(".")))
    path = work / "bench-device.snmprec"
    path.write_text("".join(rows[o] + "\n" for o in ordered))
    return path


Row = tuple[str, str, str, str, str]

def main() -> None:
    """Run the benchmark and record it."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="about a minute: 200 polls, 200 devices")
    ap.add_argument("--polls", type=int, help="polls/scrapes against snmpd (default 1000, quick 200)")
    ap.add_argument("--devices", type=int, help="simulated devices in snmpsim (default 2000, quick 200)")
    ap.add_argument("--profile-s", type=int, help="seconds of the exporter's pprof CPU profile "
                    "(default 10, quick 5, under 200 polls 2)")
    ap.add_argument("--no-append", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args()
    polls = args.polls or (200 if args.quick else 1000)
    sim_n = args.devices or (200 if args.quick else 2000)
    profile_s = args.profile_s or (10 if polls >= 1000 else 5 if polls >= 200 else 2)
    for tool in ("snmpd", "snmpget", "snmpbulkwalk", "prometheus-snmp-exporter"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing (Debian packages snmpd snmp prometheus-snmp-exporter)")
    work = Path(tempfile.mkdtemp(prefix="netmon-bench-snmp-"))
    os.chmod(work, 0o755)
    goals: dict[str, float] = {}
    try:
        rows = bench_snmpd(work, polls, profile_s, goals)
        rows += bench_snmpsim(work, sim_n, goals)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = " ".join(["python3", "bench/bench_snmp.py", *sys.argv[1:]])
    report(rows, goal_lines(goals, sim_n), command, append=not args.no_append)


def bench_snmpd(work: Path, polls: int, profile_s: int, goals: dict[str, float]) -> list[Row]:
    """netmon, the previous pysnmp path, the exporter and net-snmp's tools against one snmpd."""
    rows: list[Row] = []
    snmpd, port = start_snmpd(work)
    try:
        for cyc, (wall, cpu, ok) in enumerate(bench_netmon(port, polls, 2), start=1):
            rows.append((f"netmon full poll, snmpd, cycle {cyc}", f"{ok}/{polls}", f"{polls / wall:,.0f}",
                         f"{cpu / polls * 1000:.3f}", "devices/s"))
            goals["netmon_poll_ms"] = cpu / polls * 1000
        parts = {"GET 10 scalars": full_check(walks=()), "walk ifTable": full_check(False, (IF_TABLE,)),
                 "walk hrStorageTable": full_check(False, (HR_STORAGE,))}
        for name, check in parts.items():
            wall, cpu, ok = bench_netmon(port, polls, 2, check=check)[-1]
            rows.append((f"netmon {name} only, snmpd (warm)", f"{ok}/{polls}", f"{polls / wall:,.0f}",
                         f"{cpu / polls * 1000:.3f}", "ops/s"))
            goals[f"netmon {name}"] = cpu / polls * 1000
        n_old = min(polls, 300)  # ~15 ms each: enough to compare, not worth more minutes
        wall, cpu, ok = bench_pysnmp(port, n_old)
        rows.append(("pysnmp 7 v1arch full poll (previous path), snmpd, warm", f"{ok}/{n_old}",
                     f"{n_old / wall:,.0f}", f"{cpu / n_old * 1000:.3f}", "devices/s"))
        rows += exporter_rows(work, port, polls, profile_s, goals)
        n = max(polls // 3, 1)
        for name, r in bench_cli(port, COMMUNITY, n, 8).items():
            rows.append((f"net-snmp {name}, snmpd", f"{r['ok']}/{n}", f"{n / r['wall']:,.0f}",
                         f"{r['cpu'] / n * 1000:.3f}", "ops/s"))
            goals[f"cli {name}"] = r["cpu"] / n * 1000
    finally:
        stop(snmpd)
    return rows


def exporter_rows(work: Path, port: int, polls: int, profile_s: int, goals: dict[str, float]) -> list[Row]:
    """The exporter's CPU per scrape: whole process, then its SNMP part from a pprof profile."""
    exp = bench_exporter(work, port, COMMUNITY, SCALARS, polls, 16, profile_s)
    whole = exp["cpu"] / polls * 1000
    win, share = exp["window"], exp["share"]
    goals["exporter_poll_ms"] = whole
    goals["exporter_snmp_ms"] = whole * share["snmp_fair"]
    goals["exporter_snmp_strict_ms"] = whole * share["snmp"]
    goals["exporter_snmp_err_ms"] = whole * share["stderr"]
    rows = [("snmp_exporter full poll (scrape), snmpd: whole process", f"{exp['ok']:.0f}/{polls}",
             f"{polls / exp['wall']:,.0f}", f"{whole:.3f}", "devices/s"),
            (f"  profiled {profile_s} s window: whole process ({share['samples']} pprof samples)",
             f"{win['ok']:.0f}/{win['scrapes']:.0f}", f"{win['scrapes'] / profile_s:,.0f}",
             f"{win['cpu'] / max(win['scrapes'], 1) * 1000:.3f}", "devices/s")]
    for label, key in (("SNMP (gosnmp, UDP, PDU->metric)", "snmp"), ("HTTP serving + rendering", "http"),
                       ("runtime (GC, scheduler)", "runtime")):
        rows.append((f"  share: {label}", "", "", f"{share[key]:.1%}", "of samples"))
    rows.append(("snmp_exporter SNMP part only (+ runtime pro rata), snmpd", "", "",
                 f"{goals['exporter_snmp_ms']:.3f} ± {goals['exporter_snmp_err_ms']:.3f}", "ms/poll"))
    print("exporter hot spots (leaf, share of its kind):")
    for which in ("snmp", "http", "runtime"):
        top = pprof_split.top(exp["profile"], which, 6)
        hot = ", ".join(f"{name.rsplit('/', 1)[-1]} {frac:.0%}" for name, frac in top)
        print(f"  {which}: {hot}")
    return rows


def bench_snmpsim(work: Path, n: int, goals: dict[str, float]) -> list[Row]:
    """Cold and warm cycles over n simulated devices, then net-snmp tools on the same data."""
    sim_dir = work / "sim"
    sim_dir.mkdir()
    os.chmod(sim_dir, 0o755)
    src = bench_data(work)
    names = [f"dev{i:04d}" for i in range(n)]
    port = free_udp_port()
    proc = start_snmpsim(sim_dir, [], [f"127.0.0.1:{port}"], dict.fromkeys(names, src))
    rows: list[Row] = []
    try:
        wait_snmp(port, names[-1], proc, sim_dir / "snmpsim.log", limit_s=300)
        sim_c0 = proc_cpu_s(proc.pid)
        for label, check in (("GET 10 scalars", full_check(walks=())), ("full poll", full_check())):
            cycles = bench_netmon(port, n, 3, names, check)
            for cyc, (wall, cpu, ok) in enumerate(cycles, start=1):
                kind = "cold" if cyc == 1 else "warm"
                rows.append((f"netmon {label}, snmpsim {n} devices, cycle {cyc} ({kind}) {wall:.2f} s",
                             f"{ok}/{n}", f"{n / wall:,.0f}", f"{cpu / n * 1000:.3f}", "devices/s"))
            goals["sim_cold_s"], goals["sim_cold_cpu_s"] = cycles[0][0], cycles[0][1]
            goals["sim_warm_s"] = min(c[0] for c in cycles[1:])
            goals["sim_warm_cpu_s"] = min(c[1] for c in cycles[1:])
        sim_cpu = proc_cpu_s(proc.pid) - sim_c0
        rows.append(("  (snmpsim CPU for the netmon cycles above)", "", "", f"{sim_cpu:.1f} s total", ""))
        ops = min(150, n)
        for name, r in bench_cli(port, names[0], ops, 8).items():
            rows.append((f"net-snmp {name}, snmpsim", f"{r['ok']}/{ops}", f"{ops / r['wall']:,.0f}",
                         f"{r['cpu'] / ops * 1000:.3f}", "ops/s"))
    finally:
        stop(proc)
    return rows


def goal_lines(g: dict[str, float], sim_n: int) -> list[str]:
    """The issue-10 goals, each with the measured value and whether it is met."""
    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**NOT met**"

    ratio = g["netmon_poll_ms"] / g["exporter_poll_ms"]
    lines = [f"- client CPU per full poll <= 4x snmp_exporter's: {g['netmon_poll_ms']:.3f} ms vs "
             f"{g['exporter_poll_ms']:.3f} ms = {ratio:.2f}x, {verdict(ratio <= 4)}"]
    fair, strict = g["netmon_poll_ms"] / g["exporter_snmp_ms"], g["netmon_poll_ms"] / g["exporter_snmp_strict_ms"]
    lo = g["netmon_poll_ms"] / (g["exporter_snmp_ms"] + 2 * g["exporter_snmp_err_ms"])
    hi = g["netmon_poll_ms"] / max(g["exporter_snmp_ms"] - 2 * g["exporter_snmp_err_ms"], 1e-9)
    lines.append(f"- (issue 21) SNMP full poll <= 0.5x snmp_exporter, counted fairly: netmon "
                 f"{g['netmon_poll_ms']:.3f} ms "
                 f"vs the exporter's SNMP part {g['exporter_snmp_ms']:.3f} ms = {fair:.2f}x ({lo:.2f}-{hi:.2f}x "
                 f"at 2 standard errors of the profile share; {strict:.2f}x against the SNMP samples alone, "
                 f"without a runtime share; {ratio:.2f}x against the whole process), {verdict(fair <= 0.5)}")
    for ours, cli in (("GET 10 scalars", "snmpget 10 scalars"), ("walk ifTable", "snmpbulkwalk ifTable"),
                      ("walk hrStorageTable", "snmpbulkwalk hrStorageTable")):
        a, b = g[f"netmon {ours}"], g[f"cli {cli}"]
        lines.append(f"- beat net-snmp `{cli.split()[0]}` per operation ({ours}): {a:.3f} ms vs {b:.3f} ms "
                     f"CPU/op ({b / a:.0f}x less), {verdict(a < b)}")
    cold = g["sim_cold_s"] / g["sim_warm_s"]
    lines.append(f"- first cycle of {sim_n} devices <= 2x warm (full poll, snmpsim): {g['sim_cold_s']:.2f} s "
                 f"vs {g['sim_warm_s']:.2f} s = {cold:.2f}x, {verdict(cold <= 2)}")
    per_dev_s = g["sim_warm_cpu_s"] / sim_n
    est = "measured" if sim_n >= 2000 else f"extrapolated from {sim_n}"
    lines.append(f"- 2,000 devices (IF-MIB + HOST-RESOURCES) within 5 min on one core: netmon CPU "
                 f"{per_dev_s * 2000:.1f} s per 2,000-device cycle ({est}; wall here is bound by snmpsim: "
                 f"{g['sim_warm_s'] * 2000 / sim_n:.1f} s), {verdict(per_dev_s * 2000 <= 300)}")
    return lines


def report(rows: list[Row], goals: list[str], command: str, append: bool, title: str = "SNMP polling",
           issue: str = "10", note: str = "") -> None:
    """Print the table and goals; append them to BENCHMARKS.md unless told not to."""
    head = ("test", "ok", "rate", "client CPU ms/op", "unit")
    lines = ["| " + " | ".join(head) + " |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    table = "\n".join(lines)
    goal_text = "\n".join(goals)
    print(table + f"\n\nGoals (issue {issue}):\n" + goal_text)
    if not append:
        return
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    counted = note or ("client CPU = the poller's own process, for the exporter its process (and its "
                       "SNMP part: that times the SNMP share of a pprof profile, bench/pprof_split.py), "
                       "for net-snmp the child processes; netmon v1/v2c = own BER codec, snmp_wire.py")
    block = (f"\n## {title} ({stamp})\n\nCommand: `{command}` (2 vCPU, loopback; one full poll = GET "
             f"10 scalars + bulk walk ifTable + hrStorageTable; {counted})\n\n{table}\n\n"
             f"Goals (issue {issue}):\n\n{goal_text}\n")
    with open(ROOT / "BENCHMARKS.md", "a", encoding="utf-8") as fh:
        fh.write(block)


if __name__ == "__main__":
    main()
