"""Shards keep communes whole: rendezvous by commune, explicit `agent:`, parents never split."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from netmon.analysis.catalog import catalog_from_config
from netmon.analysis.db import ensure_schema
from netmon.analysis.evaluator import Evaluator
from netmon.analysis.status_view import Inventory
from netmon.config import ConfigError, load_config
from netmon.config.schema import AgentSettings
from netmon.config.shard import assign, commune_id
from netmon.config.yamlload import YList
from netmon.model import Device
from netmon.store import Store
from netmon.ui.check import render_check

ROOT = Path(__file__).resolve().parents[2]
PROBES = ROOT / "config" / "demo-probes"


def province(communes: int, agents: list[str], me: str, extra: str = "", commune_extra: dict | None = None,
             parent_of: dict | None = None) -> str:
    """A config text: `communes` communes of two villages each; each village CPE's parent is its commune router."""
    lines = [f"version: 1\nagent: {{name: {me}, shard: {{agents: [{', '.join(agents)}]}}}}",
             f"profiles: [{PROBES}]\n{extra}inventory:\n  - name: Lai Châu\n    communes:"]
    for c in range(communes):
        lines.append(f"      - name: Xã {c}")
        for k, v in (commune_extra or {}).get(c, {}).items():
            lines.append(f"        {k}: {v}")
        lines.append(f"        devices:\n          - {{name: router, kind: router, profile: demo-ping, "
                     f"host: 127.0.{c}.1}}\n        villages:")
        for v in range(2):
            parent = (parent_of or {}).get((c, v), "router")
            lines.append(f"          - name: Thôn {v}\n            devices:\n              - {{name: cpe, kind: cpe, "
                         f"profile: demo-ping, host: 127.0.{c}.{10 + v}, parent: {parent}}}")
    return "\n".join(lines) + "\n"


def load(tmp_path: Path, text: str, name: str = "netmon.yaml"):
    (tmp_path / name).write_text(text)
    return load_config(tmp_path / name, environ={})


def devices_of(communes: list[str], links: dict[str, str] | None = None) -> list[Device]:
    """Router + CPE per commune; `links` makes a commune's CPE lean on another commune's router."""
    out = []
    for c in communes:
        router = f"p/{c}/router"
        out.append(Device(router, "router", "router", "router", "P", c, ""))
        parent = f"p/{(links or {}).get(c, c)}/router"
        out.append(Device(f"p/{c}/v/cpe", "cpe", "cpe", "cpe", "P", c, "v", parent=parent))
    return out


def placement(communes: list[str], agents: list[str], links: dict[str, str] | None = None) -> dict[str, str]:
    agent = AgentSettings.model_validate({"name": agents[0], "shard": {"agents": agents}})
    issues: list = []
    result = assign(devices_of(communes, links), agent, YList("x.yaml", 1), issues)
    assert not issues
    return {c.removeprefix("p/"): a for c, a in result.commune_agent.items()}


names = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(communes=st.lists(names, min_size=1, max_size=40, unique=True), new=names,
       agents=st.lists(names, min_size=1, max_size=8, unique=True))
def test_adding_a_commune_moves_no_other(communes: list[str], new: str, agents: list[str]) -> None:
    """Property: every commune keeps its agent when another commune joins the inventory."""
    before = placement(communes, agents)
    after = placement([*communes, new] if new not in communes else communes, agents)
    assert {c: after[c] for c in communes} == before


@settings(max_examples=100, deadline=None)
@given(communes=st.lists(names, min_size=1, max_size=40, unique=True),
       agents=st.lists(names, min_size=1, max_size=8, unique=True), newcomer=names)
def test_adding_an_agent_moves_only_to_it(communes: list[str], agents: list[str], newcomer: str) -> None:
    """Property: a new agent takes some communes; no commune moves between the old agents."""
    if newcomer in agents:
        return
    before, after = placement(communes, agents), placement(communes, [*agents, newcomer])
    assert all(after[c] in (before[c], newcomer) for c in communes)


@settings(max_examples=100, deadline=None)
@given(communes=st.lists(names, min_size=2, max_size=30, unique=True),
       agents=st.lists(names, min_size=2, max_size=6, unique=True), data=st.data())
def test_a_commune_goes_where_its_parents_are(communes: list[str], agents: list[str], data: st.DataObject) -> None:
    """Property: communes whose devices name parents in another commune share its agent."""
    links = {c: data.draw(st.sampled_from(communes)) for c in communes[1:] if data.draw(st.booleans())}
    placed = placement(communes, agents, links)
    assert all(placed[c] == placed[p] for c, p in links.items())
    # A leaf that leans on a group does not move the group.
    leaf = "zz-new-leaf" if "zz-new-leaf" not in communes else "zz-new-leaf2"
    grown = placement([*communes, leaf], agents, {**links, leaf: communes[0]})
    assert {c: grown[c] for c in communes} == placed and grown[leaf] == placed[communes[0]]


def test_spread_is_even_enough() -> None:
    """300 communes over 3 agents: rendezvous gives each roughly a third (never all to one)."""
    placed = placement([f"xa-{i}" for i in range(300)], ["a", "b", "c"])
    counts = sorted(list(placed.values()).count(a) for a in "abc")
    assert counts[0] >= 70, counts


