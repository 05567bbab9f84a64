"""Which agent probes which commune: whole communes, with the parents they name, on one agent.

A province runs several agents (one per district, or per group of communes on thin links). The
unit of placement is the commune: a commune's village CPEs and its office router must be judged
by the same agent, or a router outage on one agent becomes a "link" flag on the other (an unknown
parent excuses nothing). Communes whose devices name parents in each other's commune form one
group and move together.

Placement, in order:
1. `agent:` on a commune, else on its province, names the agent explicitly;
2. a group with one explicitly placed commune follows it;
3. otherwise rendezvous (highest random weight) hashing of the group's anchor commune over the
   agents listed in `agent.shard.agents` (or `0 .. count-1` with the `index/count` form).

Rendezvous hashing depends only on (agent, commune): adding a commune moves no other commune,
and adding an agent moves only the communes that the new agent wins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from netmon.config.errors import ConfigIssue
from netmon.config.explain import did_you_mean
from netmon.config.schema import AgentSettings
from netmon.config.slugs import slug
from netmon.config.yamlload import YDict, YList
from netmon.i18n import _
from netmon.model import Device


def commune_id(device_id: str) -> str:
    """`province/commune` of a device id (ids are slugs joined by '/', so no part has a '/')."""
    return "/".join(device_id.split("/", 2)[:2])


def rendezvous_weight(agent: str, commune: str) -> int:
    """A stable pseudo-random weight of (agent, commune): the same on every machine and Python."""
    digest = hashlib.blake2b(f"{agent}\x00{commune}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def rendezvous(agents: Sequence[str], commune: str) -> str:
    """The agent with the highest weight for `commune` (ties, never seen in practice, by name)."""
    return max(agents, key=lambda a: (rendezvous_weight(a, commune), a))


@dataclass(frozen=True)
class Assignment:
    """The placement of every commune on the agents of a province (or of the nation)."""

    agents: tuple[str, ...]
    """Every agent that shares the inventory, in configured order."""
    me: str
    """This agent, as named in `agents`."""
    commune_agent: Mapping[str, str]
    """Commune id -> agent, for every commune with an enabled device."""
    how: Mapping[str, str]
    """Commune id -> `explicit`, `parent` (follows a commune it names parents in) or `hashed`."""

    def communes_of(self, agent: str) -> list[str]:
        """The communes placed on `agent`, in inventory order."""
        return [c for c, a in self.commune_agent.items() if a == agent]

    def mine(self, devices: Iterable[Device]) -> list[Device]:
        """The devices of the communes placed on this agent."""
        return [d for d in devices if self.commune_agent.get(commune_id(d.id)) == self.me]


def _members(agent: AgentSettings) -> tuple[tuple[str, ...], str]:
    shard = agent.shard
    if shard is None:
        return (agent.name,), agent.name
    if shard.agents:
        return tuple(shard.agents), agent.name
    return tuple(str(i) for i in range(shard.count or 1)), str(shard.index or 0)


@dataclass
class _Written:
    """An `agent:` written in the inventory, and where."""

    agent: str
    file: str
    line: int
    path: str


def _explicit(raw_inventory: YList, issues: list[ConfigIssue], members: Sequence[str],
              shard_configured: bool) -> tuple[dict[str, _Written], dict[str, tuple[str, int, str]]]:
    """`agent:` per commune id (commune's own, else its province's), and where each device was written."""
    placed: dict[str, _Written] = {}
    where: dict[str, tuple[str, int, str]] = {}

    def written(raw: YDict, path: str) -> _Written | None:
        value = raw.get("agent")
        if value is None or isinstance(value, bool):
            return None
        text, line = str(value), raw.key_lines.get("agent", raw.line)
        if text not in members:
            close = did_you_mean(text, members)
            fix = (_("did you mean '{match}'?").format(match=close) if close else _(
                "list it in agent.shard.agents, or write one of {agents}").format(agents=", ".join(members))) \
                if shard_configured else \
                _("add agent.shard.agents: [...] listing every agent of the province, this one included")
            issues.append(ConfigIssue(raw.file, line, f"{path}.agent", _(
                "'{agent}' is not one of the agents ({agents}); {fix}").format(
                    agent=text, agents=", ".join(members), fix=fix)))
            return None
        return _Written(text, raw.file, line, f"{path}.agent")

    def devices(raw: object, prefix: str, path: str) -> None:
        for k, dev in enumerate(raw if isinstance(raw, YList) else ()):
            if isinstance(dev, YDict) and isinstance(dev.get("name"), str):
                where[f"{prefix}/{slug(dev['name'])}"] = (dev.file, dev.key_lines.get("parent", dev.line),
                                                          f"{path}.devices[{k}].parent")

    for i, prov in enumerate(raw_inventory):
        if not isinstance(prov, YDict) or not isinstance(prov.get("name"), str):
            continue
        ppath = f"inventory[{i}]"
        pagent = written(prov, ppath)
        communes = prov.get("communes")
        for j, com in enumerate(communes if isinstance(communes, YList) else ()):
            if not isinstance(com, YDict) or not isinstance(com.get("name"), str):
                continue
            cpath, cid = f"{ppath}.communes[{j}]", f"{slug(prov['name'])}/{slug(com['name'])}"
            cagent = written(com, cpath) or pagent
            if cagent is not None:
                placed[cid] = cagent
            devices(com.get("devices"), cid, cpath)
            villages = com.get("villages")
            for v, vil in enumerate(villages if isinstance(villages, YList) else ()):
                if isinstance(vil, YDict) and isinstance(vil.get("name"), str):
                    devices(vil.get("devices"), f"{cid}/{slug(vil['name'])}", f"{cpath}.villages[{v}]")
    return placed, where


def _groups(devices: Sequence[Device]) -> tuple[dict[str, str], set[str]]:
    """Union-find of communes linked by parents: commune -> group root; and the communes that name an outside parent."""
    up: dict[str, str] = {}

    def find(c: str) -> str:
        up.setdefault(c, c)
        while up[c] != c:
            up[c] = up[up[c]]
            c = up[c]
        return c

    leaning: set[str] = set()
    for d in devices:
        mine = commune_id(d.id)
        find(mine)
        if d.parent and commune_id(d.parent) != mine:
            leaning.add(mine)
            a, b = find(mine), find(commune_id(d.parent))
            if a != b:
                up[max(a, b)] = min(a, b)
    return {c: find(c) for c in up}, leaning


def assign(devices: Sequence[Device], agent: AgentSettings, raw_inventory: YList,
           issues: list[ConfigIssue]) -> Assignment:
    """Place every commune of `devices` on one agent; conflicts between explicit agents go to `issues`."""
    members, me = _members(agent)  # the schema checked that `me` is among them
    placed, where = _explicit(raw_inventory, issues, members, agent.shard is not None)
    group_of, leaning = _groups(devices)
    groups: dict[str, list[str]] = {}
    for c, g in group_of.items():
        groups.setdefault(g, []).append(c)
    by_id = {d.id: d for d in devices}
    out: dict[str, str] = {}
    how: dict[str, str] = {}
    for communes in groups.values():
        chosen = {placed[c].agent for c in communes if c in placed}
        if len(chosen) == 1:
            target, reason = chosen.pop(), "parent"
        elif chosen:
            target, reason = "", "explicit"  # conflict, reported below per parent
        else:
            # The anchor is a commune that leans on no other: adding a commune that names parents
            # in the group never changes it, so the group never moves for it.
            anchors = sorted(c for c in communes if c not in leaning) or sorted(communes)
            target, reason = rendezvous(members, anchors[0]), "hashed"
        for c in communes:
            out[c] = placed[c].agent if c in placed else target
            how[c] = "explicit" if c in placed else reason
    reported: set[tuple[str, str]] = set()
    for d in devices:
        if not d.parent or d.parent not in by_id:
            continue
        mine, theirs = commune_id(d.id), commune_id(d.parent)
        if mine == theirs or out.get(mine) == out.get(theirs) or (mine, theirs) in reported:
            continue
        reported.add((mine, theirs))  # one message per pair of communes, at its first device
        linked = _("linked by parents to communes on agents {agents}").format(agents=", ".join(
            sorted({placed[c].agent for c in groups[group_of[mine]] if c in placed})))
        on = {c: _("on agent '{agent}'").format(agent=out[c]) if out[c] else linked for c in (mine, theirs)}
        fix = _("write agent: {agent} on commune '{commune}' (or remove the agent: of one of them)").format(
            agent=out[theirs], commune=d.commune) if out[theirs] else \
            _("write the same agent: on '{mine}', '{theirs}' and the communes linked to them").format(
                mine=mine, theirs=theirs)
        file, line, path = where.get(d.id, (raw_inventory.file, 0, d.id))
        issues.append(ConfigIssue(file, line, path, _(
            "parent '{parent}' is in commune '{theirs}' {their_agent}, but this device's commune '{mine}' is "
            "{my_agent}; a commune and the parents its devices name must be on one agent: {fix}, or name a "
            "parent in '{commune}'").format(parent=d.parent, theirs=theirs, their_agent=on[theirs], mine=mine,
                                            my_agent=on[mine], fix=fix, commune=d.commune)))
    return Assignment(members, me, MappingProxyType(out), MappingProxyType(how))
