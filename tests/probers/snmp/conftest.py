"""Real SNMP agents on loopback for the snmp tests: net-snmp `snmpd` and `snmpsim`.

Each fixture starts its agent on a free loopback UDP port with its own config and data dirs,
waits until it answers, and stops it by PID in teardown. Without a component the tests skip,
except under CI=true, where they fail (CI must have everything).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from snmp_helpers import (
    COMMUNITY,
    DATA,
    V3_AUTH,
    V3_PRIV,
    V3_USER,
    Agent,
    free_udp_port,
    start_snmpsim,
    stop,
    wait_snmp,
)

from tests.fixtures.need import need


@pytest.fixture(scope="session")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """net-snmp snmpd with a v2c community and a v3 SHA/AES user."""
    need(shutil.which("snmpd") is not None and shutil.which("snmpget") is not None,
         "net-snmp (snmpd, snmpget; Debian packages snmpd snmp)")
    work = tmp_path_factory.mktemp("snmpd")
    port = free_udp_port()
    conf = work / "snmpd.conf"
    conf.write_text(
        f"agentAddress udp:127.0.0.1:{port}\n"
        f"rocommunity {COMMUNITY} 127.0.0.1\n"
        "sysLocation netmon-test\nsysContact test@localhost\nsysName netmon-snmpd\n"
        f'createUser {V3_USER} SHA "{V3_AUTH}" AES "{V3_PRIV}"\n'
        f"rouser {V3_USER} priv\n"
        f'createUser {V3_USER}256 SHA-256 "{V3_AUTH}" AES "{V3_PRIV}"\n'
        f"rouser {V3_USER}256 priv\n"
        f'createUser {V3_USER}nopriv SHA "{V3_AUTH}"\n'
        f"rouser {V3_USER}nopriv auth\n")
    (work / "persist").mkdir()
    log = work / "snmpd.log"
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(work / "persist"), "MIBS": ""}
    proc = subprocess.Popen(["snmpd", "-f", "-Lf", str(log), "-C", "-c", str(conf)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_snmp(port, COMMUNITY, proc, log)
        yield Agent(port, proc.pid, work)
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def snmpsim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """snmpsim serving tests/testdata/snmp/*.snmprec plus 200 copies `dev000`..`dev199`."""
    try:
        import pysmi  # noqa: F401  # the responder imports it
        import snmpsim as _snmpsim  # noqa: F401
    except ImportError as exc:
        need(False, f"snmpsim/pysmi ({exc})")
    need(shutil.which("snmpget") is not None, "net-snmp tools (snmpget)")
    # snmpsim runs as nobody, who cannot enter pytest's private (0700) temp tree
    work = Path(tempfile.mkdtemp(prefix="netmon-snmpsim-"))
    os.chmod(work, 0o755)
    port = free_udp_port()
    copies = {f"dev{i:03d}": DATA / ("router-wrap-a.snmprec" if i % 2 else "pc-healthy.snmprec")
              for i in range(200)}
    proc = start_snmpsim(work, sorted(DATA.glob("*.snmprec")), [f"127.0.0.1:{port}"], copies)
    try:
        wait_snmp(port, "pc-old", proc, work / "snmpsim.log", limit_s=60.0)
        yield Agent(port, proc.pid, work)
    finally:
        stop(proc)
        shutil.rmtree(work, ignore_errors=True)
