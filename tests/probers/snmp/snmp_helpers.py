"""Shared pieces of the snmp tests: agents on loopback, devices, contexts, net-snmp CLI."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pyasn1.codec.ber import encoder
from pysnmp.proto import api

from netmon.config.schema import Profile, SchedulerSettings, SnmpAuth, SnmpCheck
from netmon.model import Device
from netmon.probers.base import ProberContext

DATA = Path(__file__).resolve().parents[2] / "testdata" / "snmp"
COMMUNITY = "netmon-test"
V3_USER, V3_AUTH, V3_PRIV = "netmonv3", "auth-key-1234", "priv-key-5678"

# snmpsim drops root for nobody; stdlib modules it imports lazily afterwards live under /root
# (mode 700) with pyenv, so import them while still root.
_SNMPSIM_WRAPPER = """\
import sys, dbm, dbm.dumb, encodings.latin_1, encodings.utf_8, encodings.ascii, encodings.idna
try:
    import dbm.gnu
except ImportError:
    pass
from snmpsim.commands.responder import main
sys.exit(main())
"""


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 nobody holds right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_snmp(port: int, community: str, proc: subprocess.Popen, log: Path, limit_s: float = 20.0) -> None:
    """Poll with `snmpget` until the agent answers, bounded in time."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
            raise RuntimeError(f"agent exited ({proc.returncode}): {text}")
        done = subprocess.run(["snmpget", "-v2c", "-c", community, "-t", "0.3", "-r", "0", "-On",
                               f"127.0.0.1:{port}", "1.3.6.1.2.1.1.3.0"],
                              capture_output=True, text=True, check=False)
        if done.returncode == 0 and "Timeticks" in done.stdout:
            return
        time.sleep(0.2)
    raise RuntimeError(f"agent on 127.0.0.1:{port} did not answer in {limit_s} s")


def stop(proc: subprocess.Popen) -> None:
    """Stop a process this fixture started, by PID."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@dataclass(frozen=True)
class Agent:
    """A running agent: where it listens and what it needs."""

    port: int
    pid: int
    workdir: Path




def start_snmpsim(work: Path, data_files: list[Path], endpoints: list[str], copies: dict[str, Path]
                  ) -> subprocess.Popen:
    """Start snmpsim as nobody over copies of the data (symlinks would be de-duplicated)."""
    data, cache = work / "data", work / "cache"
    data.mkdir(exist_ok=True)
    cache.mkdir(exist_ok=True)
    for f in data_files:
        shutil.copyfile(f, data / f.name)
    for name, src in copies.items():
        shutil.copyfile(src, data / f"{name}.snmprec")
    for p in (work, data, cache, *data.iterdir()):
        os.chmod(p, 0o777 if p.is_dir() else 0o644)
    wrapper = work / "responder.py"
    wrapper.write_text(_SNMPSIM_WRAPPER)
    args = [sys.executable, str(wrapper), f"--data-dir={data}", f"--cache-dir={cache}",
            "--process-user=nobody", "--process-group=nogroup",
            "--logging-method=stderr", "--log-level=error"]
    args += [f"--agent-udpv4-endpoint={e}" for e in endpoints]
    with open(work / "snmpsim.log", "ab") as err:
        return subprocess.Popen(args, stdout=err, stderr=err, cwd=work)


PROBES = Path(__file__).resolve().parents[3] / "probes"


def profile(kind: str) -> Profile:
    """Load a shipped profile from probes/."""
    return Profile.model_validate(yaml.safe_load((PROBES / f"{kind}.yaml").read_text()))


def snmp_check(kind: str, **changes: Any) -> SnmpCheck:
    """The profile's snmp check, with overrides (timeout, retries, get...)."""
    check = next(c for c in profile(kind).checks if c.prober == "snmp")
    return check.model_copy(update=changes)


def device(name: str, port: int, auth: str, host: str = "127.0.0.1", kind: str = "pc") -> Device:
    """A device in a fixed commune, polled on `port`."""
    return Device(id=f"test/xa/{name}", name=name, kind=kind, profile=kind, province="test",
                  commune="xa", village="", host=host, snmp_port=port, auth=auth)


def context(auths: dict[str, dict[str, Any]], concurrency: int = 32) -> ProberContext:
    """A prober context with the given `auths:` entries."""
    built = {name: SnmpAuth.model_validate(spec) for name, spec in auths.items()}
    return ProberContext(auths=built, scheduler=SchedulerSettings(snmp_concurrency=concurrency))


def netsnmp(tool: str, port: int, community: str, *oids: str) -> dict[str, str]:
    """Run snmpget/snmpbulkwalk with numeric output; return {oid: value text}."""
    done = subprocess.run([tool, "-v2c", "-c", community, "-On", "-Oq", "-Ot", "-Oe", "-t", "2",
                           f"127.0.0.1:{port}", *oids], capture_output=True, text=True, check=True,
                          timeout=30)
    out = {}
    for line in done.stdout.splitlines():
        oid, _, value = line.partition(" ")
        out[oid.lstrip(".")] = value.strip().strip('"')
    return out


def by_tag(samples: Any, measurement: str, tag: str) -> dict[str, Any]:
    """{tag value: sample} for one measurement."""
    return {s.tags[tag]: s for s in samples if s.measurement == measurement}


def scalars(result: Any) -> dict[str, Any]:
    """The fields of the result's `snmp` sample."""
    return dict(next(s for s in result.samples if s.measurement == "snmp").fields)


V2_API = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
V1_API = api.PROTOCOL_MODULES[api.SNMP_VERSION_1]


def pysnmp_response(varbinds: list[tuple[tuple[int, ...], object]], community: str = "public",
                    request_id: int = 1234, version: object = None, error_status: int = 0,
                    error_index: int = 0) -> bytes:
    """A Response message encoded by pyasn1, the reference the codec must agree with."""
    version = version or V2_API
    msg = version.Message()
    version.apiMessage.set_defaults(msg)
    version.apiMessage.set_community(msg, community)
    pdu = version.GetResponsePDU()
    version.apiPDU.set_defaults(pdu)
    version.apiPDU.set_request_id(pdu, request_id)
    version.apiPDU.set_error_status(pdu, error_status)
    version.apiPDU.set_error_index(pdu, error_index)
    version.apiPDU.set_varbinds(pdu, varbinds)
    version.apiMessage.set_pdu(msg, pdu)
    return encoder.encode(msg)
