"""The lab against the real kernel: namespaces, veths, nft loss, link outages, snmpd power cuts.

Every probe here runs inside the lab's agent namespace (`ip netns exec`), which has no route
out of the lab; the one probe to a non-lab address (192.0.2.1, TEST-NET-1) proves exactly
that: it fails with "Network is unreachable" before any packet is sent.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lab_helpers import REPO, SMALL, RootSnapshot, all_procs, assert_gone, lab_name, need_lab, write_scenario

from netmon.config import load_config
from netmon.lab import builder, netns
from netmon.lab.netns import LabError
from netmon.lab.plan import ns_prefix
from netmon.lab.state import LabState, proc_start

pytestmark = [pytest.mark.netns, pytest.mark.timeout(120)]

COMMUNITY = "nmlab"


def host_of(state: LabState, device: str) -> str:
    """A village device's lab address, from the generated ground truth."""
    truth = json.loads((Path(state.run_dir) / "ground-truth.json").read_text())
    hosts = {d["name"]: d["host"] for v in truth["villages"] for d in v["devices"]}
    return hosts[device]


def router_of(state: LabState, commune: str) -> str:
    """A commune router's lab address, from the generated ground truth."""
    truth = json.loads((Path(state.run_dir) / "ground-truth.json").read_text())
    return next(c["router"] for c in truth["communes"] if c["commune"] == commune)


def fping_loss(state: LabState, host: str, count: int) -> float:
    """Loss percentage fping measures from inside the agent namespace."""
    out = subprocess.run(["ip", "netns", "exec", state.agent_ns, "fping", "-q", "-c", str(count), "-p", "10",
                          "-t", "200", host], capture_output=True, text=True, timeout=60)
    # "10.99.1.17 : xmt/rcv/%loss = 400/281/29%, min/avg/max = ..."
    sent, received = out.stderr.split("=")[1].split(",")[0].strip().split("/")[:2]
    return 100.0 * (int(sent) - int(received)) / int(sent)


def fping_timeline(state: LabState, host: str, count: int, period_ms: int = 100) -> list[bool]:
    """One True/False per packet (reply or not), sent every `period_ms` from the agent namespace."""
    out = subprocess.run(["ip", "netns", "exec", state.agent_ns, "fping", "-q", "-C", str(count), "-p",
                          str(period_ms), "-t", "80", host], capture_output=True, text=True, timeout=60)
    # "10.99.1.33 : 0.05 0.04 - - 0.06 ..."
    return [v != "-" for v in out.stderr.split(":", 1)[1].split()]


def wait_until(t_abs: float) -> None:
    """Sleep until an absolute time (bounded by the caller's schedule, at most ~15 s here)."""
    delay = t_abs - time.time()
    assert delay < 30, "schedule arithmetic went wrong"
    if delay > 0:
        time.sleep(delay)


def next_window(state: LabState, at: float, every: float, lead_s: float) -> float:
    """Absolute start of the next occurrence that begins at least `lead_s` from now."""
    n = 0
    while state.t0 + at + n * every < time.time() + lead_s:
        n += 1
    return state.t0 + at + n * every


def snmp_uptime_ticks(state: LabState, host: str, v3: bool = False) -> int | None:
    """sysUpTime via snmpget inside the agent namespace, or None on timeout."""
    auth = (["-v3", "-l", "authPriv", "-u", "netmon", "-a", "SHA", "-A", "nmlab-auth-key", "-x", "AES",
             "-X", "nmlab-priv-key"] if v3 else ["-v2c", "-c", COMMUNITY])
    out = subprocess.run(["ip", "netns", "exec", state.agent_ns, "snmpget", *auth, "-On", "-Ot", "-Oqv",
                          "-t", "0.5", "-r", "0", host, "1.3.6.1.2.1.1.3.0"], capture_output=True, text=True,
                         timeout=10)
    return int(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip().isdigit() else None


def test_agent_namespace_has_no_way_out(small_lab: LabState) -> None:
    ns = small_lab.agent_ns
    routes = subprocess.run(["ip", "-n", ns, "route", "show", "default"], capture_output=True, text=True,
                            check=True).stdout
    assert routes.strip() == ""
    probe = ("import socket, time\n"
             "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)\n"
             "t = time.monotonic()\n"
             "try:\n"
             "    s.sendto(b'\\x08\\x00\\x00\\x00\\x00\\x01\\x00\\x01', ('192.0.2.1', 0))\n"
             "    print('SENT')\n"
             "except OSError as exc:\n"
             "    print(exc.strerror, round(time.monotonic() - t, 3))\n")
    out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", probe], capture_output=True,
                         text=True, timeout=10, check=True).stdout.split()
    assert " ".join(out[:-1]) == "Network is unreachable"
    assert float(out[-1]) < 0.05
    # ...while every lab device is one route away.
    assert fping_loss(small_lab, host_of(small_lab, "cpe-direct"), 5) == 0.0


