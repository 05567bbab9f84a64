"""Configs that must load: shipped profiles and configs, and a province spread over included files."""

from __future__ import annotations

import io
import ipaddress
import time
from pathlib import Path

import pytest
from rich.console import Console

from netmon.config import ConfigError, load_config
from netmon.config.resolve import slug
from netmon.config.shard import commune_id, rendezvous
from netmon.config.yamlload import YDict, load_yaml
from netmon.model import Secret
from netmon.ui.check import render_check

REPO = Path(__file__).resolve().parent.parent.parent
GOOD = REPO / "tests" / "testdata" / "good" / "province"
ENV = {"NETMON_SNMP_COMMUNITY": "s3cret-c0mmunity", "NETMON_INFLUX_TOKEN": "t0ken-value",
       "NETMON_SNMP_PRIV_KEY": "priv-k3y-value"}
FILE_KEY = "auth-k3y-from-file"


def _render(config, width: int = 200) -> str:
    console = Console(width=width, record=True, no_color=True, highlight=False, file=io.StringIO())
    render_check(config, console)
    return console.export_text()


@pytest.fixture(scope="module")
def province():
    """The good fixture province, loaded once."""
    return load_config(GOOD / "netmon.yaml", environ=ENV)


@pytest.mark.parametrize("profile", sorted(p.stem for p in (REPO / "probes").glob("*.yaml")))
def test_shipped_profile_loads(profile: str, tmp_path: Path) -> None:
    """Every probes/*.yaml validates and is found by name in the bundled folder."""
    (tmp_path / "netmon.yaml").write_text("version: 1\n")
    config = load_config(tmp_path / "netmon.yaml", environ={})
    assert profile in config.profiles
    assert config.profile_paths[profile] == REPO / "probes" / f"{profile}.yaml"
    assert config.profiles[profile].checks


def test_demo_config_loads_and_stays_on_loopback() -> None:
    """config/demo.yaml loads, and every target it would probe is a loopback address."""
    config = load_config(REPO / "config" / "demo.yaml", environ={})
    assert len(config.devices) >= 5
    for device in config.devices:
        assert device.host is not None and ipaddress.ip_address(device.host).is_loopback, device.id
    assert config.state_dir == REPO / "config" / ".demo-state"
    assert "lai-chau/sin-ho/lang-mo-nam-tam/cpe-truong-hoc" in config.device_by_id


def test_example_config_loads_with_its_env_and_key_files(tmp_path: Path) -> None:
    """netmon.example.yaml documents every option; with its variables set and key files present it loads."""
    text = (REPO / "config" / "netmon.example.yaml").read_text(encoding="utf-8")
    for name in ("auth.key", "priv.key"):
        (tmp_path / name).write_text(f"example-{name}-value\n")
        text = text.replace(f"/etc/netmon/{name}", str(tmp_path / name))
    (tmp_path / "netmon.yaml").write_text(text, encoding="utf-8")
    env = {"NETMON_INFLUX_TOKEN": "example-t0ken", "NETMON_SNMP_COMMUNITY": "example-c0mmunity"}
    config = load_config(tmp_path / "netmon.yaml", environ=env)
    assert config.settings.agent.name == "lai-chau-01"
    assert config.auths["office-v3"].auth.key.reveal() == "example-auth.key-value"
    assert config.settings.outputs.influxdb[0].token.source == "env NETMON_INFLUX_TOKEN"
    shown = _render(config) + repr(config) + repr(config.settings)
    for secret in ("example-t0ken", "example-c0mmunity", "example-auth.key-value", "example-priv.key-value"):
        assert secret not in shown


def test_names_round_trip_and_ids_are_derived(province) -> None:
    """Diacritics, spaces and commas survive in names; ids are ASCII slugs of the path."""
    by_id = province.device_by_id
    pc = by_id["lai-chau/sin-ho/may-tinh-mot-cua-1"]
    assert (pc.province, pc.commune, pc.village, pc.name) == ("Lai Châu", "Sìn Hồ", "", "Máy tính một cửa 1")
    bts = by_id["lai-chau/sin-ho/lang-mo-nam-tam/bts-lang-mo"]
    assert (bts.village, bts.name, bts.kind, bts.profile) == ("Làng Mô, Nậm Tăm", "bts Làng Mô", "ping", "ping")
    assert by_id["son-la/chieng-so-song-ma/ban-hua-na/bts-hua-na"].commune == "Chiềng Sơ, Sông Mã"
    assert by_id["dien-bien/muong-nhe/doan-ket/cpe-1"].village == "Đoàn Kết"
    assert slug("Điện Biên Đông") == "dien-bien-dong" and slug(" Tả Phìn, -- Phong Thổ ") == "ta-phin-phong-tho"
    assert [d.id.split("/")[0] for d in province.devices][::4] == ["dien-bien", "lai-chau", "lai-chau"]


