"""The province view from a real influxd filled by two agents through netmon's own forwarder.

Two agents (dong, tay) split one province by commune (netmon.config.shard). Each has its own store
with real ICMP results of its devices, village_status results built by the evaluator's own result
builder, heartbeats, and real HTTP checks of shared services (a custom resolver sends tay's checks of
the portal to a loopback address where nothing listens: tay's "link" is broken). Each store is
forwarded by netmon's Forwarder into Debian's influxd. The central commands must then show the
union of the agents' local views, turn a silent agent's villages unknown within two heartbeat
intervals, and judge services from both vantage points.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from netmon import cli
from netmon.analysis.aging import PcHealth
from netmon.analysis.catalog import VillageInfo, catalog_from_config
from netmon.analysis.evaluator import Evaluation, Evaluator
from netmon.analysis.flags import Action
from netmon.analysis.stability import HIST_BUCKETS, Cause, State, WindowMetrics, hist_bucket
from netmon.analysis.status_view import Inventory, load_snapshot
from netmon.central.influxql import CentralError, InfluxQL
from netmon.central.province import province_picture
from netmon.central.services import Verdict, service_verdicts
from netmon.config import load_config
from netmon.config.schema import HttpCheck, IcmpCheck
from netmon.model import Device, ProbeResult, Sample, Status
from netmon.probers import ProberContext
from netmon.probers.http import HttpProber
from netmon.probers.icmp import IcmpProber
from netmon.sinks.batches import TagResolver
from netmon.sinks.influx import Forwarder
from netmon.store import Store
from tests.config.test_shards import province
from tests.fixtures.influxd import InfluxServer, _need_influxd, free_port
from tests.sinks.helpers import drain

AGENTS = ["dong", "tay"]
HEARTBEAT_S = 60.0
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# Villages' states cycle through these, so both agents have good, unstable (flagged link) and down (power).
STATES = [(State.GOOD, Cause.NONE, False), (State.UNSTABLE, Cause.LINK, True), (State.DOWN, Cause.POWER, True),
          (State.DEGRADED, Cause.LINK, False)]


class Resolver(AbstractResolver):
    """Names of the test's services to loopback addresses; no DNS query ever leaves the box."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
        return [{"hostname": host, "host": self.table[host], "port": port, "family": socket.AF_INET, "proto": 0,
                 "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        return None


def status_results(config: Any, now: float) -> list[ProbeResult]:
    """village_status results of the agent's villages, as the evaluator builds them."""
    evaluator = Evaluator.__new__(Evaluator)
    out = []
    villages = sorted(catalog_from_config(config).villages.values(), key=lambda v: v.id)
    for minutes_ago in (10, 0):
        for i, v in enumerate(villages):
            state, cause, flagged = STATES[i % len(STATES)]
            info = VillageInfo(v.id, v.province, v.commune, v.village, v.operator)
            hist = [0] * HIST_BUCKETS
            hist[hist_bucket(15.0)] = 58
            m = WindowMetrics(rounds=60, rounds_up=60 - 5 * i % 7, sent=180, received=180 - i, hist=tuple(hist),
                              outages=i % 3, longest_outage_s=30.0 * i)
            windows = {"1h": (state, cause, m), "24h": (state, cause, m)}
            ev = Evaluation(info, windows, flagged, Action.NONE, now - 3600 if flagged else None)
            result, _ = evaluator._result(ev, "1h", now - minutes_ago * 60, 3600.0)
            out.append(result)
    return out


def outage_results_of(store: Store, config: Any, now: float) -> list[ProbeResult]:
    """Device outages in the agent's store (closed, open, upstream, one from before the month), and the
    village_outage points the worker writes for them."""
    from netmon.analysis.db import ensure_schema
    from netmon.analysis.worker import outage_results

    ensure_schema(store)
    villages = sorted(catalog_from_config(config).villages.values(), key=lambda v: v.id)
    month_start = _month_start(now - 600)
    rows = []
    for i, v in enumerate(villages):
        cpe = next(d for d in config.devices if d.id.startswith(v.id + "/"))
        rows += [(cpe.id, v.id, now - 7200 - 60 * i, now - 7000 - 60 * i, "link"),  # closed: 200 s
                 (cpe.id, v.id, now - 5000, now - 4900, "upstream")]              # excused: never counted
        if i % 2:
            rows.append((cpe.id, v.id, now - 300, None, "power"))                  # still open
        if i == 0:
            rows.append((cpe.id, v.id, month_start - 100, month_start + 50, "link"))  # began last month
    store.conn.executemany("INSERT INTO analysis_outages (device_id, village_id, start_ts, end_ts, cause) "
                           "VALUES (?,?,?,?,?)", rows)
    store.conn.commit()
    # The running worker writes each outage at every evaluation while open and once more when it closes;
    # one call covering the whole month stands for those evaluations here.
    return outage_results(store, month_start - 3600, now)


def _month_start(ts: float) -> float:
    from datetime import datetime

    return datetime.fromtimestamp(ts, TZ).replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def heartbeat(ts: float, targets: int) -> ProbeResult:
    """The agent's own netmon_agent point, as selfmon writes it."""
    return ProbeResult("agent", "self", "agent", Status.OK, "self", ts, 0.0, (
        Sample("netmon_agent", {"results_per_s": 3.0, "scheduler_lag_s": 0.01, "targets": targets,
                                "dropped_unsent": 0}),))


async def probe(devices: list[Device], services: list[Device], resolver: Resolver) -> list[ProbeResult]:
    """Real ICMP to the agent's devices and real HTTP to the shared services."""
    results: list[ProbeResult] = []
    context = ProberContext()
    icmp, http = IcmpProber(context), HttpProber(context, resolver=resolver)
    try:
        await icmp.probe_many([d for d in devices if d.host], IcmpCheck(name="reachability", prober="icmp", count=1,
                                                                     timeout=1), results.append)
        await http.probe_many(services, HttpCheck(name="http", prober="http", timeout=3), results.append)
    finally:
        await icmp.close()
        await http.close()
    return results


@pytest.fixture(scope="module")
def province_db(tmp_path_factory: pytest.TempPathFactory):
    """influxd filled by two agents; yields (server, central config, agent configs, stores dir, T0)."""
    _need_influxd()
    root = tmp_path_factory.mktemp("central")
    server = InfluxServer(root / "influxd").start()
    try:
        server.create_database("netmon")
        extra = f"outputs:\n  influxdb: {{name: province, url: '{server.url}', api: v1, database: netmon}}\n"
        configs = {}
        for me in AGENTS:
            (root / f"{me}.yaml").write_text(province(6, AGENTS, me, extra).replace(
                f"agent: {{name: {me},", f"agent: {{name: {me}, state_dir: {root / me},"))
            configs[me] = load_config(root / f"{me}.yaml", environ={})
        asyncio.run(fill(configs))
        yield server, configs, root
    finally:
        server.stop()


T0: dict[str, float] = {}


async def fill(configs: dict[str, Any]) -> None:
    port = free_port()

    async def portal(_request: web.Request) -> web.Response:
        return web.Response(text="Cổng dịch vụ công")

    app = web.Application()
    app.router.add_get("/", portal)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    probed: dict[str, tuple[list[ProbeResult], list[Device]]] = {}
    try:
        for me, config in configs.items():
            # The portal answers on 127.0.0.1; tay's route to it is broken (nothing on 127.0.0.2).
            resolver = Resolver({"portal.test": "127.0.0.1" if me == "dong" else "127.0.0.2",
                                 "motcua.test": "127.0.0.3", "dong-only.test": "127.0.0.3"})
            commune = config.devices[0]
            services = [Device(f"{commune.id.rsplit('/', 1)[0]}/{name}", name, "service", "service",
                               commune.province, commune.commune, "", url=f"http://{name}.test:{port}/")
                        for name in ("portal", "motcua", *(["dong-only"] if me == "dong" else []))]
            results = await probe(list(config.devices), services, resolver)
            assert {r.status for r in results if r.prober == "icmp"} == {Status.OK}
            probed[me] = (results, services)
        # The central view is judged at T0, after every probe: nothing it should see lies in its future.
        now = T0["now"] = time.time() + 0.01
        for me, config in configs.items():
            results, services = probed[me]
            pc = Device(f"{services[0].id.rsplit('/', 1)[0]}/motcua-pc", "motcua-pc", "pc", "pc",
                        services[0].province, services[0].commune, "", host="127.0.0.9")
            health = PcHealth(pc.id, 70 if me == "dong" else 20, ("Windows 7 is end-of-life",) if me == "dong" else (),
                              {"ram_installed_mb": 2048 if me == "dong" else 8192})
            store = Store.open(config.state_dir)
            try:
                store.append([*results, health.to_result(now - 60)])
                store.append(status_results(config, now))
                store.append(outage_results_of(store, config, now))
                # dong beat 10 s ago; tay 50 s ago (alive now, silent 75 s later with a 60 s heartbeat).
                last = now - (10 if me == "dong" else 50)
                store.append([heartbeat(last - 120, len(config.devices)), heartbeat(last, len(config.devices))])
                output = config.settings.outputs.influxdb[0]
                await drain(Forwarder(output, store, TagResolver(me, [*config.all_devices, *services, pc])), store)
            finally:
                store.close()
    finally:
        await runner.cleanup()


def client(server: InfluxServer, configs: dict[str, Any]) -> InfluxQL:
    return InfluxQL(configs["dong"].settings.outputs.influxdb[0])


def local_rows(config: Any, now: float) -> dict[str, tuple]:
    """Each village as the agent's own `netmon status` model shows it."""
    store = Store.open(config.state_dir, readonly=True)
    try:
        snap = load_snapshot(store, Inventory.from_config(config), config.settings.agent.name, [], now)
    finally:
        store.close()
    return {r.info.id: (r.state, r.cause, r.flagged, r.availability_pct, r.loss_pct) for r in snap.villages}


def test_central_status_is_the_union_of_the_agents(province_db) -> None:
    server, configs, _root = province_db
    now = T0["now"]
    pic = province_picture(client(server, configs), configs["dong"], now, TZ, heartbeat_s=HEARTBEAT_S)
    central = {r.info.id: (r.state, r.cause, r.flagged, r.availability_pct, r.loss_pct) for r in pic.snapshot.villages}
    union: dict[str, tuple] = {}
    for config in configs.values():
        mine = local_rows(config, now)
        assert mine and not set(mine) & set(union)
        union.update(mine)
    assert central == union
    assert {a.name for a in pic.agents.values() if not a.silent} == set(AGENTS)
    assert {r.state for r in pic.snapshot.villages} >= {State.GOOD, State.UNSTABLE, State.DOWN}
    # Commune-level devices from the forwarded ping points: every router answered.
    assert all(c.up == 1 and not c.down for c in pic.snapshot.communes.values()), pic.snapshot.communes
    assert len(pic.snapshot.communes) == 6


def test_a_silent_agent_turns_its_villages_unknown(province_db) -> None:
    """75 s later, tay's last heartbeat is 125 s old (> 2 x 60 s): its villages are unknown, dong's are not."""
    server, configs, _root = province_db
    later = T0["now"] + 75
    pic = province_picture(client(server, configs), configs["dong"], later, TZ, heartbeat_s=HEARTBEAT_S)
    tay = {c for c in configs["tay"].assignment.communes_of("tay")}
    assert tay and pic.agents["tay"].silent and not pic.agents["dong"].silent
    before = {r.info.id: r for r in province_picture(client(server, configs), configs["dong"], T0["now"], TZ,
                                                     heartbeat_s=HEARTBEAT_S).snapshot.villages}
    for r in pic.snapshot.villages:
        if r.info.commune_id in tay:
            assert r.state is State.UNKNOWN and r.reason.startswith("agent tay silent since "), r.reason
            assert before[r.info.id].state is not State.UNKNOWN
            assert r.flagged == before[r.info.id].flagged  # the agent's open flags are not dropped
        else:
            assert r.state is not State.UNKNOWN, r.reason
    assert all((c.up, c.unknown) == ((0, 1) if cid in tay else (1, 0)) for cid, c in pic.snapshot.communes.items())
    # Never good, never missing: every village of tay's communes is still listed.
    expected = {v for v in catalog_from_config(configs["tay"]).villages}
    assert expected <= {r.info.id for r in pic.snapshot.villages}


def test_status_and_report_commands(province_db, capsys: pytest.CaptureFixture[str]) -> None:
    """`netmon status --from influxdb` (text and JSON) and `report villages --from influxdb`."""
    _server, configs, root = province_db
    config = str(root / "dong.yaml")
    assert cli.main(["status", "-c", config, "--from", "influxdb", "--once", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["source"] == "influxdb" and {a["name"] for a in doc["agents"]} == set(AGENTS)
    assert len(doc["villages"]) == 12
    assert [p["score"] for p in doc["worst_pcs"]] == [70, 20]
    problems = [p for c in doc["communes"] for p in c["services"]]
    assert sum("portal.test" in p and p.endswith("'s link") for p in problems) == 1  # only from tay's commune
    assert sum("motcua.test" in p and p.endswith("service down") for p in problems) == 2  # from both agents
    assert cli.main(["status", "-c", config, "--from", "influxdb", "--once"]) == 0
    text = capsys.readouterr().out
    assert "12 villages" in text and "agents: dong" in text and " tay " in text
    assert cli.main(["report", "villages", "-c", config, "--from", "influxdb", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    flagged_local = {vid for c in configs.values() for vid, row in local_rows(c, T0["now"]).items() if row[2]}
    flagged_central = {r["village_id"] for rows in report["link"].values() for r in rows} | {
        r["village_id"] for r in report["power"]} | {r["village_id"] for r in report["upstream"]}
    assert flagged_central == flagged_local and report["power"]
    # "since" is the raise time each agent forwarded with the village's status (flagged_since).
    from datetime import datetime

    raised = datetime.fromtimestamp(T0["now"] - 3600, TZ).strftime("%Y-%m-%d %H:%M")
    rows = [r for rows in report["link"].values() for r in rows] + report["power"] + report["upstream"]
    assert {r["since"] for r in rows} == {raised}
    assert all(abs(v["flag_raised_ts"] - (T0["now"] - 3600)) < 0.01 for v in doc["villages"] if v["flagged"])
    assert cli.main(["report", "villages", "-c", config, "--from", "influxdb", "--format", "md"]) == 0
    assert "figures over the last 1h." in capsys.readouterr().out


def test_services_judged_from_both_agents(province_db) -> None:
    """Portal: tay fails, dong reaches it -> tay's link; motcua fails from both -> down; dong-only -> one place."""
    server, configs, _root = province_db
    now = T0["now"]
    verdicts = {v.service.split("//")[1].split(":")[0]: v
                for v in service_verdicts(client(server, configs), now - 600, now + 60, window_s=3600)}
    portal, motcua, single = verdicts["portal.test"], verdicts["motcua.test"], verdicts["dong-only.test"]
    assert portal.latest.verdict is Verdict.LINK and portal.vantages == 2
    assert [p.agent for p in portal.latest.failing] == ["tay"]
    assert portal.latest.text.startswith("fails from ") and "(agent dong) reaches it" in portal.latest.text
    assert portal.latest.text.endswith("'s link")
    assert motcua.latest.verdict is Verdict.DOWN and motcua.latest.text == "fails from every vantage point (2): " \
        "service down"
    assert single.latest.text == "service down (seen from one place)"


def test_cli_services_and_unreachable_influx(province_db, capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    """The services report prints every service's verdict; an unreachable InfluxDB is a clear error."""
    server, _configs, root = province_db
    assert cli.main(["report", "services", "-c", str(root / "dong.yaml"), "--from", "influxdb",
                     "--format", "json", "--days", "1"]) == 0
    rows = {r["service"].split("//")[1].split(":")[0]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"portal.test", "motcua.test", "dong-only.test"}
    assert rows["dong-only.test"]["verdict"] == "service down (seen from one place)"
    dead = (root / "dong.yaml").read_text().replace(server.url, f"http://127.0.0.1:{free_port()}")
    (tmp_path / "dead.yaml").write_text(dead.replace(f"state_dir: {root / 'dong'}", f"state_dir: {tmp_path}"))
    assert cli.main(["status", "-c", str(tmp_path / "dead.yaml"), "--from", "influxdb", "--once"]) == 1
    assert "cannot reach InfluxDB at http://127.0.0.1:" in capsys.readouterr().err


def test_only_reads() -> None:
    """The client refuses anything but SELECT/SHOW before sending it."""
    from netmon.config.schema import InfluxOutput

    out = InfluxOutput.model_validate({"url": "http://127.0.0.1:9", "api": "v1", "database": "netmon"})
    with pytest.raises(CentralError, match="only reads"):
        list(InfluxQL(out).rows('DROP DATABASE "netmon"'))


def test_a_never_started_agent_is_listed_unknown(province_db, tmp_path: Path) -> None:
    """The central config's inventory names a third agent that never ran: its commune's villages are
    listed as unknown (never missing); the villages the others reported keep their state."""
    server, configs, _root = province_db
    text = province(7, [*AGENTS, "bac"], "bac", commune_extra={6: {"agent": "bac"}}).replace(
        "version: 1\n", f"version: 1\noutputs:\n  influxdb: {{name: p, url: '{server.url}', api: v1, "
        "database: netmon}\n")
    (tmp_path / "central.yaml").write_text(text)
    central = load_config(tmp_path / "central.yaml", environ={})
    pic = province_picture(client(server, configs), central, T0["now"], TZ, heartbeat_s=HEARTBEAT_S)
    rows = {r.info.id: r for r in pic.snapshot.villages}
    assert len(rows) == 14
    for vid in ("lai-chau/xa-6/thon-0", "lai-chau/xa-6/thon-1"):
        assert rows[vid].state is State.UNKNOWN and rows[vid].reason == "agent bac has sent no heartbeat"
    assert pic.agents["bac"].silent and pic.agents["bac"].last_ts is None
    union = {vid: row for c in configs.values() for vid, row in local_rows(c, T0["now"]).items()}
    assert {vid: rows[vid].state for vid in union} == {vid: row[0] for vid, row in union.items()}


def test_availability_report_from_influxdb(province_db, capsys: pytest.CaptureFixture[str]) -> None:
    """Monthly availability per village equals what each agent's evaluations said, aggregated in InfluxDB."""
    _server, configs, root = province_db
    from datetime import datetime

    month = datetime.fromtimestamp(T0["now"] - 600, TZ).strftime("%Y-%m")
    assert cli.main(["report", "availability", "-c", str(root / "dong.yaml"), "--from", "influxdb",
                     "--format", "json", "--month", month]) == 0
    doc = json.loads(capsys.readouterr().out)
    villages = {r["id"]: r for r in doc["rows"] if r["level"] == "village"}
    union = {vid: row for c in configs.values() for vid, row in local_rows(c, T0["now"]).items()}
    assert {vid: r["availability_pct"] for vid, r in villages.items()} == {vid: row[3] for vid, row in union.items()}
    assert {r["name"] for r in doc["rows"] if r["level"] == "commune"} == {f"Xã {i}" for i in range(6)}
    # Outages, down time and MTTR: what each agent's own availability report says from its store.
    from netmon.analysis.availability import availability_report
    from netmon.ui.report_villages import month_range

    start, end = month_range(month, "Asia/Ho_Chi_Minh")
    local = {}
    for config in configs.values():
        store = Store.open(config.state_dir, readonly=True)
        try:
            rows = availability_report(store, catalog_from_config(config), start, end, T0["now"])
        finally:
            store.close()
        local |= {r["id"]: r for r in rows if r["level"] == "village"}
    keys = ("outages", "downtime_s", "mttr_s")
    central = {vid: tuple(r[k] for k in keys) for vid, r in villages.items()}
    # An open outage counts to now locally, to its last evaluation centrally: equal here (points written at T0).
    assert central == {vid: tuple(r[k] for k in keys) for vid, r in local.items()}
    assert all(r["outages"] >= 1 for r in villages.values()) and any(r["mttr_s"] != 200.0 for r in villages.values())
    communes = {r["name"]: r for r in doc["rows"] if r["level"] == "commune"}
    assert sum(r["outages"] for r in communes.values()) == sum(r["outages"] for r in villages.values())


def test_pcs_report_from_influxdb(province_db, capsys: pytest.CaptureFixture[str]) -> None:
    """Both agents' PCs in one replacement list, worst first, with the reasons the agents scored."""
    _server, _configs, root = province_db
    assert cli.main(["report", "pcs", "-c", str(root / "dong.yaml"), "--from", "influxdb", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["device"], r["score"]) for r in rows] == [("motcua-pc", 70), ("motcua-pc", 20)]
    assert rows[0]["reasons"] == "Windows 7 is end-of-life" and rows[0]["ram_installed_mb"] == 2048
    assert rows[1]["reasons"] == "" and rows[0]["commune"] != rows[1]["commune"]


def test_a_moved_commune_follows_its_newest_agent(tmp_path: Path) -> None:
    """A village reported first by one agent, then (after a re-assignment) by another: the newer agent's
    status in its short window counts; the old agent's stale series is not shown."""
    from netmon.sinks.lineproto import join_tags, line, tag_pairs

    _need_influxd()
    server = InfluxServer(tmp_path / "influxd").start()
    try:
        server.create_database("netmon")
        now = time.time()
        lines = []
        for agent, ts, state in (("old", now - 900, "down"), ("new", now - 30, "good")):
            lines.append(line("netmon_agent", join_tags(tag_pairs({"agent": agent})), {"targets": 1},
                              int((now - 10) * 1000)))
            for window in ("1h", "24h"):
                tags = join_tags(tag_pairs({"agent": agent, "province": "Lai Châu", "commune": "Sìn Hồ",
                                            "village": "Tả Phìn", "window": window, "operator": "Viettel"}))
                lines.append(line("village_status", tags, {"state": state if window == "1h" else "unstable",
                                                           "flagged": 0, "availability_pct": 99.9}, int(ts * 1000)))
        assert server.write("\n".join(lines))[0] == 204
        from netmon.config.schema import InfluxOutput

        out = InfluxOutput.model_validate({"url": server.url, "api": "v1", "database": "netmon"})
        pic = province_picture(InfluxQL(out), None, now, TZ, heartbeat_s=HEARTBEAT_S)
        (row,) = pic.snapshot.villages
        assert (row.state, row.reason.split(",")[0], row.info.operator) == (State.GOOD, "agent new", "Viettel")
        assert pic.windows[row.info.id] == "1h"
    finally:
        server.stop()