def test_ping_group_range_lets_the_daemon_ping_unprivileged(small_lab: LabState) -> None:
    out = subprocess.run(["ip", "netns", "exec", small_lab.agent_ns, "sysctl", "-n", "net.ipv4.ping_group_range"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "2147483647"]


def test_lossy_village_loses_the_configured_share(small_lab: LabState) -> None:
    loss = fping_loss(small_lab, host_of(small_lab, "cpe-lossy"), 400)
    # 400 packets at p=0.30: sigma = 2.3 points; 8 points is > 3 sigma.
    assert 22.0 <= loss <= 38.0
    assert fping_loss(small_lab, host_of(small_lab, "cpe-direct"), 100) == 0.0  # untroubled village


def test_outage_window_is_seen_as_an_outage(small_lab: LabState) -> None:
    start = next_window(small_lab, at=2, every=9, lead_s=1.5)
    wait_until(start - 1.0)
    timeline = fping_timeline(small_lab, host_of(small_lab, "cpe-flaky"), 55)  # 5.5 s: 1 s + 3 s + 1.5 s
    assert timeline[:5] == [True] * 5
    assert timeline[-5:] == [True] * 5
    lost = [i for i, ok in enumerate(timeline) if not ok]
    assert lost, "no packet was lost during the outage"
    run = lost[-1] - lost[0] + 1
    assert run == len(lost), f"losses are not one contiguous outage: {lost}"
    assert 22 <= run <= 38  # 3 s at 100 ms, give or take the supervisor's 0.2 s tick


def test_power_cut_restarts_snmpd_and_resets_uptime(small_lab: LabState) -> None:
    host = host_of(small_lab, "cpe-power")
    start = next_window(small_lab, at=3, every=11, lead_s=2.0)
    wait_until(start - 1.0)
    before = snmp_uptime_ticks(small_lab, host, v3=True)
    assert before is not None and before > 100  # up for more than a second already
    wait_until(start + 1.5)
    assert snmp_uptime_ticks(small_lab, host, v3=True) is None  # link down, snmpd stopped
    wait_until(start + 3.6)
    after = None
    deadline = time.time() + 5
    while after is None and time.time() < deadline:
        after = snmp_uptime_ticks(small_lab, host, v3=True)
    assert after is not None, "snmpd did not come back after the power cut"
    assert after < before and after < 300  # restarted: uptime counts from the restart, not from lab up
    initial = next(p for p in small_lab.procs if p.key == host)
    current = json.loads((Path(small_lab.run_dir) / "supervisor.json").read_text())["snmpd"]
    now = next(p for p in current if p["key"] == host)
    assert now["pid"] != initial.pid
    assert proc_start(now["pid"]) == now["start"]


def test_upstream_outage_cuts_the_commune_but_not_agent_attached_villages(small_lab: LabState) -> None:
    start = next_window(small_lab, at=4, every=10, lead_s=1.0)
    wait_until(start + 0.8)
    assert fping_loss(small_lab, host_of(small_lab, "cpe-behind"), 20) == 100.0
    assert fping_loss(small_lab, router_of(small_lab, "Tam Đường"), 10) == 100.0
    assert fping_loss(small_lab, router_of(small_lab, "Sìn Hồ"), 10) == 0.0
    assert fping_loss(small_lab, host_of(small_lab, "cpe-direct"), 20) == 0.0


def test_ground_truth_names_causes(small_lab: LabState) -> None:
    truth = json.loads((Path(small_lab.run_dir) / "ground-truth.json").read_text())
    got = {v["village"]: (v["flagged"], v["causes"]) for v in truth["villages"]}
    assert got == {"Lossy": (True, ["link"]), "Flaky": (True, ["link"]), "Powerless": (True, ["power"]),
                   "Behind": (True, ["upstream"]), "Direct": (False, [])}
    flaky = next(v for v in truth["villages"] if v["village"] == "Flaky")["troubles"][0]["windows"]
    assert flaky[0]["start"] == pytest.approx(small_lab.t0 + 2)
    assert flaky[1]["start_s"] - flaky[0]["start_s"] == 9


def test_up_then_down_leaves_nothing(make_lab) -> None:
    before = RootSnapshot.take()
    state = make_lab()
    assert len(netns.namespaces(ns_prefix(state.name))) == 9
    assert all(p.alive() for p in state.procs)
    procs = all_procs(state)
    first = builder.down(state.name)
    assert any("deleted namespace" in a for a in first)
    assert builder.down(state.name) == []  # idempotent
    assert_gone(state.name, procs, before)


def test_up_failing_halfway_removes_what_it_built(tmp_path: Path) -> None:
    need_lab()
    before = RootSnapshot.take()
    # A real snmpd for the Sìn Hồ router, a crash for every other device: namespaces, veths, nft
    # tables and one live snmpd exist when `up` fails.
    counter = tmp_path / "calls"
    wrapper = tmp_path / "flaky-snmpd"
    wrapper.write_text("#!/bin/sh\n"
                       f"echo x >> {counter}\n"
                       'case "$*" in */snmpd/10.99.1.1/*) exec snmpd "$@";; esac\n'
                       "echo 'flaky-snmpd: simulated crash' >&2\nexit 1\n")
    wrapper.chmod(0o755)
    name = lab_name()
    with pytest.raises(LabError, match=r"^snmpd for cpe-\w+ \(10\.99\.\d+\.\d+\) exited at start: "
                                        r"flaky-snmpd: simulated crash$"):
        builder.up(write_scenario(tmp_path, SMALL), name, run_dir=tmp_path / "run", snmpd_path=str(wrapper))
    assert counter.read_text().count("x") >= 2
    first = (tmp_path / "run" / "snmpd" / "10.99.1.1" / "stdout.log")
    assert first.exists()
    assert_gone(name, [], before)
    leftover = subprocess.run(["pgrep", "-f", f"{tmp_path}/run/snmpd/"], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""


def test_down_after_a_lost_state_file_still_cleans_up(make_lab) -> None:
    before = RootSnapshot.take()
    state = make_lab()
    procs = all_procs(state)
    supervisor = next(p for p in procs if p.role == "supervisor")
    LabState.path_for(state.name).unlink()  # as if /run had been wiped or the file corrupted
    actions = builder.down(state.name)
    # The 8 snmpd, found through the namespaces (one may be off for a power cut at that moment).
    assert 7 <= sum("stopped leftover process" in a for a in actions) <= 8
    deadline = time.time() + 5
    while supervisor.alive() and time.time() < deadline:
        time.sleep(0.1)
    assert not supervisor.alive(), "the supervisor should exit once the agent namespace is gone"
    assert_gone(state.name, procs, before)


def test_shipped_scenario_builds_and_its_config_loads(make_lab) -> None:
    state = make_lab((REPO / "config" / "lab.yaml").read_text(encoding="utf-8"))
    assert state.phase == "up"
    config = load_config(state.config)
    devices = {d.name: d for d in config.devices if d.commune == "Sìn Hồ"}
    assert len(config.devices) == 14
    assert devices["cpe-nha-van-hoa"].parent == devices["ubnd-router"].id
    assert devices["cpe-nha-van-hoa"].host == "10.99.1.17"
    assert {d.operator for d in config.devices} == {"VNPT", "Viettel", "MobiFone"}
    son_binh = next(d for d in config.devices if d.village == "Sơn Bình")
    assert son_binh.parent is None  # attached to the agent, not behind the commune router
