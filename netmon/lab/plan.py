"""The lab's topology, derived from a scenario: namespaces, veth links, addresses and routes.

Pure data, no side effects, so the builder, the trouble supervisor and `down` all derive the
same plan from the same scenario. Address plan (all of it lives inside the lab's namespaces;
the root namespace never gets an address or a route to it):

    devices   10.99.C.0/24 per commune C (1-based): block 0 (.1-.14) is the commune office,
              .1 being the commune router; village V (1-based) owns 10.99.C.(16V)/28.
    transit   10.98.C.(4J)/30 per link: J=0 agent<->router, J=V router|agent<->village V,
              J=16 router<->office. The upstream end is .4J+1, the downstream end .4J+2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from netmon.i18n import _
from netmon.lab.scenario import LabDevice, Scenario

PREFIX = "nmlab-"
"""Every namespace the lab creates starts with this, so `down` finds leftovers after a crash."""
NAME_RE = re.compile(r"^[a-z0-9]{1,10}$")
OFFICE_J = 16


@dataclass(frozen=True, slots=True)
class DevicePlan:
    """One device: where it lives and what answers for it."""

    key: str
    """Its address; unique, and safe as a directory name."""
    commune: int
    village: int | None
    spec: LabDevice
    address: str
    ns: str

    @property
    def snmp(self) -> str:
        """v2c, v3 or none."""
        return self.spec.snmp_mode


@dataclass(frozen=True, slots=True)
class Link:
    """A veth pair: `up_*` is the upstream end (agent or router), `down_*` the downstream one."""

    key: str
    up_ns: str
    up_if: str
    up_addr: str
    down_ns: str
    down_if: str
    down_addr: str
    up_routes: tuple[str, ...]
    """Prefixes the upstream namespace reaches through this link."""
    down_routes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Site:
    """A namespace holding devices: a commune router, a commune office or a village."""

    ns: str
    commune: int
    village: int | None
    uplink: str
    """Key of the link that connects it upstream."""
    devices: tuple[DevicePlan, ...]


@dataclass(frozen=True, slots=True)
class LabPlan:
    """Everything `up` creates, in creation order."""

    name: str
    agent_ns: str
    namespaces: tuple[str, ...]
    routers: tuple[str, ...]
    """Namespaces that forward (one per commune)."""
    links: tuple[Link, ...]
    sites: tuple[Site, ...]

    @property
    def devices(self) -> tuple[DevicePlan, ...]:
        """Every device of the lab."""
        return tuple(d for s in self.sites for d in s.devices)

    def link(self, key: str) -> Link:
        """The link with this key."""
        return next(lk for lk in self.links if lk.key == key)

    def router_site(self, commune: int) -> Site:
        """The commune router's site."""
        return next(s for s in self.sites if s.commune == commune and s.ns == self.routers[commune])

    def village_site(self, commune: int, village: int) -> Site:
        """A village's site."""
        return next(s for s in self.sites if s.commune == commune and s.village == village)

    def office_sites(self, commune: int) -> tuple[Site, ...]:
        """The commune office (its PCs), if it has any besides the router."""
        return tuple(s for s in self.sites if s.commune == commune and s.village is None
                     and s.ns != self.routers[commune])


def ns_prefix(name: str) -> str:
    """The prefix of every namespace of lab `name`."""
    return f"{PREFIX}{name}-"


def _transit(c: int, j: int) -> tuple[str, str]:
    base = 4 * j
    return f"10.98.{c}.{base + 1}", f"10.98.{c}.{base + 2}"


def _link(key: str, up_ns: str, up_if: str, down_ns: str, c: int, j: int,
          up_routes: tuple[str, ...]) -> Link:
    up_addr, down_addr = _transit(c, j)
    # The downstream side only needs the way back to the agent's transit addresses.
    return Link(key, up_ns, up_if, up_addr, down_ns, "wan", down_addr, up_routes, ("10.98.0.0/16",))


def _device(c: int, ci: int, vi: int | None, host: int, spec: LabDevice, ns: str) -> DevicePlan:
    address = f"10.99.{c}.{host}"
    return DevicePlan(address, ci, vi, spec, address, ns)


def build_plan(scn: Scenario, name: str) -> LabPlan:
    """Derive the whole topology of lab `name` from a validated scenario."""
    if not NAME_RE.match(name):
        raise ValueError(_("lab name {name} must be 1-10 lower-case letters or digits").format(name=repr(name)))
    pre = ns_prefix(name)
    agent = f"{pre}agent"
    namespaces, routers, links, sites = [agent], [], [], []
    for ci, com in enumerate(scn.communes):
        c = ci + 1
        router_ns = f"{pre}c{c}"
        namespaces.append(router_ns)
        routers.append(router_ns)
        links.append(_link(f"c{c}", agent, f"c{c}", router_ns, c, 0, (f"10.99.{c}.0/24",)))
        router = next(d for d in com.devices if d.kind == "router")
        pcs = [d for d in com.devices if d.kind != "router"]
        sites.append(Site(router_ns, ci, None, f"c{c}",
                          (_device(c, ci, None, 1, router, router_ns),)))
        if pcs:
            office_ns = f"{pre}c{c}o"
            namespaces.append(office_ns)
            links.append(_link(f"c{c}o", router_ns, "office", office_ns, c, OFFICE_J, (f"10.99.{c}.0/28",)))
            devs = tuple(_device(c, ci, None, k + 2, d, office_ns) for k, d in enumerate(pcs))
            sites.append(Site(office_ns, ci, None, f"c{c}o", devs))
        for vi, vil in enumerate(com.villages):
            v = vi + 1
            vns = f"{pre}c{c}v{v}"
            namespaces.append(vns)
            # An agent-attached village's block is routed by the agent only (more specific than
            # the commune's /24), so it never depends on the commune router.
            up_ns, up_if = (agent, f"c{c}v{v}") if vil.attach == "agent" else (router_ns, f"v{v}")
            links.append(_link(f"c{c}v{v}", up_ns, up_if, vns, c, v, (f"10.99.{c}.{16 * v}/28",)))
            devs = tuple(_device(c, ci, vi, 16 * v + k + 1, d, vns) for k, d in enumerate(vil.devices))
            sites.append(Site(vns, ci, vi, f"c{c}v{v}", devs))
    return LabPlan(name, agent, tuple(namespaces), tuple(routers), tuple(links), tuple(sites))
