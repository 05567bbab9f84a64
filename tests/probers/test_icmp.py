"""ICMP prober against real ICMP: loopback in this process, failures in namespaces the tests create.

Traffic goes only to 127.0.0.0/8 and ::1, or into a network namespace made here (only `lo`, no
route out) and deleted afterwards, also on failure. Host names are only ever resolved inside
such a namespace, so not even a DNS query can leave the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest

from netmon.config.schema import IcmpCheck, SchedulerSettings
from netmon.model import Device, ProbeResult, Status
from netmon.probers.base import ProberContext
from netmon.probers.icmp import IcmpProber, check_icmp_permission
from netmon.probers.icmp_socket import ping_group_range
from tests.fixtures.need import need

ROOT = Path(__file__).resolve().parents[2]
RANGE_FILE = Path("/proc/sys/net/ipv4/ping_group_range")
_ns_ids = count()

INT_FIELDS = {"packets_transmitted", "packets_received", "result_code"}
FLOAT_FIELDS = {"percent_packet_loss", "minimum_response_ms", "average_response_ms", "maximum_response_ms",
                "standard_deviation_ms"}


def device(host: str | None, i: int = 0) -> Device:
    """A device at `host` with a unique id."""
    return Device(id=f"lai-chau/sin-ho/ta-phin/d{i}", name=f"d{i}", kind="cpe", profile="cpe",
                  province="Lai Châu", commune="Sìn Hồ", village="Tả Phìn", host=host)


def icmp_check(**kw: object) -> IcmpCheck:
    """The reachability check with fast test timings unless overridden."""
    values = {"name": "reachability", "prober": "icmp", "count": 3, "timeout": 1.0,
              "packet_interval": 0.02, **kw}
    return IcmpCheck.model_validate(values)


def can_widen_range() -> bool:
    """True when this process may change ping_group_range (root in its own namespace)."""
    return os.geteuid() == 0 and os.access(RANGE_FILE, os.W_OK)


def make_prober(mode: str, **scheduler: object) -> IcmpProber:
    """A prober whose sockets are already open in `mode` (inside a running loop)."""
    context = ProberContext(scheduler=SchedulerSettings(**scheduler))
    prober = IcmpProber(context, mode=mode)
    if mode == "datagram" and check_icmp_permission() != "datagram":
        # Ping sockets check the group range only when created: open them, then restore at once.
        old = RANGE_FILE.read_text()
        gid = os.getegid()
        RANGE_FILE.write_text(f"{gid} {gid}")
        try:
            prober.engine.open(socket.AF_INET)
            prober.engine.open(socket.AF_INET6)
        finally:
            RANGE_FILE.write_text(old)
    return prober


@pytest.fixture(params=["datagram", "raw"])
def mode(request: pytest.FixtureRequest) -> str:
    """Both socket kinds; each needs its permission (or root to grant it for a moment)."""
    if request.param == "raw":
        need(os.geteuid() == 0, "raw ICMP sockets need CAP_NET_RAW (run as root)")
    else:
        need(check_icmp_permission() == "datagram" or can_widen_range(),
             "datagram ICMP sockets need net.ipv4.ping_group_range to include our gid, or root")
    return request.param


async def sweep(prober: IcmpProber, hosts: list[str | None], check: IcmpCheck) -> list[ProbeResult]:
    """probe_many over `hosts`; results in input order."""
    results: list[ProbeResult] = []
    await prober.probe_many([device(h, i) for i, h in enumerate(hosts)], check, results.append)
    order = {f"lai-chau/sin-ho/ta-phin/d{i}": i for i in range(len(hosts))}
    return sorted(results, key=lambda r: order[r.device_id])


def assert_answered(result: ProbeResult, host: str, count_: int = 3) -> None:
    """OK with Telegraf's fields, exact types and sane RTTs."""
    assert result.status is Status.OK, result.reason
    (sample,) = result.samples
    fields = dict(sample.fields)
    assert sample.measurement == "ping" and dict(sample.tags) == {"url": host}
    assert set(fields) == INT_FIELDS | FLOAT_FIELDS
    assert all(type(fields[k]) is int for k in INT_FIELDS)
    assert all(type(fields[k]) is float for k in FLOAT_FIELDS)
    assert fields["packets_transmitted"] == fields["packets_received"] == count_
    assert fields["percent_packet_loss"] == 0.0 and fields["result_code"] == 0
    assert 0 < fields["minimum_response_ms"] <= fields["average_response_ms"] <= fields["maximum_response_ms"]
    assert fields["maximum_response_ms"] < 1000 and fields["standard_deviation_ms"] >= 0.0
    assert re.fullmatch(rf"{count_}/{count_} replies, avg \d+\.\d+ ms", result.reason)


