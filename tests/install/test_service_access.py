"""Running as a service: key files as systemd credentials, readers without secrets or write access.

The read-only state folder is made real with a read-only bind mount in a private mount namespace
(`unshare -m`, root): SQLite then cannot create the WAL index, exactly as for a technician in the
netmon group reading /var/lib/netmon (mode 0750) while the daemon is stopped.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netmon.config import ConfigError, load_config
from tests.fixtures.need import missing, need

REPO = Path(__file__).resolve().parent.parent.parent
UNIT = REPO / "deploy" / "netmon.service"
CONFIG = """\
version: 1
agent: {name: t, state_dir: state}
auths:
  office: {version: 2c, community: "${NETMON_SNMP_COMMUNITY}"}
  office-v3:
    version: 3
    user: monitor
    auth: {protocol: sha256, key_file: office-auth.key}
inventory:
  - name: P
    communes:
      - name: C
        devices:
          - {name: r, kind: router, host: 127.0.0.1, auth: office}
          - {name: pc, kind: pc, host: 127.0.0.2, auth: office-v3}
"""


def test_relative_key_file_is_read_from_the_credentials_folder_first(tmp_path) -> None:
    """Under systemd ($CREDENTIALS_DIRECTORY), a relative key_file: names a credential."""
    (tmp_path / "netmon.yaml").write_text(CONFIG)
    (tmp_path / "office-auth.key").write_text("key-next-to-config\n")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "office-auth.key").write_text("key-from-credential\n")
    env = {"NETMON_SNMP_COMMUNITY": "c0mm"}
    key = load_config(tmp_path / "netmon.yaml", environ={**env, "CREDENTIALS_DIRECTORY": str(creds)}) \
        .auths["office-v3"].auth.key
    assert key.reveal() == "key-from-credential"
    # Outside systemd (e.g. root running `netmon check`), the path is relative to the config.
    key = load_config(tmp_path / "netmon.yaml", environ=env).auths["office-v3"].auth.key
    assert key.reveal() == "key-next-to-config"


def test_readers_load_the_config_without_the_services_secrets(tmp_path) -> None:
    """status/report load a config whose ${ENV} secrets and key files they cannot see; run cannot."""
    (tmp_path / "netmon.yaml").write_text(CONFIG)
    with pytest.raises(ConfigError, match="environment variable NETMON_SNMP_COMMUNITY is not set"):
        load_config(tmp_path / "netmon.yaml", environ={})
    with pytest.raises(ConfigError, match=r"cannot read key file .*office-auth\.key"):
        load_config(tmp_path / "netmon.yaml", environ={"NETMON_SNMP_COMMUNITY": "c0mm"})
    system = tmp_path / "system"
    system.mkdir()
    shutil.copy(REPO / "probes" / "router.yaml", system / "router.yaml")
    reader = load_config(tmp_path / "netmon.yaml", environ={"NETMON_SYSTEM_PROFILES": str(system)}, secrets=False)
    assert [d.name for d in reader.devices] == ["r", "pc"]
    assert reader.profile_paths["router"] == system / "router.yaml"  # netmon's own variables still count
    assert reader.auths["office"].community.reveal() != ""


def _demo_round(tmp_path: Path) -> Path:
    shutil.copy(REPO / "config" / "demo.yaml", tmp_path / "demo.yaml")
    shutil.copytree(REPO / "config" / "demo-probes", tmp_path / "demo-probes")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-m", "netmon", "run", "--once", "-c", str(tmp_path / "demo.yaml")],
                         capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    state = tmp_path / ".demo-state"
    assert (state / "netmon.db").is_file() and not (state / "netmon.db-shm").exists()
    return tmp_path / "demo.yaml"


def test_status_and_report_read_a_state_folder_they_cannot_write(tmp_path) -> None:
    """With the daemon stopped and the state folder read-only, status and report still answer."""
    if os.geteuid() != 0:
        missing("needs root for a private mount namespace (unshare -m)")
    need(shutil.which("unshare"), "unshare (util-linux)")
    config = _demo_round(tmp_path)
    state = tmp_path / ".demo-state"
    netmon = f"PYTHONPATH={shlex.quote(str(REPO))} {shlex.quote(sys.executable)} -m netmon"
    script = (f"mount --bind {state} {state} && mount -o remount,bind,ro {state} && "
              f"! touch {state}/probe 2>/dev/null && "
              f"{netmon} status --once --format json -c {config} > {tmp_path}/status.json && "
              f"{netmon} report villages --format json -c {config} > {tmp_path}/report.json")
    result = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    status = json.loads((tmp_path / "status.json").read_text())
    assert "Tả Phìn" in json.dumps(status, ensure_ascii=False)
    json.loads((tmp_path / "report.json").read_text())
    assert not (state / "netmon.db-shm").exists()


def test_unit_file_verifies_and_lets_the_netmon_group_read_the_state(tmp_path) -> None:
    """`systemd-analyze verify` has nothing to say; the settings technicians rely on are there."""
    need(shutil.which("systemd-analyze"), "systemd-analyze (Debian package systemd)")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "netmon").write_text("#!/bin/sh\n")
    (tmp_path / "bin" / "netmon").chmod(0o755)
    result = subprocess.run(["bash", str(REPO / "scripts" / "verify-unit.sh"), str(UNIT)],
                            env={**os.environ, "VENV": str(tmp_path)}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    settings = [line.strip() for line in UNIT.read_text().splitlines() if "=" in line and not line.startswith("#")]
    for needed in ("User=netmon", "Group=netmon", "StateDirectory=netmon", "StateDirectoryMode=0750",
                   "UMask=0027", "ExecReload=/bin/kill -HUP $MAINPID"):
        assert needed in settings, needed
    assert not any(s.startswith("DynamicUser=") for s in settings)
    sysusers = (REPO / "deploy" / "sysusers.d" / "netmon.conf").read_text().splitlines()
    assert any(line.split()[:2] == ["u", "netmon"] for line in sysusers)