def test_operator_and_location_inherit_downward(province) -> None:
    """Province -> commune -> village -> device, the nearest value wins."""
    by_id = province.device_by_id
    assert by_id["dien-bien/muong-nhe/doan-ket/cpe-1"].operator == "Viettel"  # from the province
    assert by_id["dien-bien/muong-nhe/nam-ke/cpe-1"].operator == "VNPT"  # the village's own
    assert by_id["lai-chau/sin-ho/cong-thu-dien-tu"].operator == "Viettel, IDC"  # the device's own
    assert by_id["son-la/chieng-so-song-ma/ban-hua-na/bts-hua-na"].operator == "VNPT"  # from the commune
    cpe = by_id["dien-bien/muong-nhe/doan-ket/cpe-1"]
    assert (cpe.lat, cpe.lon) == (22.18, 102.45)  # the commune's location
    bts = by_id["lai-chau/sin-ho/lang-mo-nam-tam/bts-lang-mo"]
    assert (bts.lat, bts.lon) == (22.32, 103.31)  # the device's own
    assert by_id["lai-chau/sin-ho/ubnd-router"].lat is None


def test_parents_resolve_by_name_scope_and_id(province) -> None:
    """Village first, then commune, then a full id; a disabled parent hands over to its own parent."""
    by_id = province.device_by_id
    assert by_id["lai-chau/sin-ho/lang-mo-nam-tam/bts-lang-mo"].parent == \
        "lai-chau/sin-ho/lang-mo-nam-tam/cpe-truong-hoc"
    assert by_id["dien-bien/muong-nhe/doan-ket/cpe-1"].parent == "dien-bien/muong-nhe/ubnd-router"
    assert by_id["dien-bien/muong-nhe/doan-ket/cpe-2"].parent == "dien-bien/muong-nhe/ubnd-router"
    assert "lai-chau/sin-ho/lang-mo-nam-tam/cpe-cu" not in by_id  # enabled: false
    assert by_id["lai-chau/sin-ho/lang-mo-nam-tam/camera-cho"].parent == "lai-chau/sin-ho/ubnd-router"
    assert all(d.parent is None or d.parent in by_id for d in province.all_devices)


def test_includes_profiles_and_paths(province) -> None:
    """Included files keep inventory order; a profile in the config's folder beats the bundled one."""
    assert [p.name for p in province.settings.inventory] == ["Điện Biên", "Lai Châu", "Sơn La"]
    assert province.profile_paths["ping"] == GOOD / "probes" / "ping.yaml"
    assert province.profiles["ping"].checks[0].interval == 30.0
    assert province.profile_paths["router"] == REPO / "probes" / "router.yaml"
    assert province.state_dir == GOOD / "state"
    router = province.device_by_id["dien-bien/muong-nhe/ubnd-router"]
    assert [c.name for c in province.checks_for(router)] == ["reachability", "system"]
    assert router.snmp_port == 1161


def test_secrets_are_hidden_everywhere(province) -> None:
    """Env and key_file values become Secrets that never print, not even in the check summary."""
    community = province.auths["office-v2"].community
    assert isinstance(community, Secret) and community.reveal() == ENV["NETMON_SNMP_COMMUNITY"]
    assert community.source == "env NETMON_SNMP_COMMUNITY"
    v3 = province.auths["office-v3"]
    assert isinstance(v3.auth.key, Secret) and v3.auth.key.reveal() == FILE_KEY
    assert v3.auth.key.source == f"file {GOOD / 'keys' / 'auth.key'}"
    assert v3.priv.key.source == "env NETMON_SNMP_PRIV_KEY"
    token = province.settings.outputs.influxdb[0].token
    assert token.reveal() == ENV["NETMON_INFLUX_TOKEN"]
    shown = "\n".join((repr(province), repr(province.settings), str(province.auths), _render(province)))
    for secret in (*ENV.values(), FILE_KEY):
        assert secret not in shown
    assert "http://127.0.0.1:8086/" in shown