# ---------------------------------------------------------------- loopback, in this process


def test_loopback_targets_answer(mode: str) -> None:
    hosts = ["127.0.0.1", "127.3.4.5", "127.200.1.1", "::1", "0:0:0:0:0:0:0:1"]

    async def go() -> list[ProbeResult]:
        prober = make_prober(mode)
        try:
            return await sweep(prober, hosts, icmp_check())
        finally:
            await prober.close()

    before = time.time()
    results = asyncio.run(go())
    for host, result in zip(hosts, results, strict=True):
        assert_answered(result, host)
        assert before <= result.ts <= time.time() and 0 < result.duration_s < 1.0
        assert result.prober == "icmp" and result.check == "reachability"


def test_rtt_is_the_kernels_not_the_busy_loops(mode: str) -> None:
    """A reply is timed when the kernel received it: a loop blocked after the send adds nothing."""
    blocked_s = 0.3
    outcomes = []

    def one_target_then_block() -> Iterator[tuple[object, str, int]]:
        yield None, "127.0.0.1", socket.AF_INET
        time.sleep(blocked_s)  # the engine asks for the next target right after sending: the loop stalls

    async def go() -> None:
        prober = make_prober(mode)
        try:
            await prober.engine.ping(one_target_then_block(), 1, 0.01, 2.0, outcomes.append)
        finally:
            await prober.close()

    asyncio.run(go())
    (outcome,) = outcomes
    assert outcome.status is Status.OK and len(outcome.rtts_s) == 1
    # The loop read the reply only after the stall, so loop time would have said >= 0.3 s ...
    assert outcome.finished - outcome.sent_at[0] >= blocked_s * 0.9
    # ... while the kernel's receive stamp says what loopback takes.
    assert 0.0 <= outcome.rtts_s[0] < 0.05, outcome.rtts_s


def test_impossible_timeout_is_timeout_without_rtt_fields(mode: str) -> None:
    async def go() -> list[ProbeResult]:
        prober = make_prober(mode)
        try:
            return await sweep(prober, ["127.0.0.1", "::1"], icmp_check(timeout=1e-6))
        finally:
            await prober.close()

    for result in asyncio.run(go()):
        assert result.status is Status.TIMEOUT
        assert dict(result.samples[0].fields) == {"packets_transmitted": 3, "packets_received": 0,
                                                  "percent_packet_loss": 100.0, "result_code": 1}
        assert result.reason == "0/3 replies within 0.001 ms"


def test_hundreds_of_targets_all_answer(mode: str) -> None:
    hosts = [f"127.{10 + i // 254}.{i % 254 + 1}.{(i * 7) % 254 + 1}" for i in range(600)]
    assert len(set(hosts)) == 600

    async def go() -> tuple[list[ProbeResult], int, int]:
        prober = make_prober(mode, max_pps=100_000, concurrency=4096)
        try:
            results = await sweep(prober, hosts, icmp_check(count=2, packet_interval=0.01))
            return results, prober.engine.inflight, prober.engine.pending_packets
        finally:
            await prober.close()

    results, inflight, pending = asyncio.run(go())
    for host, result in zip(hosts, results, strict=True):
        assert_answered(result, host, count_=2)
    assert (inflight, pending) == (0, 0)


def test_global_pps_ceiling_paces_the_sweep() -> None:
    need(os.geteuid() == 0 or check_icmp_permission(), "needs an ICMP socket")
    hosts = [f"127.9.0.{i}" for i in range(1, 41)]

    async def go() -> list[ProbeResult]:
        prober = make_prober("raw" if os.geteuid() == 0 else "datagram", max_pps=100)
        try:
            return await sweep(prober, hosts, icmp_check(count=2, packet_interval=0.01))
        finally:
            await prober.close()

    started = time.monotonic()
    results = asyncio.run(go())
    elapsed = time.monotonic() - started
    assert all(r.status is Status.OK for r in results)
    # 80 packets at 100/s with a burst of one: at least ~0.79 s, not a 10 ms blast.
    assert elapsed >= 0.7, elapsed


def test_packets_to_one_target_are_spaced_by_packet_interval(mode: str) -> None:
    async def go() -> ProbeResult:
        prober = make_prober(mode)
        try:
            return await prober.probe(device("127.0.0.1"), icmp_check(packet_interval=0.15))
        finally:
            await prober.close()

    result = asyncio.run(go())
    assert_answered(result, "127.0.0.1")
    assert 0.3 <= result.duration_s < 1.5