def test_two_agents_split_by_commune_and_evaluate_only_their_own(tmp_path: Path) -> None:
    """Two configs of one province: disjoint whole communes; analysis, status view and emitted results agree."""
    agents = ["dong", "tay"]
    configs = [load(tmp_path, province(8, agents, me), f"{me}.yaml") for me in agents]
    all_villages = {d.id.rsplit("/", 1)[0] for d in configs[0].all_devices if d.village}
    seen: list[set[str]] = []
    for config in configs:
        communes = {commune_id(d.id) for d in config.devices}
        assert communes == set(config.assignment.communes_of(config.assignment.me))
        # A commune is whole: each of its devices is here, router included.
        assert {d.id for d in config.all_devices if commune_id(d.id) in communes} == {d.id for d in config.devices}
        catalog = catalog_from_config(config)
        assert all(d.parent in catalog.devices for d in config.devices if d.parent)
        villages = set(catalog.villages)
        assert villages == {v.id for v in Inventory.from_config(config).villages}
        store = Store.open(tmp_path / f"{config.assignment.me}.db")
        try:
            ensure_schema(store)
            results, _ = Evaluator(store, catalog, config.settings).evaluate()
        finally:
            store.close()
        assert {r.device_id for r in results} == villages  # nothing emitted for the other agent's villages
        seen.append(villages)
    assert seen[0] and seen[1] and not seen[0] & seen[1] and seen[0] | seen[1] == all_villages


def test_explicit_agent_on_province_and_commune(tmp_path: Path) -> None:
    """`agent:` on the province places all its communes; a commune's own `agent:` wins."""
    text = province(4, ["dong", "tay"], "tay", commune_extra={2: {"agent": "dong"}})
    text = text.replace("  - name: Lai Châu\n", "  - name: Lai Châu\n    agent: tay\n")
    config = load(tmp_path, text)
    assert config.assignment.communes_of("dong") == ["lai-chau/xa-2"]
    assert config.assignment.communes_of("tay") == ["lai-chau/xa-0", "lai-chau/xa-1", "lai-chau/xa-3"]
    assert {commune_id(d.id) for d in config.devices} == {"lai-chau/xa-0", "lai-chau/xa-1", "lai-chau/xa-3"}


def test_a_commune_follows_a_placed_parent(tmp_path: Path) -> None:
    """A commune whose CPE names another commune's router goes with that commune's explicit agent."""
    for target in ("dong", "tay"):
        text = province(3, ["dong", "tay"], "dong", commune_extra={0: {"agent": target}},
                        parent_of={(1, 0): "lai-chau/xa-0/router"})
        config = load(tmp_path, text)
        assert config.assignment.commune_agent["lai-chau/xa-1"] == target
        assert config.assignment.how["lai-chau/xa-1"] == "parent"


@pytest.mark.parametrize(("extra", "commune_extra", "parent_of", "expected"), [
    ("", {0: {"agent": "dong"}, 1: {"agent": "tay"}}, {(1, 1): "lai-chau/xa-0/router"},
     "netmon.yaml:28: inventory[0].communes[1].villages[1].devices[0].parent: parent 'lai-chau/xa-0/router' is "
     "in commune 'lai-chau/xa-0' on agent 'dong', but this device's commune 'lai-chau/xa-1' is on agent 'tay'; "
     "a commune and the parents its devices name must be on one agent: write agent: dong on commune 'Xã 1' (or "
     "remove the agent: of one of them), or name a parent in 'Xã 1'"),
    ("", {1: {"agent": "tay-"}}, {},
     "netmon.yaml:18: inventory[0].communes[1].agent: 'tay-' is not one of the agents (dong, tay); "
     "did you mean 'tay'?"),
])
def test_refusals(tmp_path: Path, extra: str, commune_extra: dict, parent_of: dict, expected: str) -> None:
    """A parent on another agent, or an unknown agent, is refused with the fix."""
    with pytest.raises(ConfigError) as err:
        load(tmp_path, province(2, ["dong", "tay"], "dong", extra, commune_extra, parent_of))
    assert str(err.value).replace(f"{tmp_path}/", "") == expected


def test_name_must_be_listed(tmp_path: Path) -> None:
    """An agent whose own name is not in shard.agents would probe nothing: refused."""
    with pytest.raises(ConfigError, match=r"name 'bac' is not in shard\.agents"):
        load(tmp_path, province(1, ["dong", "tay"], "bac"))


def test_check_shows_the_assignment(tmp_path: Path) -> None:
    """`netmon check` prints communes and villages per agent and marks this one."""
    config = load(tmp_path, province(6, ["dong", "tay", "nam"], "tay", commune_extra={0: {"agent": "nam"}}))
    out = io.StringIO()
    render_check(config, Console(file=out, width=120, color_system=None))
    text = out.getvalue()
    assert "communes per agent" in text
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.split()[:1] in (["dong"], ["tay"],
                                                                                                ["nam"])}
    assert sum(int(r[1]) for r in rows.values()) == 6
    assert sum(int(r[2]) for r in rows.values()) == 12
    assert "explicit" in " ".join(rows["nam"]) and "(this agent)" in " ".join(rows["tay"])
    mine = len(config.assignment.communes_of("tay"))
    assert int(rows["tay"][1]) == mine
    assert f"(agent tay of 3: {mine * 3:,} of 18)" in text


def test_a_commune_between_two_placed_communes_is_refused(tmp_path: Path) -> None:
    """A commune (no agent:) whose CPEs name routers in communes placed on two agents cannot be placed."""
    text = province(3, ["dong", "tay"], "dong", commune_extra={0: {"agent": "dong"}, 1: {"agent": "tay"}},
                    parent_of={(2, 0): "lai-chau/xa-0/router", (2, 1): "lai-chau/xa-1/router"})
    with pytest.raises(ConfigError) as err:
        load(tmp_path, text)
    text = str(err.value).replace(f"{tmp_path}/", "")
    assert "parent 'lai-chau/xa-0/router' is in commune 'lai-chau/xa-0' on agent 'dong', but this device's " \
        "commune 'lai-chau/xa-2' is linked by parents to communes on agents dong, tay" in text
    assert "write agent: tay on commune 'Xã 2'" in text
    assert len(err.value.issues) == 2
