"""The trouble supervisor: applies the scenario's schedule (loss, outages, power cuts) over time.

The schedule is declarative: `desired(plan, scenario, t)` says which links are down, which
snmpd are off and which nft loss rules apply at `t` seconds after the start; the supervisor
compares that with what it last applied and changes only the difference, logging each change
once. It runs as its own process (`python -m netmon.lab.trouble NAME`) with a bounded lifetime,
and exits early when the lab's agent namespace disappears (`down` after a lost state file).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from netmon.lab import netns, snmpd
from netmon.lab.netns import LabError, LinkState
from netmon.lab.plan import LabPlan, Link, build_plan
from netmon.lab.scenario import Scenario, Trouble, load_scenario, resolve_target
from netmon.lab.state import LabState, Proc, stop, write_json

log = logging.getLogger("netmon.lab.trouble")

TICK_S = 0.2
NFT_TABLE = "nmlab"

LossKey = tuple[str, str]
"""(device address, protocol: icmp | snmp)"""


@dataclass(frozen=True)
class Desired:
    """The lab's trouble state at one instant."""

    links_down: frozenset[str] = frozenset()
    snmpd_off: frozenset[str] = frozenset()
    loss: dict[str, dict[LossKey, float]] = field(default_factory=dict)
    """Per namespace: drop percentage per (address, protocol)."""


@dataclass
class _Building:
    links_down: set[str] = field(default_factory=set)
    snmpd_off: set[str] = field(default_factory=set)
    loss: dict[str, dict[LossKey, float]] = field(default_factory=dict)


def _effects(plan: LabPlan, scn: Scenario, t: Trouble, want: _Building) -> None:
    target = resolve_target(scn, t)
    if isinstance(target, str):  # pragma: no cover - load_scenario already rejected it
        raise LabError(target)
    ci, vi, device = target
    if vi is None:
        want.links_down.add(f"c{ci + 1}")
        if t.kind == "power":
            sites = (plan.router_site(ci), *plan.office_sites(ci))
            want.snmpd_off.update(d.key for s in sites for d in s.devices)
        return
    site = plan.village_site(ci, vi)
    if t.kind == "loss":
        rules = want.loss.setdefault(site.ns, {})
        for dev in site.devices:
            if device in (None, dev.spec.name):
                for proto in t.protocols:
                    key = (dev.address, proto)
                    rules[key] = max(rules.get(key, 0.0), float(t.loss_pct or 0.0))
        return
    want.links_down.add(site.uplink)
    if t.kind == "power":
        want.snmpd_off.update(d.key for d in site.devices)


def desired(plan: LabPlan, scn: Scenario, t_s: float) -> Desired:
    """What the lab should look like `t_s` seconds after the supervisor started."""
    want = _Building()
    for trouble in scn.trouble:
        if trouble.active(t_s):
            _effects(plan, scn, trouble, want)
    return Desired(frozenset(want.links_down), frozenset(want.snmpd_off), want.loss)


def nft_ruleset(rules: dict[LossKey, float]) -> str:
    """An nft ruleset that drops the given share of ICMP / SNMP packets to each address."""
    lines = [f"table inet {NFT_TABLE}", f"flush table inet {NFT_TABLE}", f"table inet {NFT_TABLE} {{",
             "  chain input {", "    type filter hook input priority 0; policy accept;"]
    for (address, proto), pct in sorted(rules.items()):
        match = "meta l4proto icmp" if proto == "icmp" else f"udp dport {snmpd.SNMP_PORT}"
        # Per 10,000 so that fractional percentages (2.5 %) are honoured.
        lines.append(f"    ip daddr {address} {match} numgen random mod 10000 < {round(pct * 100)} drop")
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def link_up(link: Link) -> None:
    """Bring a link's downstream end up and restore the routes the kernel flushed when it went down."""
    netns.set_link(link.down_ns, link.down_if, LinkState.UP)
    netns.ip_batch(link.up_ns, [f"route replace {p} via {link.down_addr} dev {link.up_if}" for p in link.up_routes])
    netns.ip_batch(link.down_ns, [f"route replace {p} via {link.up_addr} dev {link.down_if}"
                                  for p in link.down_routes])