def test_inflight_targets_stay_bounded(mode: str) -> None:
    seen: list[int] = []

    async def go() -> list[ProbeResult]:
        prober = make_prober(mode, concurrency=5, max_pps=10_000)
        results: list[ProbeResult] = []

        def emit(result: ProbeResult) -> None:
            seen.append(prober.engine.inflight)
            results.append(result)

        try:
            await prober.probe_many([device(f"127.8.0.{i}", i) for i in range(1, 51)], icmp_check(), emit)
            return results
        finally:
            await prober.close()

    results = asyncio.run(go())
    assert len(results) == 50 and all(r.status is Status.OK for r in results)
    assert max(seen) <= 5  # counted after this target left, so < 5 proves the cap held


def test_same_address_twice_and_concurrent_sweeps(mode: str) -> None:
    async def go() -> tuple[list[ProbeResult], list[ProbeResult]]:
        prober = make_prober(mode)
        try:
            return await asyncio.gather(
                sweep(prober, ["127.0.0.1", "127.0.0.1", "::1"], icmp_check()),
                sweep(prober, ["127.0.0.1", "::1"], icmp_check(count=5, packet_interval=0.005)))
        finally:
            await prober.close()

    first, second = asyncio.run(go())
    for result, host in zip(first, ["127.0.0.1", "127.0.0.1", "::1"], strict=True):
        assert_answered(result, host)
    for result, host in zip(second, ["127.0.0.1", "::1"], strict=True):
        assert_answered(result, host, count_=5)


def test_cancelled_sweep_releases_capacity(mode: str) -> None:
    async def go() -> tuple[int, int]:
        prober = make_prober(mode)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sweep(prober, ["127.0.0.1", "127.0.0.2"],
                                             icmp_check(packet_interval=0.5)), 0.1)
            return prober.engine.inflight, prober.engine.pending_packets
        finally:
            await prober.close()

    assert asyncio.run(go()) == (0, 0)


def test_device_without_host_is_an_error_not_an_exception() -> None:
    async def go() -> list[ProbeResult]:
        prober = IcmpProber(ProberContext())
        try:
            return await sweep(prober, [None], icmp_check())
        finally:
            await prober.close()

    (result,) = asyncio.run(go())
    assert result.status is Status.ERROR and result.reason == "device has no host or URL to ping"


def test_check_icmp_permission_in_this_namespace() -> None:
    low, high = (int(x) for x in ping_group_range().split())
    groups = {os.getegid(), *os.getgroups()}
    if any(low <= g <= high for g in groups):
        assert check_icmp_permission() == "datagram"
    elif os.geteuid() == 0:
        assert check_icmp_permission() == "raw"
    else:
        pytest.skip("unprivileged and outside ping_group_range: covered by the namespace test")


# ---------------------------------------------------------------- inside namespaces made here

NS_SCRIPT = r"""
import asyncio, json, sys
from netmon.config.schema import IcmpCheck
from netmon.model import Device
from netmon.probers.base import ProberContext
from netmon.probers.icmp import IcmpPermissionError, IcmpProber, check_icmp_permission

args = json.loads(sys.argv[1])
if args["action"] == "permission":
    try:
        print(json.dumps({"mode": check_icmp_permission()}))
    except IcmpPermissionError as exc:
        print(json.dumps({"error": str(exc)}))
    sys.exit(0)

async def main():
    prober = IcmpProber(ProberContext(), mode=args["mode"])
    devices = [Device(id=f"d{i}", name=h, kind="cpe", profile="cpe", province="p", commune="c",
                      village="v", host=h) for i, h in enumerate(args["hosts"])]
    check = IcmpCheck(name="reachability", prober="icmp", count=3, timeout=args["timeout"],
                      packet_interval=0.05)
    out = {}
    await prober.probe_many(devices, check, lambda r: out.__setitem__(r.device_id, r))
    await prober.close()
    return [{"host": h, "status": out[f"d{i}"].status.value, "reason": out[f"d{i}"].reason,
             "duration_s": out[f"d{i}"].duration_s,
             "fields": dict(out[f"d{i}"].samples[0].fields) if out[f"d{i}"].samples else None}
            for i, h in enumerate(args["hosts"])]

print(json.dumps(asyncio.run(main())))
"""

NFT_RULES = """
table inet netmon_test {
  chain input {
    type filter hook input priority 0;
    ip daddr 127.0.0.2 icmp type echo-request drop
    ip daddr 127.0.0.3 icmp type echo-request reject with icmp type host-unreachable
    ip6 daddr ::2 icmpv6 type echo-request reject with icmpv6 type addr-unreachable
    ip6 daddr ::3 icmpv6 type echo-request drop
  }
}
"""


