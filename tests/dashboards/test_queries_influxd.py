"""Every panel and variable query of every dashboard returns data from a real InfluxDB filled by netmon.

The data goes through netmon's own path: real ICMP, TCP and HTTP probers against loopback,
village_status results built by the analysis evaluator's own result builder, PC health from
the aging module, then the InfluxDB forwarder into Debian's influxd. Queries are taken from
the JSON and have Grafana's macros and variables substituted the way Grafana does, so a typo
in a measurement, field or tag name makes this test fail.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import pytest
from aiohttp import web

from netmon.analysis import flags as flagmod
from netmon.analysis.aging import PcHealth
from netmon.analysis.catalog import VillageInfo
from netmon.analysis.evaluator import Evaluation, Evaluator
from netmon.analysis.stability import HIST_BUCKETS, Cause, State, WindowMetrics, hist_bucket
from netmon.config.schema import HttpCheck, IcmpCheck, InfluxOutput, TcpCheck
from netmon.model import Device, ProbeResult, Sample, Status
from netmon.probers import ProberContext
from netmon.probers.http import HttpProber
from netmon.probers.icmp import IcmpProber
from netmon.probers.tcp import TcpProber
from netmon.sinks.batches import TagResolver
from netmon.sinks.influx import Forwarder
from netmon.store import Store
from tests.fixtures.influxd import InfluxServer, _need_influxd, free_port
from tests.sinks.helpers import drain

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
SECOND_ICMP = "wan-latency"
AGENT = "dash-agent"
PROVINCE = "Lai Châu"
# (commune, village, operator, state, cause, flagged): every state, every cause, and a commune with a comma.
VILLAGES = [
    ("Sìn Hồ", "Tả Phìn", "Viettel", State.GOOD, Cause.NONE, False),
    ("Sìn Hồ", "Làng Mô, Nậm Tăm", "MobiFone", State.DEGRADED, Cause.LINK, False),
    ("Sìn Hồ", "Nậm Cuổi", "Viettel", State.UNSTABLE, Cause.LINK, True),
    ("Phong Thổ", "Sì Lở Lầu", "VNPT", State.DOWN, Cause.POWER, True),
    ("Phong Thổ", "Mù Sang", "VNPT", State.UNKNOWN, Cause.NONE, False),
]


def slug(text: str) -> str:
    from netmon.config.resolve import slug as real_slug

    return real_slug(text)


def inventory(http_port: int, tcp_port: int) -> list[Device]:
    devices = []
    for i, (commune, village, operator, *_rest) in enumerate(VILLAGES):
        base = f"{slug(PROVINCE)}/{slug(commune)}"
        devices.append(Device(id=f"{base}/{slug(village)}/cpe", name="cpe", kind="cpe", profile="cpe",
                              province=PROVINCE, commune=commune, village=village, operator=operator,
                              host=f"127.0.40.{i + 1}", lat=22.3 + i / 100, lon=103.2 + i / 100))
    for j, commune in enumerate(["Sìn Hồ", "Phong Thổ"]):
        base = f"{slug(PROVINCE)}/{slug(commune)}"
        devices += [
            Device(id=f"{base}/ubnd-router", name="ubnd-router", kind="router", profile="router", province=PROVINCE,
                   commune=commune, village="", operator="VNPT", host=f"127.0.41.{j + 1}"),
            Device(id=f"{base}/motcua-pc", name="motcua-pc", kind="pc", profile="pc", province=PROVINCE,
                   commune=commune, village="", operator="VNPT", host=f"127.0.42.{j + 1}"),
            Device(id=f"{base}/dichvucong", name="dichvucong", kind="service", profile="service", province=PROVINCE,
                   commune=commune, village="", operator="VNPT", url=f"http://127.0.0.1:{http_port}/portal"),
            Device(id=f"{base}/mot-cua", name="mot-cua", kind="port", profile="port", province=PROVINCE,
                   commune=commune, village="", operator="VNPT", host="127.0.0.1", port=tcp_port),
        ]
    return devices


async def probe_for_real(devices: list[Device]) -> list[ProbeResult]:
    """Real probes on loopback: ICMP to every host, HTTP to a local server, TCP to a local listener."""
    results: list[ProbeResult] = []

    async def portal(_request: web.Request) -> web.Response:
        return web.Response(text="Cổng dịch vụ công")

    app = web.Application()
    app.router.add_get("/portal", portal)
    runner = web.AppRunner(app)
    await runner.setup()
    http_port = int(devices[-2].url.rsplit(":", 1)[1].split("/")[0])
    site = web.TCPSite(runner, "127.0.0.1", http_port)
    await site.start()
    tcp_server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", devices[-1].port)
    context = ProberContext()
    probers = [IcmpProber(context), HttpProber(context), TcpProber(context)]
    try:
        for _round in range(3):
            pingable = [d for d in devices if d.host and d.kind not in ("port",)]
            await probers[0].probe_many(pingable, IcmpCheck(name="reachability", prober="icmp", count=3,
                                                            timeout=1, packet_interval=0.01), results.append)
            # A second ICMP check of the first village's CPE (as a profile with two ICMP checks
            # would give it): it must be its own series, not overwrite the first one's points.
            await probers[0].probe_many(pingable[:1], IcmpCheck(name=SECOND_ICMP, prober="icmp", count=2,
                                                                timeout=1, packet_interval=0.01), results.append)
            await probers[1].probe_many([d for d in devices if d.kind == "service"],
                                        HttpCheck(name="http", prober="http", timeout=5), results.append)
            await probers[2].probe_many([d for d in devices if d.kind == "port"],
                                        TcpCheck(name="tcp", prober="tcp", timeout=5), results.append)
    finally:
        for p in probers:
            await p.close()
        tcp_server.close()
        await runner.cleanup()
    return results


def village_results(store: Store, devices: list[Device], now: float) -> list[ProbeResult]:
    """village_status results exactly as the evaluator builds them, one per village and evaluation."""
    evaluator = Evaluator.__new__(Evaluator)  # only the result builder is used: no catalog, no rollups
    out = []
    for minutes_ago in (20, 10, 0):
        for commune, village, operator, state, cause, flagged in VILLAGES:
            d = next(x for x in devices if x.village == village)
            info = VillageInfo(id=d.id.rsplit("/", 1)[0], province=PROVINCE, commune=commune, village=village,
                               operator=operator, lat=d.lat, lon=d.lon)
            hist = [0] * HIST_BUCKETS
            hist[hist_bucket(12.0)] = 50
            hist[hist_bucket(180.0)] = 8
            m = WindowMetrics(rounds=60, rounds_up=57, sent=180, received=168, hist=tuple(hist), outages=2,
                              longest_outage_s=95.0)
            windows = {"1h": (state, cause, m), "24h": (state, cause, m)}
            action = flagmod.Action.NONE
            ev = Evaluation(info, windows, flagged, action, now - 3600 if flagged else None)
            result, _ = evaluator._result(ev, "1h", now - minutes_ago * 60, 3600.0)
            out.append(result)
    return out


def equipment_results(devices: list[Device], now: float) -> list[ProbeResult]:
    """SNMP-derived and PC-health results in the shapes the SNMP prober and aging module write."""
    out = []
    for k, minutes_ago in enumerate((20, 10, 0)):
        ts = now - minutes_ago * 60
        for d in devices:
            if d.kind == "router":
                samples = (Sample("snmp", {"uptime_s": 3600.0 + k * 600, "sys_descr": "RouterOS"}),
                           Sample("interface", {"in_bps": 2.0e6 + k, "out_bps": 3.0e5, "ifInErrors": 10 + 3 * k,
                                                "ifOutErrors": 2 * k, "ifHCInOctets": 10**9 + k * 10**6},
                                  {"ifIndex": "1", "ifDescr": "ether1-wan"}))
                out.append(ProbeResult(d.id, "system", "snmp", Status.OK, "ok", ts, 0.1, samples))
            elif d.kind == "pc":
                storage = Sample("hr_storage", {"used_pct": 97.0, "hrStorageSize": 1000, "hrStorageUsed": 970},
                                 {"hrStorageIndex": "1", "hrStorageDescr": "C:\\ Label:  Serial Number 5c1e"})
                out.append(ProbeResult(d.id, "host-resources", "snmp", Status.OK, "ok", ts, 0.2, (storage,)))
                out.append(PcHealth(d.id, 75, ("Windows 7 is end-of-life", "C: 97 % full")).to_result(ts))
        agent = {"results_per_s": 12.5 + k, "scheduler_lag_s": 0.02, "targets": len(devices), "dropped_unsent": 0,
                 "refused_values": k}
        per_output = {"backlog_points": 40 - k, "backlog_results": 20, "oldest_unsent_age_s": 3.0,
                      "dead_lettered": 0, "dead_letters_pending": 0, "sent_points": 1000 * k,
                      "output_stalled": k == 1, "stalled_s": 60.0 if k == 1 else 0.0}
        out.append(ProbeResult("agent", "self", "agent", Status.OK, "self", ts, 0.0,
                               (Sample("netmon_agent", agent), Sample("netmon_agent", per_output, {"output": "main"}))))
    return out


def grafana_substitute(query: str) -> str:
    """What Grafana does before sending: time filter, interval, All for every variable (regex `.*`)."""
    query = query.replace("$timeFilter", "time > now() - 2h").replace("$__interval", "1m")
    return re.sub(r"\$(province|commune|village|agent)\b", ".*", query)


def selected_columns(query: str) -> list[str]:
    """The column names a query promises: its `AS "alias"` names of the outer SELECT."""
    outer = query.split(" FROM ", 1)[0]
    return re.findall(r'AS "(\w+)"', outer)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory):
    _need_influxd()
    server = InfluxServer(tmp_path_factory.mktemp("influxd")).start()
    try:
        server.create_database("netmon")
        fill(server)
        yield server
    finally:
        server.stop()


def fill(server: InfluxServer) -> None:
    store_dir = Path(server.root) / "store"
    http_port, tcp_port = free_port(), free_port()
    devices = inventory(http_port, tcp_port)
    store = Store.open(store_dir)
    now = time.time()
    probed = asyncio.run(probe_for_real(devices))
    assert {r.status for r in probed} == {Status.OK}, [r.reason for r in probed if r.status is not Status.OK]
    store.append(probed)
    store.append(village_results(store, devices, now))
    store.append(equipment_results(devices, now))
    output = InfluxOutput.model_validate({"name": "main", "url": server.url, "api": "v1", "database": "netmon"})
    asyncio.run(drain(Forwarder(output, store, TagResolver(AGENT, devices)), store))
    store.close()


def all_targets() -> list[tuple[str, str, dict]]:
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dash = json.loads(path.read_text())
        for p in dash["panels"]:
            for t in p["targets"]:
                found.append((path.stem, p["title"], t))
    return found


TARGETS = all_targets()


@pytest.mark.parametrize(("dashboard", "title", "target"), TARGETS,
                         ids=[f"{d}:{t}:{x['refId']}" for d, t, x in TARGETS])
def test_panel_query_returns_data(filled: InfluxServer, dashboard: str, title: str, target: dict):
    query = grafana_substitute(target["query"])
    series = filled.query(query)
    assert series, f"no data for {dashboard} / {title}:\n{query}"
    columns = set(series[0]["columns"])
    missing = set(selected_columns(target["query"])) - columns
    assert not missing, f"{title}: columns {missing} absent from {sorted(columns)}"
    names = series[0]["columns"][1:]
    for index, name in enumerate(names, start=1):
        column = [row[index] for s in series for row in s["values"]]
        assert any(v is not None for v in column), f"{title}: column {name!r} is only nulls:\n{query}"


VARIABLES = [(path.stem, v) for path in sorted(DASHBOARDS.glob("*.json"))
             for v in json.loads(path.read_text())["templating"]["list"]]


@pytest.mark.parametrize(("dashboard", "variable"), VARIABLES, ids=[f"{d}:{v['name']}" for d, v in VARIABLES])
def test_variable_query_lists_values(filled: InfluxServer, dashboard: str, variable: dict):
    series = filled.query(grafana_substitute(variable["query"]))
    assert series and series[0]["values"], variable["query"]
    values = {row[1] for s in series for row in s["values"]}
    expected = {"province": {PROVINCE}, "commune": {"Sìn Hồ", "Phong Thổ"},
                "village": {v[1] for v in VILLAGES}, "agent": {AGENT}}[variable["name"]]
    assert values == expected


def test_counts_by_state_match_what_was_written(filled: InfluxServer):
    dash = json.loads((DASHBOARDS / "province-overview.json").read_text())
    for p in dash["panels"]:
        if p["title"].startswith("Villages ") and p["type"] == "stat":
            state = p["title"].split()[-1]
            (series,) = filled.query(grafana_substitute(p["targets"][0]["query"]))
            assert series["values"][0][1] == sum(1 for v in VILLAGES if v[3].value == state), state


def test_a_typo_in_a_field_name_returns_nothing(filled: InfluxServer):
    """The guard this test relies on: a misspelt field yields no series, so the checks above would fail."""
    query = grafana_substitute('SELECT mean("average_respone_ms") FROM "ping" WHERE $timeFilter '
                               'GROUP BY time($__interval) fill(null)')
    series = filled.query(query)
    assert not series or all(v is None for s in series for row in s["values"] for v in row[1:])


def test_two_icmp_checks_of_one_device_are_two_series(filled: InfluxServer):
    """The check name is a tag: the village table shows each check's own latest row, with its own count."""
    dash = json.loads((DASHBOARDS / "village-detail.json").read_text())
    (query,) = [t["query"] for p in dash["panels"] if p["title"] == "Devices of the village" for t in p["targets"]]
    series = filled.query(grafana_substitute(query))
    cpe = [s for s in series if s["tags"]["village"] == VILLAGES[0][1] and s["tags"]["kind"] == "cpe"]
    assert sorted(s["tags"]["check"] for s in cpe) == ["reachability", SECOND_ICMP]
    sent = filled.query(f'SELECT last("packets_transmitted") FROM "ping" WHERE "village" = \'{VILLAGES[0][1]}\' '
                        'AND "kind" = \'cpe\' GROUP BY "check"')
    assert {s["tags"]["check"]: s["values"][0][1] for s in sent} == {"reachability": 3, SECOND_ICMP: 2}