class Supervisor:
    """Applies `desired()` every tick; owns the snmpd processes it restarts."""

    def __init__(self, state: LabState, scn: Scenario, plan: LabPlan) -> None:
        self.state, self.scn, self.plan = state, scn, plan
        self.run_dir = Path(state.run_dir)
        self.current = Desired()
        self.snmpds: dict[str, Proc] = {p.key: p for p in state.procs if p.role == "snmpd"}
        self.devices = {d.key: d for d in plan.devices}
        self.labels = self._labels()
        self.ns_labels = {s.ns: f"village {scn.communes[s.commune].villages[s.village].name}"
                          for s in plan.sites if s.village is not None}
        self.stopping = False

    def _labels(self) -> dict[str, str]:
        out = {}
        for site in self.plan.sites:
            com = self.scn.communes[site.commune]
            if site.village is not None:
                out[site.uplink] = f"village {com.name} / {com.villages[site.village].name}: link"
            elif site.uplink == f"c{site.commune + 1}":
                out[site.uplink] = f"commune {com.name}: router uplink"
        return out

    def _save(self) -> None:
        """Record the snmpd processes running now (some restarted by us), for `down`."""
        write_json(self.run_dir / "supervisor.json",
                   {"pid": os.getpid(),
                    "snmpd": [vars(p) for p in self.snmpds.values()]})

    def apply(self, want: Desired, t_s: float) -> None:
        """Change only what differs between the current and the wanted state."""
        cur = self.current
        for key in sorted(want.snmpd_off - cur.snmpd_off):
            proc = self.snmpds.pop(key, None)
            if proc is not None:
                stop(proc)
            log.info("t=%+.1fs %s (%s): snmpd stopped (power cut)", t_s, self.devices[key].spec.name, key)
        for key in sorted(want.links_down - cur.links_down):
            link = self.plan.link(key)
            netns.set_link(link.down_ns, link.down_if, LinkState.DOWN)
            log.warning("t=%+.1fs %s down", t_s, self.labels.get(key, key))
        for key in sorted(cur.links_down - want.links_down):
            link_up(self.plan.link(key))
            log.info("t=%+.1fs %s up again", t_s, self.labels.get(key, key))
        for key in sorted(cur.snmpd_off - want.snmpd_off):
            if not netns.exists(self.plan.agent_ns):
                raise LabError("the lab is being taken down; not restarting snmpd")
            self.snmpds[key] = snmpd.start(self.run_dir, self.devices[key], self.state.snmpd)
            log.info("t=%+.1fs %s (%s): snmpd restarted (power back; sysUpTime resets)", t_s,
                     self.devices[key].spec.name, key)
        for ns in sorted(set(want.loss) | set(cur.loss)):
            rules = want.loss.get(ns, {})
            if rules != cur.loss.get(ns, {}):
                netns.nft(ns, nft_ruleset(rules))
                shown = ", ".join(f"{a} {p} {pct:g}%" for (a, p), pct in sorted(rules.items())) or "none"
                log.info("t=%+.1fs %s (%s): loss now %s", t_s, self.ns_labels.get(ns, ns), ns, shown)
        if want.snmpd_off != cur.snmpd_off:
            self._save()
        self.current = want

    def run(self) -> int:
        """Follow the schedule until the lifetime ends, SIGTERM arrives or the lab disappears."""
        deadline = self.state.t0 + self.state.lifetime_s
        while not self.stopping and time.time() < deadline:
            if not netns.exists(self.plan.agent_ns):
                log.info("agent namespace %s is gone; the lab was taken down, exiting", self.plan.agent_ns)
                return 0
            t_s = time.time() - self.state.t0
            try:
                self.apply(desired(self.plan, self.scn, t_s), t_s)
            except LabError as exc:
                log.error("t=%+.1fs could not apply the schedule: %s", t_s, exc)
            time.sleep(TICK_S)
        if not self.stopping and netns.exists(self.plan.agent_ns):
            self.apply(Desired(), time.time() - self.state.t0)
            log.info("lifetime of %.0f s is over; trouble cleared, the lab stays up until `netmon lab down`",
                     self.state.lifetime_s)
        return 0


def main(argv: list[str]) -> int:
    """Entry point of the supervisor process: `python -m netmon.lab.trouble NAME`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout)
    state = LabState.load(argv[0]) if argv else None
    if state is None:
        log.error("no lab state for %r; nothing to supervise", argv[0] if argv else "")
        return 2
    scn = load_scenario(Path(state.run_dir) / "scenario.yaml")
    sup = Supervisor(state, scn, build_plan(scn, state.name))

    def _term(signum: int, frame: object) -> None:
        sup.stopping = True

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    log.info("supervising lab %s: %d trouble entries, lifetime %.0f s", state.name, len(scn.trouble),
             state.lifetime_s)
    return sup.run()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