def test_secrets_do_not_leak_into_errors(tmp_path: Path) -> None:
    """A config that fails still never prints a value that came from the environment."""
    (tmp_path / "netmon.yaml").write_text(
        "version: 1\nagent: {name: x, shard: {index: '${NETMON_SNMP_COMMUNITY}', count: 2}}\n"
        "auths:\n  a: {version: 2c, community: '${NETMON_SNMP_COMMUNITY}', comunity: x}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "netmon.yaml", environ=ENV)
    text = str(caught.value)
    assert "agent.shard.index: <from env NETMON_SNMP_COMMUNITY> is not a whole number" in text
    assert "unknown key 'comunity'; did you mean 'community'?" in text
    assert ENV["NETMON_SNMP_COMMUNITY"] not in text


def test_check_summary_lists_what_matters(province) -> None:
    """Agent, counts per commune and kind, checks with intervals, output URL, profiles used."""
    text = _render(province)
    for expected in ("dien-bien-01", "12 in 3 provinces, 3 communes, 4 villages", "Mường Nhé",
                     "Chiềng Sơ, Sông Mã", "cpe 4", "host-resources", "30s", "5m",
                     "output influxdb 'province': http://127.0.0.1:8086/ (api v2, bucket netmon)",
                     f"ping from {GOOD / 'probes'}"):
        assert expected in text, expected


def test_shards_split_the_devices(tmp_path: Path) -> None:
    """Two shards are disjoint, cover every device, and keep communes whole (rendezvous by commune)."""
    pieces = []
    for index in (0, 1):
        (tmp_path / f"s{index}.yaml").write_text(
            f"version: 1\nagent: {{shard: {{index: {index}, count: 2}}}}\nprofiles: [{GOOD / 'probes'}]\n"
            f"auths: {{office-v2: {{version: 2c, community: x}}, office-v3: {{version: 3, user: u}}}}\n"
            f"inventory: [{{include: {GOOD / 'inventory' / '*.yaml'}}}]\n")
        config = load_config(tmp_path / f"s{index}.yaml", environ={})
        assert all(rendezvous(["0", "1"], commune_id(d.id)) == str(index) for d in config.devices)
        pieces.append({d.id for d in config.devices})
    assert not pieces[0] & pieces[1]
    assert pieces[0] | pieces[1] == {d.id for d in config.all_devices}


def test_yaml_lines_and_env_escapes(tmp_path: Path) -> None:
    """Every key and item knows its line; `$${X}` is a literal `${X}`."""
    (tmp_path / "a.yaml").write_text("a:\n  b: 1\n  c:\n    - x\n    - ${V}\n  d: $${V} costs $$5\n")
    data = load_yaml(tmp_path / "a.yaml", str, {"V": "v"}, issues := [])
    assert issues == [] and isinstance(data, YDict)
    assert data["a"].key_lines == {"b": 2, "c": 3, "d": 6}
    assert data["a"]["c"].item_lines == [4, 5]
    assert data["a"]["c"][1] == "v" and data["a"]["c"][1].source == "env V"
    assert data["a"]["d"] == "${V} costs $5"


def _big_inventory(path: Path, villages: int, per_village: int) -> int:
    lines = ["version: 1", "auths: {v2: {version: 2c, community: public}}", "inventory:",
             "  - name: Tỉnh Lai Châu", "    communes:"]
    for c in range(villages // 50):
        lines += [f"      - name: Xã Sìn Hồ {c}", "        devices:",
                  f"          - {{name: ubnd-router, kind: router, host: 127.1.{c}.1, auth: v2}}",
                  "        villages:"]
        for v in range(50):
            lines += [f"          - name: Bản Tả Phìn {v}", "            devices:"]
            lines += [f"              - {{name: cpe-{d}, kind: cpe, host: 127.{c}.{v}.{d + 2}, auth: v2, "
                      "parent: ubnd-router}" for d in range(per_village)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return villages // 50 * (1 + 50 * per_village)


def test_big_inventory_loads_fast_and_summarises_short(tmp_path: Path) -> None:
    """20k devices load and validate well within the 2 s budget; 5,000 villages still print a short summary."""
    count = _big_inventory(tmp_path / "big.yaml", villages=5000, per_village=4)
    started = time.perf_counter()
    config = load_config(tmp_path / "big.yaml", environ={})
    elapsed_s = time.perf_counter() - started
    assert len(config.devices) == count == 20_100
    assert elapsed_s < 4.0, f"20k devices took {elapsed_s:.2f} s"  # 2 s budget, slack for a busy CI box
    text = _render(config)
    assert "5,000 villages" in text and "20,100" in text
    assert len(text.splitlines()) < 30
