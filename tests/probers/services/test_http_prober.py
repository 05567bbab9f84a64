"""HttpProber against real HTTP and HTTPS servers on 127.0.0.1 with certificates made by the test."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from netmon.config.schema import HttpCheck
from netmon.model import Device, ProbeResult, Status
from netmon.probers import build_prober
from netmon.probers.base import ProberContext
from netmon.probers.http import HttpProber

WebServer = Pki = Any  # fixture types live in conftest.py, which is not importable by name

EXPIRY_DAYS = 30


def device(url: str, commune: str = "Sìn Hồ") -> Device:
    return Device(id=f"lai-chau/{commune}/dichvucong", name="dichvucong", kind="service", profile="service",
                  province="Lai Châu", commune=commune, village="", url=url)


def check(**kw: object) -> HttpCheck:
    return HttpCheck.model_validate({"name": "http", "prober": "http", "timeout": 2.0, **kw})


def run(dev: Device, chk: HttpCheck, config_dir: str = ".", resolver: Any = None) -> ProbeResult:
    async def go() -> ProbeResult:
        prober = HttpProber(ProberContext(config_dir=config_dir), resolver=resolver)
        try:
            return await prober.probe(dev, chk)
        finally:
            await prober.close()

    return asyncio.run(go())


def sample_of(result: ProbeResult) -> tuple[dict, dict]:
    assert len(result.samples) == 1
    sample = result.samples[0]
    assert sample.measurement == "http_response"
    return dict(sample.fields), dict(sample.tags)


def assert_types(fields: dict) -> None:
    """Field types exactly Telegraf's (InfluxDB rejects a field that changes type)."""
    ints = {"result_code", "http_response_code", "content_length", "response_status_code_match",
            "response_string_match"}
    floats = {"response_time", "tls_cert_expiry_days", "dns_lookup_s", "tcp_connect_s", "tls_handshake_s",
              "first_byte_s"}
    assert set(fields) <= ints | floats, set(fields) - ints - floats
    for name, value in fields.items():
        assert type(value) is (int if name in ints else float), (name, value)


@pytest.fixture(scope="module")
def https_ok(https_server_factory: Callable[..., WebServer]) -> WebServer:
    return https_server_factory("portal", EXPIRY_DAYS)


def test_registry_builds_the_http_prober() -> None:
    assert isinstance(build_prober("http", ProberContext()), HttpProber)


def test_ok(http_server: WebServer, portal_body: str) -> None:
    url = http_server.base_url + "/"
    result = run(device(url), check(body_contains="Dịch vụ công"))
    fields, tags = sample_of(result)
    assert result.status is Status.OK, result.reason
    assert result.reason.startswith("HTTP 200 in ")
    assert tags == {"server": url, "method": "GET", "status_code": "200", "result": "success"}
    assert fields["result_code"] == 0 and fields["http_response_code"] == 200
    assert fields["content_length"] == len(portal_body.encode())
    assert fields["response_string_match"] == 1 and fields["response_status_code_match"] == 1
    assert 0 < fields["tcp_connect_s"] < fields["response_time"] < 1
    assert 0 < fields["first_byte_s"] < fields["response_time"]
    assert "dns_lookup_s" not in fields and "tls_cert_expiry_days" not in fields  # IP URL, plain HTTP
    assert_types(fields)


def test_slow_server_times_out(http_server: WebServer) -> None:
    result = run(device(http_server.base_url + "/slow"), check(timeout=0.5))
    fields, tags = sample_of(result)
    assert result.status is Status.TIMEOUT
    assert result.reason == "no response within 0.5 s"
    assert tags["result"] == "timeout" and fields["result_code"] == 4
    assert "status_code" not in tags and "response_time" not in fields
    assert 0.45 < result.duration_s < 3.0
    assert_types(fields)


def test_wrong_status(http_server: WebServer) -> None:
    result = run(device(http_server.base_url + "/status/503"), check(expect_status=[200, 301, 302]))
    fields, tags = sample_of(result)
    assert result.status is Status.MISMATCH
    assert result.reason == "HTTP 503, expected 200/301/302"
    assert tags["status_code"] == "503" and tags["result"] == "response_status_code_mismatch"
    assert fields["result_code"] == 6 and fields["http_response_code"] == 503
    assert fields["response_status_code_match"] == 0
    assert_types(fields)


@pytest.mark.parametrize("spec", [{"body_contains": "Đăng nhập"}, {"body_regex": r"Tổng cục \d+"}])
def test_body_mismatch(http_server: WebServer, spec: dict) -> None:
    result = run(device(http_server.base_url + "/"), check(**spec))
    fields, tags = sample_of(result)
    assert result.status is Status.MISMATCH
    assert "body does not" in result.reason
    assert tags["result"] == "response_string_mismatch" and fields["result_code"] == 1
    assert fields["response_string_match"] == 0 and fields["response_status_code_match"] == 1


def test_body_regex_match(http_server: WebServer) -> None:
    result = run(device(http_server.base_url + "/"), check(body_regex=r"<title>Cổng .* quốc gia</title>"))
    assert result.status is Status.OK, result.reason


def test_refused(http_server: WebServer, closed_port: int) -> None:
    result = run(device(f"http://127.0.0.1:{closed_port}/"), check())
    fields, tags = sample_of(result)
    assert result.status is Status.REFUSED
    assert "refused" in result.reason
    assert tags["result"] == "connection_failed" and fields == {"result_code": 3}


def test_connect_timeout(blackhole_port: int) -> None:
    result = run(device(f"http://127.0.0.1:{blackhole_port}/"), check(timeout=0.5))
    assert result.status is Status.TIMEOUT
    assert sample_of(result)[0]["result_code"] == 4


