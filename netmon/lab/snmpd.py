"""One real net-snmp snmpd per lab device: its config, its start inside a namespace, readiness.

Each instance has its own config, SNMP_PERSISTENT_DIR and engine ID (v3 agents sharing an engine
ID would confuse the manager's time-window tracking), binds only its device's address inside
its namespace, and runs in the foreground so its PID is the one we record. A restart (power
cut) reuses the persistent dir, so sysUpTime resets while snmpEngineBoots counts up, as on a
real device.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from netmon.i18n import _
from netmon.lab.netns import LabError, in_ns
from netmon.lab.plan import DevicePlan
from netmon.lab.scenario import Scenario
from netmon.lab.state import Proc, proc_start, track

SNMP_PORT = 161
READY_TIMEOUT_S = 15.0

_DESCR = {
    "router": "Linux {name} 5.10.0 #1 SMP mips netmon-lab commune router",
    "cpe": "netmon-lab 4G CPE {name} (LTE Cat4, firmware 2.1.7)",
    "pc": "Linux {name} 6.1.0-13-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 x86_64",
    "bts": "netmon-lab BTS endpoint {name}",
}


def instance_dir(run_dir: Path, dev: DevicePlan) -> Path:
    """Folder of one device's snmpd: config, log and persistent state."""
    return run_dir / "snmpd" / dev.key


def write_config(run_dir: Path, lab: str, scn: Scenario, dev: DevicePlan, location: str) -> Path:
    """Write the snmpd.conf of one device and return its path."""
    folder = instance_dir(run_dir, dev)
    (folder / "persist").mkdir(parents=True, exist_ok=True)
    lines = [
        f"agentAddress udp:{dev.address}:{SNMP_PORT}",
        f"engineID nmlab-{lab}-{dev.key}",
        f"sysName {dev.spec.name}",
        f"sysLocation {location}",
        "sysContact netmon lab",
        f"sysDescr {dev.spec.sys_descr or _DESCR[dev.spec.kind].format(name=dev.spec.name)}",
        "dontLogTCPWrappersConnects yes",
    ]
    if dev.snmp == "v2c":
        # Only the agent's transit addresses (10.98.0.0/16) may ask.
        lines.append(f"rocommunity {scn.community} 10.98.0.0/16")
    elif dev.snmp == "v3":
        v3 = scn.snmp_v3
        lines += [f'createUser {v3.user} SHA "{v3.auth_key}" AES "{v3.priv_key}"', f"rouser {v3.user} priv"]
    path = folder / "snmpd.conf"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start(run_dir: Path, dev: DevicePlan, snmpd: str) -> Proc:
    """Start the device's snmpd inside its namespace (detached from our session)."""
    folder = instance_dir(run_dir, dev)
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(folder / "persist"), "MIBS": ""}
    # -M/-m: no MIB files, which otherwise flood the log with "Cannot find module" lines.
    argv = in_ns(dev.ns, snmpd, "-f", "-C", "-c", str(folder / "snmpd.conf"), "-Lf", str(folder / "snmpd.log"),
                 "-M", str(folder), "-m", "")
    with open(folder / "stdout.log", "ab") as out:
        child = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True, cwd=folder)
    return track(child.pid, "snmpd", dev.key)


def _udp_hex(address: str, port: int) -> str:
    (value,) = struct.unpack("=I", socket.inet_aton(address))
    return f"{value:08X}:{port:04X}"


def bound(proc: Proc, address: str, port: int = SNMP_PORT) -> bool:
    """True when `proc` (seen from its own namespace) has a UDP socket bound to address:port."""
    try:
        table = Path(f"/proc/{proc.pid}/net/udp").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    want = _udp_hex(address, port)
    return any(line.split()[1] == want for line in table.splitlines()[1:] if len(line.split()) > 1)


def _why(run_dir: Path, dev: DevicePlan) -> str:
    folder = instance_dir(run_dir, dev)
    text = ""
    for name in ("stdout.log", "snmpd.log"):
        try:
            text += (folder / name).read_text(errors="replace")
        except FileNotFoundError:
            continue
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return " | ".join(lines[-3:]) if lines else _("no output")


def wait_ready(run_dir: Path, started: Sequence[tuple[DevicePlan, Proc]], timeout_s: float = READY_TIMEOUT_S) -> None:
    """Wait until every snmpd listens; raise LabError naming the first that died or never bound."""
    pending = list(started)
    deadline = time.monotonic() + timeout_s
    while pending:
        for dev, proc in list(pending):
            if proc_start(proc.pid) != proc.start:
                raise LabError(_("snmpd for {device} ({address}) exited at start: {why}").format(
                    device=dev.spec.name, address=dev.address, why=_why(run_dir, dev)))
            if bound(proc, dev.address):
                pending.remove((dev, proc))
        if not pending:
            return
        if time.monotonic() > deadline:
            dev, _proc = pending[0]
            raise LabError(_("snmpd for {device} ({address}) did not listen within {seconds} s: {why}").format(
                device=dev.spec.name, address=dev.address, seconds=f"{timeout_s:.0f}", why=_why(run_dir, dev)))
        time.sleep(0.05)
