"""The `dns` probe kind against a real dnsmasq on loopback (no upstream: it answers only for .test).

Only the test's own dnsmasq on 127.0.0.1 is ever queried.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from netmon.config.schema import Profile
from netmon.kinds.dns import DnsCheck, DnsProber, build_query, parse_reply
from netmon.model import Device, Status
from netmon.probers import ProberContext, build_prober
from netmon.scheduler import deadline_for

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
pytestmark = pytest.mark.skipif(not Path(DNSMASQ).exists(), reason="dnsmasq-base is not installed "
                                "(scripts/test.sh installs it)")
PROFILE = Path(__file__).resolve().parents[2] / "probes" / "dns.yaml"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        s.sendto(build_query(7, "example.test", 1), ("127.0.0.1", port))
        try:
            return parse_reply(s.recv(512), 7) is not None
        except OSError:
            return False


@pytest.fixture(scope="module")
def resolver() -> Iterator[int]:
    """A dnsmasq on 127.0.0.1:PORT: example.test -> 127.0.0.9, the rest of .test does not exist."""
    port = _free_udp_port()
    proc = subprocess.Popen(
        [DNSMASQ, "--no-resolv", "--no-hosts", "--address=/example.test/127.0.0.9", "--local=/test/",
         f"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces", "--keep-in-foreground",
         "--conf-file=/dev/null", "--pid-file"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not _answers(port):
            if proc.poll() is not None:
                pytest.fail(f"dnsmasq exited: {proc.stdout.read().decode() if proc.stdout else ''}")
            if time.monotonic() > deadline:
                pytest.fail("dnsmasq did not answer within 10 s")
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


DEVICE = Device(id="lai-chau/phong-tho/resolver", name="resolver", kind="dns", profile="dns",
                province="Lai Châu", commune="Phong Thổ", village="", host="127.0.0.1")


def _check(port: int, **extra: Any) -> DnsCheck:
    return DnsCheck.model_validate({"name": "dns", "prober": "dns", "domain": "example.test",
                                    "port": port, "timeout": "1s", **extra})


def _probe(check: DnsCheck) -> Any:
    async def run() -> Any:
        prober = build_prober("dns", ProberContext())  # through the registry, as the scheduler does
        try:
            return await prober.probe(DEVICE, check)
        finally:
            await prober.close()
    return asyncio.run(run())


def test_answer_and_telegraf_fields(resolver: int) -> None:
    result = _probe(_check(resolver, expect="127.0.0.9"))
    assert result.status is Status.OK, result.reason
    assert result.prober == "dns" and "127.0.0.9" in result.reason
    (sample,) = result.samples
    assert sample.measurement == "dns_query"
    assert sample.tags == {"server": "127.0.0.1", "domain": "example.test", "record_type": "A",
                           "result": "success", "rcode": "NOERROR"}
    assert isinstance(sample.fields["query_time_ms"], float) and 0 < sample.fields["query_time_ms"] < 1000
    assert sample.fields["result_code"] == 0 and sample.fields["rcode_value"] == 0


def test_wrong_answer_is_a_mismatch(resolver: int) -> None:
    result = _probe(_check(resolver, expect="10.0.0.5"))
    assert result.status is Status.MISMATCH
    assert "expected 10.0.0.5, got 127.0.0.9" in result.reason


def test_nonexistent_name_is_nxdomain(resolver: int) -> None:
    result = _probe(_check(resolver, domain="nothing.test"))
    assert result.status is Status.MISMATCH and "NXDOMAIN" in result.reason
    (sample,) = result.samples
    assert sample.fields["rcode_value"] == 3 and sample.tags["rcode"] == "NXDOMAIN"
    assert sample.tags["result"] == "success"  # Telegraf: the resolver answered; the rcode says what


def test_dead_resolver_port_is_refused(resolver: int) -> None:
    # Nothing listens there: loopback answers with ICMP port unreachable at once.
    result = _probe(_check(_free_udp_port()))
    assert result.status is Status.REFUSED
    (sample,) = result.samples
    assert sample.fields == {"result_code": 2} and sample.tags["result"] == "error"


def test_silent_resolver_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        t0 = time.monotonic()
        result = _probe(_check(silent.getsockname()[1], timeout="300ms"))
        elapsed = time.monotonic() - t0
        assert silent.recv(512)  # the query did arrive
    assert result.status is Status.TIMEOUT and 0.25 < elapsed < 5
    (sample,) = result.samples
    assert sample.fields == {"result_code": 1} and sample.tags["result"] == "timeout"
    assert "query_time_ms" not in sample.fields


def test_bundled_profile_and_registry_derivations() -> None:
    profile = Profile.model_validate(yaml.safe_load(PROFILE.read_text()))
    (check,) = profile.checks
    assert isinstance(check, DnsCheck) and check.timeout == 5.0
    assert deadline_for(check) == max(0.9 * check.interval, check.timeout + 1.0 + 1 / float("inf"))
    with pytest.raises(Exception, match="domain"):
        Profile.model_validate({"kind": "dns", "checks": [{"name": "x", "prober": "dns"}]})


def test_probe_many_answers_every_device(resolver: int) -> None:
    devices = [Device(id=f"p/c/r{i}", name=f"r{i}", kind="dns", profile="dns", province="p", commune="c",
                      village="", host="127.0.0.1") for i in range(5)]
    got: list[Any] = []

    async def run() -> None:
        prober = DnsProber(ProberContext())
        await prober.probe_many(devices, _check(resolver), got.append)
        await prober.close()
    asyncio.run(run())
    assert sorted(r.device_id for r in got) == [d.id for d in devices]
    assert all(r.status is Status.OK for r in got)
