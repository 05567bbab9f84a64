"""Helpers for the lab tests: requirements, unique lab names, proofs that nothing was left behind.

The namespace tests need root on Linux with iproute2, nftables, net-snmp (snmpd, snmpget) and
fping. Without them the tests skip, except under CI=true, where they fail. Every lab here has a
unique name (`t<pid><n>`), so it cannot touch a lab someone else is running on the machine.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from netmon.lab import netns
from netmon.lab.plan import ns_prefix
from netmon.lab.state import LabState, Proc, read_json
from tests.fixtures.need import need

REPO = Path(__file__).resolve().parents[2]
_counter = itertools.count()


def need_lab() -> None:
    """Root, Linux and the tools the lab and these tests use."""
    need(sys.platform.startswith("linux"), "Linux (network namespaces)")
    need(os.geteuid() == 0, "root (the lab creates network namespaces)")
    for tool, pkg in (("ip", "iproute2"), ("nft", "nftables"), ("snmpd", "snmpd"), ("snmpget", "snmp"),
                      ("fping", "fping")):
        need(shutil.which(tool) is not None, f"{tool} (Debian package {pkg})")


def lab_name() -> str:
    """A lab name no other test run uses at the same time."""
    return f"t{os.getpid() % 100000}{next(_counter)}"


@dataclass
class RootSnapshot:
    """What the root namespace looks like, to prove a lab left nothing there."""

    links: frozenset[str]
    tables: frozenset[str]

    @staticmethod
    def take() -> RootSnapshot:
        """Interface names and nft tables of the root namespace now."""
        links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
        tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout
        return RootSnapshot(frozenset(ln.split(":")[1].strip().split("@")[0] for ln in links.splitlines()),
                            frozenset(tables.splitlines()))


def all_procs(state: LabState) -> list[Proc]:
    """Every process the lab recorded, including snmpd the supervisor restarted."""
    procs = list(state.procs)
    extra = read_json(Path(state.run_dir) / "supervisor.json")
    if isinstance(extra, dict):
        procs += [Proc(**p) for p in extra.get("snmpd", [])]
    return procs


def assert_gone(name: str, procs: list[Proc], before: RootSnapshot) -> None:
    """No namespace, process, root interface, root nft table or state file of lab `name` is left."""
    assert netns.namespaces(ns_prefix(name)) == []
    alive = [p for p in procs if p.alive()]
    assert alive == []
    after = RootSnapshot.take()
    # Other suites may add their own root links meanwhile; only names the lab uses count here.
    lab_like = re.compile(r"^(nmlab.*|wan|office|c\d+(v\d+)?|v\d+)$")
    assert {n for n in after.links - before.links if lab_like.match(n)} == set()
    assert {t for t in after.tables - before.tables if "nmlab" in t} == set()
    assert not LabState.path_for(name).exists()


def write_scenario(folder: Path, body: str) -> Path:
    """Write a scenario file and return its path."""
    path = folder / "scenario.yaml"
    path.write_text(body, encoding="utf-8")
    return path


SMALL = """\
lab: 1
province: Test
lifetime: 90s
netmon: {icmp_interval: 1s}   # so that 3 s troubles count as outages in the ground truth
communes:
  - name: Sìn Hồ
    devices: [{name: router, kind: router}]
    villages:
      - name: Lossy
        devices: [{name: cpe-lossy, kind: cpe}]
      - name: Flaky
        devices: [{name: cpe-flaky, kind: cpe}]
      - name: Powerless
        devices: [{name: cpe-power, kind: cpe, snmp: v3}]
  - name: Tam Đường
    devices: [{name: router, kind: router}, {name: pc, kind: pc}]
    villages:
      - name: Behind
        devices: [{name: cpe-behind, kind: cpe}, {name: bts-behind, kind: bts}]
      - name: Direct
        attach: agent
        devices: [{name: cpe-direct, kind: cpe}]
trouble:
  - {kind: loss, village: Lossy, loss_pct: 30, protocols: [icmp]}
  - {kind: outage, village: Flaky, at: 2s, every: 9s, duration: 3s}
  - {kind: power, village: Powerless, at: 3s, every: 11s, duration: 3s}
  - {kind: upstream, commune: Tam Đường, at: 4s, every: 10s, duration: 3s}
"""