@contextlib.contextmanager
def netns(group_range: str) -> Iterator[str]:
    """A namespace with only `lo` up and the given ping_group_range; deleted on the way out."""
    need(os.geteuid() == 0 and shutil.which("ip"), "network namespaces need root and iproute2")
    name = f"nmicmp-{os.getpid()}-{next(_ns_ids)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        ns_run(name, ["ip", "link", "set", "lo", "up"])
        ns_run(name, ["sysctl", "-qw", f"net.ipv4.ping_group_range={group_range}"])
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


def ns_run(name: str, cmd: list[str], **kw: object) -> subprocess.CompletedProcess:
    """Run `cmd` inside namespace `name`."""
    return subprocess.run(["ip", "netns", "exec", name, *cmd], check=True, timeout=60, **kw)


def ns_python(name: str, args: dict, drop_net_raw: bool = False) -> object:
    """Run NS_SCRIPT inside the namespace and return its JSON answer."""
    prefix = ["setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw"] if drop_net_raw else []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = ns_run(name, [*prefix, sys.executable, "-c", NS_SCRIPT, json.dumps(args)],
                  capture_output=True, text=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.netns
def test_failures_inside_a_namespace(mode: str) -> None:
    need(shutil.which("nft"), "nftables (nft) is needed to make targets stop answering")
    hosts = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "::1", "::2", "::3", "10.9.9.9", "x.invalid", "localhost",
             "fe80::1%lo"]
    with netns("0 2147483647") as ns:
        ns_run(ns, ["ip", "-6", "addr", "add", "::2/128", "dev", "lo"])
        ns_run(ns, ["ip", "-6", "addr", "add", "::3/128", "dev", "lo"])
        ns_run(ns, ["ip", "-6", "addr", "add", "fe80::1/64", "dev", "lo"])
        ns_run(ns, ["nft", "-f", "-"], input=NFT_RULES, text=True)
        rows = {r["host"]: r for r in ns_python(ns, {"action": "probe", "mode": mode, "hosts": hosts,
                                                       "timeout": 0.5})}
    no_reply = {"packets_transmitted": 3, "packets_received": 0, "percent_packet_loss": 100.0, "result_code": 1}
    for host in ("127.0.0.1", "::1", "localhost", "fe80::1%lo"):
        assert rows[host]["status"] == "ok" and rows[host]["fields"]["packets_received"] == 3, rows[host]
    for host in ("127.0.0.2", "::3"):  # dropped: silence until the timeout
        assert rows[host]["status"] == "timeout" and rows[host]["fields"] == no_reply, rows[host]
        assert rows[host]["reason"] == "0/3 replies within 0.5 s" and rows[host]["duration_s"] >= 0.5
    assert rows["127.0.0.3"]["status"] == "unreachable" and rows["127.0.0.3"]["fields"] == no_reply
    assert rows["127.0.0.3"]["reason"].endswith("127.0.0.3 answered 'host unreachable'")
    assert rows["::2"]["status"] == "unreachable" and "address unreachable" in rows["::2"]["reason"]
    assert rows["10.9.9.9"] == {"host": "10.9.9.9", "status": "unreachable", "fields": {"result_code": 2},
                                "duration_s": rows["10.9.9.9"]["duration_s"],
                                "reason": "cannot send to 10.9.9.9: Network is unreachable "
                                          "(no route from this agent)"}
    assert rows["x.invalid"]["status"] == "error" and rows["x.invalid"]["fields"] == {"result_code": 2}
    assert rows["x.invalid"]["reason"].startswith("host name 'x.invalid' does not resolve")


@pytest.mark.netns
def test_permission_error_names_the_fix() -> None:
    need(shutil.which("setpriv"), "setpriv (util-linux) is needed to drop CAP_NET_RAW")
    with netns("1 0") as ns:
        denied = ns_python(ns, {"action": "permission"}, drop_net_raw=True)
        forced = ns_python(ns, {"action": "probe", "mode": "raw", "hosts": ["127.0.0.1"], "timeout": 0.5},
                           drop_net_raw=True)
        assert ns_python(ns, {"action": "permission"}) == {"mode": "raw"}
    assert denied == {"error": (
        "cannot open an ICMP socket: this process (gid 0) is outside net.ipv4.ping_group_range "
        "(currently '1 0') and lacks CAP_NET_RAW. Fix one: sysctl -w net.ipv4.ping_group_range='0 2147483647' "
        "(persist with deploy/sysctl.d/60-netmon-ping.conf), or run with AmbientCapabilities=CAP_NET_RAW")}
    (row,) = forced
    assert row["status"] == "error" and "CAP_NET_RAW" in row["reason"] and row["fields"] == {"result_code": 2}
    with netns("0 2147483647") as ns:
        assert ns_python(ns, {"action": "permission"}, drop_net_raw=True) == {"mode": "datagram"}
