"""Profile search order: the config's folders, then the system folder, then the bundled profiles."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from rich.console import Console

from netmon.cli import main
from netmon.config import load_config
from netmon.config.search import bundled_profiles, find_profiles, write_demo
from netmon.ui.profiles import render_profiles

REPO = Path(__file__).resolve().parent.parent.parent
CONFIG = """\
version: 1
agent: {{name: t, state_dir: state}}
auths: {{office: {{version: 2c, community: public}}}}
profiles: {profiles}
inventory:
  - name: P
    communes:
      - name: C
        devices:
          - {{name: r, kind: router, host: 127.0.0.1, auth: office}}
"""


def _router(interval: str) -> str:
    return f"kind: router\nchecks:\n  - {{name: reachability, prober: icmp, interval: {interval}}}\n"


def _setup(tmp_path: Path, own: bool) -> tuple[Path, Path]:
    system = tmp_path / "etc-probes"
    system.mkdir()
    (system / "router.yaml").write_text(_router("17s"))
    if own:
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / "router.yaml").write_text(_router("23s"))
    config = tmp_path / "netmon.yaml"
    config.write_text(CONFIG.format(profiles="[mine]" if own else "[]"))
    return config, system


def test_admin_override_in_system_folder_wins_over_bundled(tmp_path) -> None:
    """An administrator's router.yaml in the system folder replaces the shipped one."""
    config, system = _setup(tmp_path, own=False)
    loaded = load_config(config, environ={"NETMON_SYSTEM_PROFILES": str(system)})
    assert loaded.profile_paths["router"] == system / "router.yaml"
    assert loaded.profiles["router"].checks[0].interval == 17.0
    assert loaded.profile_paths["pc"] == bundled_profiles() / "pc.yaml"  # the rest still bundled
    # Without the system folder, the shipped router profile is used.
    plain = load_config(config, environ={"NETMON_SYSTEM_PROFILES": str(tmp_path / "absent")})
    assert plain.profile_paths["router"] == bundled_profiles() / "router.yaml"


def test_config_folder_wins_over_system_folder(tmp_path) -> None:
    """The config's own `profiles:` folders come first."""
    config, system = _setup(tmp_path, own=True)
    loaded = load_config(config, environ={"NETMON_SYSTEM_PROFILES": str(system)})
    assert loaded.profile_paths["router"] == tmp_path / "mine" / "router.yaml"
    assert loaded.profiles["router"].checks[0].interval == 23.0


def test_profiles_listing_names_every_file_and_the_one_used(tmp_path) -> None:
    """`netmon profiles` shows the search path and which router.yaml wins, the others marked unused."""
    config, system = _setup(tmp_path, own=True)
    env = {"NETMON_SYSTEM_PROFILES": str(system)}
    entries = [e for e in find_profiles([tmp_path / "mine"], env) if e.name == "router"]
    assert [(e.source, e.shadowed_by) for e in entries] == [
        ("config", None), ("system", tmp_path / "mine" / "router.yaml"),
        ("bundled", tmp_path / "mine" / "router.yaml")]
    out = io.StringIO()
    assert render_profiles(config, Console(file=out, width=60, no_color=True), env) == 0
    lines = [" ".join(line.split()) for line in out.getvalue().splitlines()]
    assert f"system {system}" in lines
    assert f"router config {tmp_path / 'mine' / 'router.yaml'}" in lines
    assert f"router bundled {bundled_profiles() / 'router.yaml'} (not used: overridden by " \
           f"{tmp_path / 'mine' / 'router.yaml'})" in lines
    shipped = sorted(p.stem for p in (REPO / "probes").glob("*.yaml"))
    assert {line.split()[0] for line in lines if " bundled " in line} == set(shipped)


def test_demo_config_is_written_runnable_and_edits_are_kept(tmp_path, capsys) -> None:
    """`netmon demo-config DIR` writes a demo that loads; a second run keeps the user's edits."""
    assert main(["demo-config", str(tmp_path / "demo")]) == 0
    config = Path(capsys.readouterr().out.strip())
    assert config == tmp_path / "demo" / "demo.yaml"
    loaded = load_config(config, environ={})
    assert loaded.state_dir == tmp_path / "demo" / ".demo-state"
    assert loaded.profile_paths["demo-ping"] == tmp_path / "demo" / "demo-probes" / "demo-ping.yaml"
    config.write_text(config.read_text() + "# my edit\n")
    assert write_demo(tmp_path / "demo") == (config, False)
    assert config.read_text().endswith("# my edit\n")
    shutil.rmtree(tmp_path / "demo" / "demo-probes")
    config.unlink()
    assert write_demo(tmp_path / "demo") == (config, True)
    assert (tmp_path / "demo" / "demo-probes" / "demo-ping.yaml").is_file()