def test_redirects_followed_or_not(http_server: WebServer) -> None:
    url = http_server.base_url + "/redirect"
    assert run(device(url), check()).status is Status.OK
    not_followed = run(device(url), check(follow_redirects=False))
    assert not_followed.status is Status.MISMATCH and not_followed.reason == "HTTP 302, expected 200"
    assert run(device(url), check(follow_redirects=False, expect_status=[302])).status is Status.OK


def test_head(http_server: WebServer) -> None:
    result = run(device(http_server.base_url + "/"), check(method="HEAD"))
    fields, tags = sample_of(result)
    assert result.status is Status.OK and tags["method"] == "HEAD" and fields["content_length"] == 0


def test_untrusted_certificate_is_an_error_naming_the_problem(https_ok: WebServer) -> None:
    result = run(device(https_ok.base_url + "/"), check())
    fields, tags = sample_of(result)
    assert result.status is Status.ERROR
    assert result.reason == "TLS certificate not trusted: unable to get local issuer certificate"
    assert tags["result"] == "connection_failed" and fields == {"result_code": 3}


def test_ca_bundle_makes_it_trusted_and_reports_expiry(https_ok: WebServer, pki: Pki) -> None:
    result = run(device(https_ok.base_url + "/"), check(ca_bundle="ca.pem"), config_dir=str(pki.folder))
    fields, tags = sample_of(result)
    assert result.status is Status.OK, result.reason
    assert tags["server"].startswith("https://127.0.0.1:") and tags["result"] == "success"
    assert "TLS verification off" not in result.reason
    assert fields["tls_cert_expiry_days"] == pytest.approx(EXPIRY_DAYS, abs=0.01)
    assert 0 < fields["tls_handshake_s"] < 1 and 0 < fields["tcp_connect_s"] < 1
    assert fields["tcp_connect_s"] + fields["tls_handshake_s"] < fields["response_time"]
    assert_types(fields)


def test_verify_off_is_explicit_and_said(https_ok: WebServer) -> None:
    result = run(device(https_ok.base_url + "/"), check(verify_tls=False))
    fields, _ = sample_of(result)
    assert result.status is Status.OK
    assert result.reason.endswith("(TLS verification off)")
    assert fields["tls_cert_expiry_days"] == pytest.approx(EXPIRY_DAYS, abs=0.01)


def test_expired_certificate(https_server_factory: Callable[..., WebServer], pki: Pki) -> None:
    server = https_server_factory("expired", -3)
    result = run(device(server.base_url + "/"), check(ca_bundle="ca.pem"), config_dir=str(pki.folder))
    assert result.status is Status.ERROR
    assert result.reason == "TLS certificate not trusted: certificate has expired"
    # With verification off the same server answers, and the field goes negative.
    insecure = run(device(server.base_url + "/"), check(verify_tls=False))
    assert sample_of(insecure)[0]["tls_cert_expiry_days"] == pytest.approx(-3, abs=0.01)


def test_certificate_for_another_name(https_server_factory: Callable[..., WebServer], pki: Pki) -> None:
    server = https_server_factory("other", 90, hosts=("portal.example",))
    result = run(device(server.base_url + "/"), check(ca_bundle="ca.pem"), config_dir=str(pki.folder))
    assert result.status is Status.ERROR
    assert "not trusted" in result.reason and "mismatch" in result.reason


def test_missing_ca_bundle(https_ok: WebServer, tmp_path: Any) -> None:
    result = run(device(https_ok.base_url + "/"), check(ca_bundle="nope.pem"), config_dir=str(tmp_path))
    assert result.status is Status.ERROR
    assert "CA bundle 'nope.pem'" in result.reason


class FakeResolver(aiohttp.abc.AbstractResolver):
    """Name lookups without DNS traffic: `portal.test` is 127.0.0.1, everything else does not exist."""

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict]:
        await asyncio.sleep(0.01)
        if host != "portal.test":
            raise OSError(socket.EAI_NONAME, "Name or service not known")
        return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        """Nothing to release."""


def test_dns_failure_is_an_error(http_server: WebServer) -> None:
    result = run(device(f"http://no-such-portal.test:{http_server.port}/"), check(), resolver=FakeResolver())
    fields, tags = sample_of(result)
    assert result.status is Status.ERROR
    assert result.reason.startswith("DNS lookup of no-such-portal.test failed")
    assert tags["result"] == "dns_error" and fields == {"result_code": 5}


def test_dns_time_is_measured(http_server: WebServer) -> None:
    result = run(device(f"http://portal.test:{http_server.port}/"), check(), resolver=FakeResolver())
    fields, _ = sample_of(result)
    assert result.status is Status.OK, result.reason
    assert 0.009 < fields["dns_lookup_s"] < 0.5


def test_one_session_for_many_probes(http_server: WebServer, https_ok: WebServer, pki: Pki) -> None:
    devices = [device(f"{s.base_url}/", commune=f"xa-{i}")
               for i, s in enumerate([http_server, https_ok] * 20)]
    results: list[ProbeResult] = []

    async def go() -> tuple[object, object, bool]:
        prober = HttpProber(ProberContext(config_dir=str(pki.folder)))
        await prober.probe_many(devices, check(ca_bundle="ca.pem"), results.append)
        first = prober._session
        await prober.probe(devices[0], check())
        second = prober._session
        await prober.close()
        return first, second, first.closed  # type: ignore[union-attr]

    first, second, closed = asyncio.run(go())
    assert first is not None and first is second and closed
    assert [r.status for r in results] == [Status.OK] * 40
    tls = [r for r in results if r.samples[0].tags["server"].startswith("https")]
    # Every HTTPS probe saw its own handshake, even with 20 in flight at once.
    assert all(0 < r.samples[0].fields["tls_handshake_s"] < 2 for r in tls) and len(tls) == 20
