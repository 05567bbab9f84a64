"""`unreachable` for real: both probers run inside a network namespace made here whose loopback is down,
so the kernel answers ENETUNREACH and no packet is sent anywhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.netns

REPO = Path(__file__).resolve().parents[3]

SCRIPT = """
import asyncio, json
from netmon.config.schema import HttpCheck, TcpCheck
from netmon.model import Device
from netmon.probers.base import ProberContext
from netmon.probers.http import HttpProber
from netmon.probers.tcp import TcpProber

dev = Device(id="p/c/x", name="x", kind="service", profile="service", province="P", commune="C",
             village="", host="127.0.0.1", url="http://127.0.0.1:8080/", port=8080)

async def main():
    out = {}
    for prober, check in ((TcpProber(ProberContext()), TcpCheck(name="tcp", prober="tcp", timeout=2)),
                          (HttpProber(ProberContext()), HttpCheck(name="http", prober="http", timeout=2))):
        r = await prober.probe(dev, check)
        await prober.close()
        out[prober.name] = [r.status.value, r.reason, dict(r.samples[0].fields), dict(r.samples[0].tags)]
    print(json.dumps(out))

asyncio.run(main())
"""


@pytest.fixture
def dark_netns(need: Callable[[str], None]) -> Iterator[str]:
    """A namespace with only a loopback interface, left down."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        need("needs root and iproute2 to create a network namespace")
    name = f"nm-svc-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True, timeout=10)


def test_no_route_is_unreachable(dark_netns: str) -> None:
    proc = subprocess.run(["ip", "netns", "exec", dark_netns, sys.executable, "-c", SCRIPT],
                          capture_output=True, text=True, timeout=30, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    status, reason, fields, tags = out["tcp"]
    assert status == "unreachable" and "Network is unreachable" in reason
    assert fields == {"result_code": 2} and tags["result"] == "connection_failed"
    status, reason, fields, tags = out["http"]
    assert status == "unreachable" and "Network is unreachable" in reason
    assert fields == {"result_code": 3} and tags["result"] == "connection_failed"
