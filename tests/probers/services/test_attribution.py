"""Portal vs. link attribution on synthetic results from several communes, and the report renderers."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from rich.console import Console

from netmon.analysis.service_report import service_rows, service_window_s
from netmon.analysis.services import (
    Verdict,
    attribute_rounds,
    p95,
    pairs_from_store,
    service_key,
    services_report,
)
from netmon.model import Device, ProbeResult, Sample, Status
from netmon.store import Store
from netmon.ui.report_services import render_services

PORTAL = "https://dichvucong.gov.vn/"
MAIL = "10.0.0.25:25"
COMMUNES = ("Sìn Hồ", "Tả Phìn", "Nậm Tăm", "Pa Tần")
T0 = 1_760_000_040.0  # a multiple of 60: rounds start on the minute


def portal_device(commune: str) -> Device:
    return Device(id=f"lai-chau/{commune}/dichvucong", name="dichvucong", kind="service",
                  profile="service", province="Lai Châu", commune=commune, village="", url=PORTAL)


def mail_device(commune: str) -> Device:
    return Device(id=f"lai-chau/{commune}/mail", name="mail", kind="port", profile="port",
                  province="Lai Châu", commune=commune, village="", host="10.0.0.25", port=25)


def http_result(dev: Device, ts: float, status: Status = Status.OK, rt_s: float = 0.2) -> ProbeResult:
    fields: dict = {"result_code": 0 if status is Status.OK else 4}
    if status is Status.OK:
        fields["response_time"] = rt_s
    tags = {"server": dev.url or "", "method": "GET", "result": "success" if status is Status.OK else "timeout"}
    return ProbeResult(dev.id, "http", "http", status, status.value, ts, 0.3,
                       (Sample("http_response", fields, tags),))


def tcp_result(dev: Device, ts: float, status: Status = Status.OK) -> ProbeResult:
    tags = {"server": "10.0.0.25", "port": "25", "protocol": "tcp", "result": "success"}
    return ProbeResult(dev.id, "tcp", "tcp", status, status.value, ts, 0.01,
                       (Sample("net_response", {"result_code": 0, "response_time": 0.01}, tags),))


def scenario() -> list[tuple[Device, ProbeResult]]:
    """Five rounds of the portal from four communes, plus a mail server seen from two.

    round 0: all ok; round 1: Tả Phìn times out (its link); round 2: Tả Phìn and Pa Tần fail;
    round 3: everyone fails (portal down); round 4: all ok again.
    """
    failing = {1: {"Tả Phìn"}, 2: {"Tả Phìn", "Pa Tần"}, 3: set(COMMUNES)}
    pairs = []
    for rnd in range(5):
        for i, commune in enumerate(COMMUNES):
            dev = portal_device(commune)
            status = Status.TIMEOUT if commune in failing.get(rnd, ()) else Status.OK
            # Phases spread over the minute, as the scheduler does.
            pairs.append((dev, http_result(dev, T0 + rnd * 60 + i * 13, status, rt_s=0.1 * (i + 1))))
        for commune in COMMUNES[:2]:
            dev = mail_device(commune)
            pairs.append((dev, tcp_result(dev, T0 + rnd * 60 + 5)))
    return pairs


def test_service_keys() -> None:
    dev = mail_device("Sìn Hồ")
    assert service_key(dev, tcp_result(dev, T0)) == MAIL
    assert service_key(portal_device("x"), http_result(portal_device("x"), T0)) == PORTAL
    bare = ProbeResult(dev.id, "tcp", "tcp", Status.ERROR, "no port", T0, 0.0)
    assert service_key(dev, bare) == MAIL  # falls back to the device when there is no sample


def by_commune(device: Device) -> str:
    """As if each commune had its own agent: distinct vantage points (the multi-agent case)."""
    return device.commune


def test_verdicts_per_round() -> None:
    rounds = [r for r in attribute_rounds(scenario(), window_s=60, vantage_of=by_commune) if r.service == PORTAL]
    assert [r.verdict for r in rounds] == [Verdict.OK, Verdict.LINK, Verdict.LINK, Verdict.SERVICE_DOWN,
                                           Verdict.OK]
    assert [r.window_start_ts for r in rounds] == [T0 + 60 * i for i in range(5)]
    assert rounds[1].communes == ("Tả Phìn",)
    assert rounds[2].communes == ("Pa Tần", "Tả Phìn")
    assert rounds[3].communes == tuple(sorted(COMMUNES))
    assert all(r.vantages == 4 for r in rounds)
    assert {v.status for v in rounds[1].failing} == {Status.TIMEOUT}


def test_one_agent_is_one_vantage_point_and_never_blames_a_link() -> None:
    # Every check leaves from the same agent box, whatever commune its device is filed under.
    rounds = [r for r in attribute_rounds(scenario(), window_s=60) if r.service == PORTAL]
    assert [r.verdict for r in rounds] == [Verdict.OK, Verdict.INTERMITTENT, Verdict.INTERMITTENT,
                                           Verdict.SERVICE_DOWN, Verdict.OK]
    assert all(r.vantages == 1 for r in rounds)
    report = services_report(scenario(), window_s=60)
    assert all(s.link_rounds == 0 and not s.link_communes and s.vantages == 1 for s in report.services)


def test_last_result_of_a_vantage_in_a_window_counts() -> None:
    a, b = portal_device("Sìn Hồ"), portal_device("Tả Phìn")
    pairs = [(a, http_result(a, T0 + 50, Status.OK)), (a, http_result(a, T0 + 1, Status.TIMEOUT)),
             (b, http_result(b, T0 + 2, Status.OK))]
    (only,) = attribute_rounds(pairs, window_s=60, vantage_of=by_commune)
    assert only.verdict is Verdict.OK and only.vantages == 2


def test_a_single_vantage_point_failing_is_service_down() -> None:
    a = portal_device("Sìn Hồ")
    (only,) = attribute_rounds([(a, http_result(a, T0, Status.REFUSED))], window_s=60)
    assert only.verdict is Verdict.SERVICE_DOWN and only.vantages == 1


def test_other_probers_are_ignored() -> None:
    a = portal_device("Sìn Hồ")
    icmp = ProbeResult(a.id, "reachability", "icmp", Status.TIMEOUT, "down", T0, 1.0)
    assert attribute_rounds([(a, icmp)]) == []


def test_service_summary() -> None:
    report = services_report(scenario(), window_s=60, vantage_of=by_commune)
    portal = next(s for s in report.services if s.service == PORTAL)
    assert (portal.rounds, portal.ok_rounds, portal.link_rounds, portal.service_down_rounds) == (5, 2, 2, 1)
    assert portal.availability_pct == pytest.approx(80.0)  # answered somewhere in 4 of 5 rounds
    assert portal.vantage_ok_pct == pytest.approx(100 * 13 / 20)
    assert portal.link_communes == ("Tả Phìn", "Pa Tần")  # blamed twice, then once
    assert portal.vantages == 4
    ok_ms = [100.0 * (i + 1) for rnd in range(5) for i, c in enumerate(COMMUNES)
             if not ({1: {"Tả Phìn"}, 2: {"Tả Phìn", "Pa Tần"}, 3: set(COMMUNES)}.get(rnd, set()) & {c})]
    assert portal.response_p95_ms == pytest.approx(p95(ok_ms))
    mail = next(s for s in report.services if s.service == MAIL)
    assert (mail.rounds, mail.ok_rounds, mail.availability_pct) == (5, 5, 100.0)


def test_commune_summary() -> None:
    report = services_report(scenario(), window_s=60, vantage_of=by_commune)
    by = {c.commune: c for c in report.communes}
    assert set(by) == set(COMMUNES)
    assert (by["Tả Phìn"].link_rounds, by["Tả Phìn"].service_down_rounds) == (2, 1)
    assert (by["Pa Tần"].link_rounds, by["Nậm Tăm"].link_rounds) == (1, 0)
    assert by["Sìn Hồ"].services == 2 and by["Nậm Tăm"].services == 1
    assert by["Tả Phìn"].availability_pct == pytest.approx(100 * 7 / 10)  # 2 of 5 portal + 5 of 5 mail
    assert by["Nậm Tăm"].response_p95_ms == pytest.approx(300.0)


def test_p95_nearest_rank() -> None:
    assert p95([]) is None
    assert p95([5.0]) == 5.0
    assert p95([float(i) for i in range(1, 101)]) == 95.0


def plain_console(width: int = 200) -> Console:
    return Console(width=width, color_system=None, force_terminal=False, record=True)


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "md"])
def test_render_every_kind_and_format(fmt: str) -> None:
    report = services_report(scenario(), window_s=60, vantage_of=by_commune)
    for rows in (report.services, report.communes, report.rounds):
        console = plain_console()
        render_services(rows, fmt, console, timezone="Asia/Ho_Chi_Minh")
        text = console.export_text()
        assert "Tả Phìn" in text
        if fmt == "json":
            assert len(json.loads(text)) == len(rows)
        if fmt == "csv":
            assert len(text.strip().splitlines()) == len(rows) + 1


def test_rendered_content() -> None:
    report = services_report(scenario(), window_s=60, vantage_of=by_commune)
    console = plain_console()
    render_services(report.rounds, "csv", console, timezone="Asia/Ho_Chi_Minh")
    lines = console.export_text().splitlines()
    assert lines[0] == "window_start,service,verdict,vantages,failing,communes,reasons"
    link = [ln for ln in lines if ",link," in ln]
    assert link[0].startswith("2025-10-09T15:55:00+07:00,https://dichvucong.gov.vn/,link,4,1,Tả Phìn,")
    console = plain_console()
    render_services(report.services, "json", console)
    portal = next(s for s in json.loads(console.export_text()) if s["service"] == PORTAL)
    assert portal["link_communes"] == "Tả Phìn; Pa Tần" and portal["service_down_rounds"] == 1
    console = plain_console()
    render_services([], "table", console)
    assert "no HTTP or TCP service results" in console.export_text()
    with pytest.raises(ValueError, match="unknown format"):
        render_services(report.services, "xml", console)


def test_from_a_real_store(tmp_path) -> None:
    pairs = scenario()
    store = Store.open(tmp_path / "netmon.db")
    try:
        store.append([r for _, r in pairs])
        gone = portal_device("Removed")
        store.append([http_result(gone, T0 + 1)])
        devices = list({d.id: d for d, _ in pairs}.values())
        loaded = pairs_from_store(store, devices, since_ts=T0, until_ts=T0 + 300)
        assert len(loaded) == len(pairs)
        config = SimpleNamespace(devices=devices, profiles={
            "service": SimpleNamespace(checks=[SimpleNamespace(prober="http", interval=60.0)]),
            "port": SimpleNamespace(checks=[SimpleNamespace(prober="tcp", interval=30.0)])})
        assert service_window_s(config) == 60.0
        report = service_rows(config, store, now=T0 + 300, days=1)
        assert report == services_report(pairs, window_s=60)
    finally:
        store.close()
