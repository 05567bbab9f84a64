"""Scenario files, the plan and schedule derived from them, and the generated config (no root needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from netmon.config.errors import ConfigError
from netmon.config.schema import AgentConfig
from netmon.lab import configgen
from netmon.lab.plan import build_plan
from netmon.lab.scenario import load_scenario
from netmon.lab.trouble import desired, nft_ruleset

REPO = Path(__file__).resolve().parents[2]
INVALID = Path(__file__).parent / "testdata" / "invalid"


@pytest.mark.parametrize("name", ["lab.yaml", "lab-large.yaml"])
def test_shipped_scenarios_validate_and_generate_a_valid_config(name: str, tmp_path: Path) -> None:
    scn = load_scenario(REPO / "config" / name)
    plan = build_plan(scn, "x")
    data = configgen.netmon_config(plan, scn, tmp_path)
    config = AgentConfig.model_validate(yaml.safe_load(configgen.dump_yaml(data)))
    hosts = [d.host for p in config.inventory for c in p.communes for d in c.devices] + \
        [d.host for p in config.inventory for c in p.communes for v in c.villages for d in v.devices]
    assert len(hosts) == len(set(hosts)) == len(plan.devices)
    assert all(h.startswith("10.99.") for h in hosts)
    assert config.profiles == [str(tmp_path / "probes")]
    configgen.write_profiles(tmp_path / "probes", scn)
    assert sorted(p.stem for p in (tmp_path / "probes").glob("*.yaml")) == [
        "bts", "bts-ping", "cpe", "cpe-ping", "pc", "pc-ping", "router", "router-ping"]


def test_plan_of_the_default_scenario() -> None:
    plan = build_plan(load_scenario(REPO / "config" / "lab.yaml"), "lab")
    assert plan.agent_ns == "nmlab-lab-agent"
    assert all(ns.startswith("nmlab-lab-") for ns in plan.namespaces)
    assert len(plan.namespaces) == len(set(plan.namespaces)) == 11
    son_binh = plan.link("c2v3")  # attach: agent
    assert (son_binh.up_ns, son_binh.up_routes) == ("nmlab-lab-agent", ("10.99.2.48/28",))
    ta_phin = plan.link("c1v1")
    assert (ta_phin.up_ns, ta_phin.up_addr, ta_phin.down_addr) == ("nmlab-lab-c1", "10.98.1.5", "10.98.1.6")
    # No namespace ever gets a default route: every route names a lab prefix.
    assert all(r.startswith(("10.98.", "10.99.")) for lk in plan.links for r in lk.up_routes + lk.down_routes)


def test_schedule_follows_the_scenario() -> None:
    scn = load_scenario(REPO / "config" / "lab.yaml")
    plan = build_plan(scn, "lab")
    at = {t: desired(plan, scn, t) for t in (0, 61, 95, 185, 205, 650)}
    assert at[0].links_down == frozenset()
    assert at[61].links_down == {"c1v2"}  # Phìn Hồ, periodic outage
    assert at[95].links_down == {"c2v1"} and at[95].snmpd_off == {"10.99.2.17"}  # Bản Giang power cut
    assert at[185].links_down == {"c1v2"} and at[185].snmpd_off == frozenset()  # Phìn Hồ again (180-210)
    assert at[205].links_down == {"c2", "c1v2"}  # Tam Đường uplink + Phìn Hồ (180-210)
    assert at[0].loss["nmlab-lab-c1v1"][("10.99.1.17", "icmp")] == 20.0
    assert "nmlab-lab-c1v1" not in at[650].loss  # Tả Phìn recovers after 10 minutes
    assert at[650].loss["nmlab-lab-c2v3"][("10.99.2.49", "snmp")] == 2.0


def test_nft_ruleset_drops_by_numgen() -> None:
    text = nft_ruleset({("10.99.1.17", "icmp"): 20.0, ("10.99.1.17", "snmp"): 2.5})
    assert "ip daddr 10.99.1.17 meta l4proto icmp numgen random mod 10000 < 2000 drop" in text
    assert "ip daddr 10.99.1.17 udp dport 161 numgen random mod 10000 < 250 drop" in text
    assert text.startswith("table inet nmlab\nflush table inet nmlab\n")


def test_ground_truth_of_the_default_scenario(tmp_path: Path) -> None:
    scn = load_scenario(REPO / "config" / "lab.yaml")
    truth = configgen.ground_truth(build_plan(scn, "lab"), scn, 1000.0, 3600.0, tmp_path / "netmon.yaml")
    got = {v["village"]: (v["flagged"], v["causes"]) for v in truth["villages"]}
    assert got == {"Tả Phìn": (True, ["link"]), "Phìn Hồ": (True, ["link"]), "Nậm Tăm": (False, []),
                   "Bản Giang": (True, ["power", "upstream"]), "Hồ Thầu": (True, ["upstream"]),
                   "Sơn Bình": (False, [])}
    phin_ho = next(v for v in truth["villages"] if v["village"] == "Phìn Hồ")["troubles"][0]["windows"]
    assert phin_ho[:2] == [{"start_s": 60.0, "end_s": 90.0, "start": 1060.0, "end": 1090.0},
                           {"start_s": 180.0, "end_s": 210.0, "start": 1180.0, "end": 1210.0}]
    son_binh = next(v for v in truth["villages"] if v["village"] == "Sơn Bình")["troubles"]
    assert [t["severity"] for t in son_binh] == ["degraded"]


INVALID_CASES = [
    ("ambiguous-village", "12: trouble[0].village: village 'Bản Mới' exists in several communes (Sìn Hồ, Tam "
     "Đường); add commune:"),
    ("bad-attach", "6: communes[0].villages[0].attach: 'satellite' is not allowed here; use one of: router, agent"),
    ("bad-duration", "8: trouble[0].at: 'soon' is not a duration; write e.g. 500ms, 60s, 5m, 1h, 1d"),
    ("bad-kind", "6: communes[0].devices[1].kind: 'camera' is not allowed here; use one of: router, cpe, bts, pc"),
    ("cpe-in-office", "6: communes[0].devices[1].kind: a commune office holds a router and pcs; put the cpe "
     "'cpe' in a village"),
    ("device-named-like-router", "6: communes[0].villages[0].devices[0].name: 'ubnd-router' is the commune "
     "router's name; a village device needs its own name so that parent: finds the router"),
    ("every-without-duration", "8: trouble[0]: every: needs a duration: shorter than the period (e.g. every: "
     "120s, duration: 30s)"),
    ("loss-too-high", "8: trouble[0].loss_pct: 120 is too large; use 100.0 or less"),
    ("loss-without-pct", "8: trouble[0]: a loss trouble needs loss_pct: (percent of packets dropped, e.g. 20)"),
    ("no-communes", "1: required key 'communes' is missing; add communes: ..."),
    ("no-router", "4: communes[0].devices: needs exactly one device of kind router (the commune office router), "
     "found 0"),
    ("not-yaml", "5: YAML syntax error: did not find expected ',' or ']' while parsing a flow sequence; check "
     "the indentation and quote values that contain ': ', '#', '{' or '['"),
    ("two-routers", "4: communes[0].devices: needs exactly one device of kind router (the commune office "
     "router), found 2"),
    ("unknown-key", "7: communes[0].villages[0]: unknown key 'operater'; did you mean 'operator'?"),
    ("unknown-village", "8: trouble[0].village: no village named 'Ta Phin'; did you mean 'Tả Phìn'?"),
    ("upstream-on-village", "8: trouble[0]: an upstream trouble takes commune: only (its router's uplink goes "
     "down)"),
    ("wrong-version", "1: lab: 2 is not allowed here; use one of: 1"),
]


@pytest.mark.parametrize(("fixture", "expected"), INVALID_CASES, ids=[c[0] for c in INVALID_CASES])
def test_bad_scenarios_get_clear_errors(fixture: str, expected: str) -> None:
    path = INVALID / f"{fixture}.yaml"
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    assert str(caught.value) == f"{os.path.relpath(path)}:{expected}"


def test_every_invalid_fixture_is_in_the_table() -> None:
    assert sorted(p.stem for p in INVALID.glob("*.yaml")) == sorted(c[0] for c in INVALID_CASES)


def test_lab_config_refuses_to_run_outside_the_lab(tmp_path):
    """Pasting the printed command without `ip netns exec` must not probe lab addresses from the host."""
    import subprocess
    import sys

    cfg = tmp_path / "netmon.yaml"
    cfg.write_text("version: 1\nagent: {name: nmlab-zz9, state_dir: state}\ninventory:\n  - name: P\n"
                   "    communes:\n      - name: C\n        devices: [{name: r, kind: bts, host: 10.99.1.1}]\n")
    for args in (["run", "--once", "-c", str(cfg)], ["probe", "-c", str(cfg), "r"]):
        result = subprocess.run([sys.executable, "-m", "netmon", *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 1, result.stderr
        assert "ip netns exec nmlab-zz9-agent" in result.stderr
    assert not (tmp_path / "state").exists()  # refused before anything was opened or sent
