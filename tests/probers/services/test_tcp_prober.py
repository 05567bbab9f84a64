"""TcpProber against real sockets on 127.0.0.1: listening, closed, silent, banner, wrong banner, full backlog."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from netmon.config.schema import TcpCheck
from netmon.model import Device, ProbeResult, Status
from netmon.probers import build_prober
from netmon.probers.base import ProberContext
from netmon.probers.tcp import TcpProber


def device(port: int | None = None, host: str = "127.0.0.1") -> Device:
    return Device(id="lai-chau/sin-ho/bts-mgmt", name="bts-mgmt", kind="port", profile="port",
                  province="Lai Châu", commune="Sìn Hồ", village="", host=host, port=port)


def check(**kw: object) -> TcpCheck:
    return TcpCheck.model_validate({"name": "tcp", "prober": "tcp", "timeout": 1.0, **kw})


def run(dev: Device, chk: TcpCheck) -> ProbeResult:
    async def go() -> ProbeResult:
        prober = TcpProber(ProberContext())
        try:
            return await prober.probe(dev, chk)
        finally:
            await prober.close()

    return asyncio.run(go())


def only_sample(result: ProbeResult) -> tuple[dict, dict]:
    assert len(result.samples) == 1
    sample = result.samples[0]
    assert sample.measurement == "net_response"
    return dict(sample.fields), dict(sample.tags)


def test_registry_builds_the_tcp_prober() -> None:
    assert isinstance(build_prober("tcp", ProberContext()), TcpProber)


def test_listening_port_is_ok_with_telegraf_types(tcp_server_factory: Callable[[str], int]) -> None:
    port = tcp_server_factory("silent")
    result = run(device(port), check())
    fields, tags = only_sample(result)
    assert result.status is Status.OK, result.reason
    assert tags == {"server": "127.0.0.1", "port": str(port), "protocol": "tcp", "result": "success"}
    assert type(fields["response_time"]) is float and 0 < fields["response_time"] < 1
    assert type(fields["result_code"]) is int and fields["result_code"] == 0
    assert set(fields) == {"response_time", "result_code"}


def test_check_port_wins_over_device_port(tcp_server_factory: Callable[[str], int], closed_port: int) -> None:
    port = tcp_server_factory("silent")
    assert run(device(closed_port), check(port=port)).status is Status.OK
    assert run(device(port), check(port=closed_port)).status is Status.REFUSED


def test_closed_port_is_refused(closed_port: int) -> None:
    result = run(device(closed_port), check())
    fields, tags = only_sample(result)
    assert result.status is Status.REFUSED
    assert "refused" in result.reason
    assert tags["result"] == "connection_failed" and fields == {"result_code": 2}


def test_full_backlog_times_out(blackhole_port: int) -> None:
    result = run(device(blackhole_port), check(timeout=0.5))
    fields, tags = only_sample(result)
    assert result.status is Status.TIMEOUT, result.reason
    assert tags["result"] == "timeout" and fields == {"result_code": 1}
    assert 0.45 < result.duration_s < 3.0


def test_expected_banner_is_ok(tcp_server_factory: Callable[[str], int]) -> None:
    result = run(device(tcp_server_factory("banner")), check(expect="SSH-2.0"))
    fields, tags = only_sample(result)
    assert result.status is Status.OK, result.reason
    assert tags["result"] == "success" and fields["result_code"] == 0
    assert type(fields["response_time"]) is float


def test_wrong_banner_is_a_mismatch(tcp_server_factory: Callable[[str], int]) -> None:
    result = run(device(tcp_server_factory("wrong-banner")), check(expect="SSH-"))
    fields, tags = only_sample(result)
    assert result.status is Status.MISMATCH
    assert "220 mail.example ESMTP" in result.reason
    assert tags["result"] == "string_mismatch" and fields["result_code"] == 4
    assert type(fields["response_time"]) is float


def test_silent_server_times_out_reading(tcp_server_factory: Callable[[str], int]) -> None:
    result = run(device(tcp_server_factory("silent")), check(expect="SSH-", timeout=0.5))
    fields, tags = only_sample(result)
    assert result.status is Status.TIMEOUT
    assert "no 'SSH-' within 0.5 s" in result.reason
    # Telegraf's name for a read that never completed; response_time is still the measured connect.
    assert tags["result"] == "read_failed" and fields["result_code"] == 3
    assert fields["response_time"] < 0.4


def test_send_then_expect(tcp_server_factory: Callable[[str], int]) -> None:
    port = tcp_server_factory("echo")
    assert run(device(port), check(send="PING\n", expect="PONG")).status is Status.OK
    assert run(device(port), check(send="PING\n", expect="HELLO")).status is Status.MISMATCH


def test_server_that_hangs_up_is_a_mismatch(tcp_server_factory: Callable[[str], int]) -> None:
    result = run(device(tcp_server_factory("close")), check(expect="+OK"))
    fields, tags = only_sample(result)
    assert result.status is Status.MISMATCH
    assert "closed before" in result.reason
    assert tags["result"] == "read_failed" and fields["result_code"] == 3


def test_missing_port_is_an_error_not_an_exception() -> None:
    result = run(device(None), check())
    assert result.status is Status.ERROR
    assert "no port" in result.reason and result.samples == ()


def test_many_targets_in_one_round(tcp_server_factory: Callable[[str], int], closed_port: int) -> None:
    port = tcp_server_factory("banner")
    devices = [device(port if i % 2 else closed_port) for i in range(40)]
    results: list[ProbeResult] = []

    async def go() -> None:
        prober = TcpProber(ProberContext())
        await prober.probe_many(devices, check(expect="SSH-"), results.append)
        await prober.close()

    asyncio.run(go())
    statuses = [r.status for r in results]
    assert statuses.count(Status.OK) == 20 and statuses.count(Status.REFUSED) == 20
