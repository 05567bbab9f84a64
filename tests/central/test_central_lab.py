"""Three real agents, one province data centre: the central view on real packets.

Each agent is a real `netmon run` daemon in the agent namespace of its own lab (netmon.lab), with
its own commune, villages and store. A fourth namespace, the province data centre, holds Debian's
influxd and a portal web server on 10.97.0.1; each agent reaches it through a veth of its own
(10.97.<i>.0/30), so every byte stays inside namespaces this test created. The portal on :8080
answers 200 except to agent 3, whose packets the data centre rejects (its link to the portal is
broken); the one on :8081 answers 503 to everyone (the service is down). The central commands run
in the data centre namespace, through the real CLI:

- `status --from influxdb` equals the union of the three agents' own `status` (state, cause, flag
  per village), and `report villages --from influxdb` lists the union of their flagged villages;
- the portal failing from agent 3 only is blamed on its commune's link, the one failing from all is
  down;
- agent 3 stopped by PID: its villages are `unknown: agent ... silent since` within two heartbeat
  intervals, measured by a poller in the data centre; the others' villages are not.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.need import need

HEARTBEAT_S = 5.0
DC_ADDR = "10.97.0.1"
INFLUX_PORT, PORTAL_PORT, BROKEN_PORT = 8086, 8080, 8081
NETMON = ("{icmp_interval: 2s, icmp_count: 3, icmp_timeout: 1s, evaluate_every: 5s, window_now: 60s, "
          "window_trend: 10m, raise_after: 2, clear_after: 2}")
# Agent -> (commune, villages, the village with 40 % loss or None).
AGENTS = {
    "huyen-a": ("Sìn Hồ", ["Tả Phìn", "Lossy A"], "Lossy A"),
    "huyen-b": ("Tam Đường", ["Bản Giang", "Lossy B"], "Lossy B"),
    "huyen-c": ("Phong Thổ", ["Mù Sang", "Dào San"], None),
}
BLOCKED = "huyen-c"
"""The agent whose link to the portal is broken, and the one stopped at the end."""
SERVICE_PROFILE = {"kind": "service", "description": "test: the province portal, checked every 3 s",
                   "checks": [{"name": "http", "prober": "http", "interval": "3s", "timeout": "2s",
                               "expect_status": [200]}]}

INFLUX_CONF = """reporting-disabled = true
bind-address = "127.0.0.1:8088"
[meta]
  dir = "{root}/meta"
  logging-enabled = false
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
[retention]
  enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "{addr}:{port}"
  log-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
"""

PORTAL = f"""
import http.server, threading
class Portal(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.server.server_address[1] == {PORTAL_PORT}
        body = ("Cổng dịch vụ công" if ok else "bảo trì").encode()
        self.send_response(200 if ok else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
servers = [http.server.ThreadingHTTPServer(("{DC_ADDR}", p), Portal) for p in ({PORTAL_PORT}, {BROKEN_PORT})]
threading.Thread(target=servers[1].serve_forever, daemon=True).start()
servers[0].serve_forever()
"""

READY = f"""
import sys, time, urllib.request, urllib.parse
deadline = time.time() + 60
while True:
    try:
        urllib.request.urlopen("http://{DC_ADDR}:{INFLUX_PORT}/ping", timeout=2)
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("influxd did not answer /ping in 60 s")
        time.sleep(0.2)
data = urllib.parse.urlencode({{"q": 'CREATE DATABASE "netmon"'}}).encode()
urllib.request.urlopen("http://{DC_ADDR}:{INFLUX_PORT}/query", data=data, timeout=10)
"""

WATCH = """
import json, sys, time
from zoneinfo import ZoneInfo
from netmon.central.influxql import InfluxQL
from netmon.central.province import province_picture
from netmon.config import load_config
config = load_config(sys.argv[1], environ={})
agent, commune, heartbeat_s, budget_s = sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
client, tz = InfluxQL(config.settings.outputs.influxdb[0]), ZoneInfo(config.settings.agent.timezone)
deadline, polls, first, before = time.time() + budget_s, 0, None, None
while time.time() < deadline:
    now = time.time()
    rows = province_picture(client, config, now, tz, heartbeat_s=heartbeat_s).snapshot.villages
    mine = [r for r in rows if r.info.commune == commune]
    silent = bool(mine) and all(r.state.value == "unknown" and r.reason.startswith(f"agent {agent} silent since")
                                for r in mine)
    others = {r.info.id: [r.state.value, r.reason] for r in rows if r.info.commune != commune}
    polls += 1
    if polls == 1:
        print(json.dumps({"first_poll": now, "silent": silent, "mine": len(mine)}), flush=True)
    if silent:
        first = now
        break
    before = now
    time.sleep(0.2)
print(json.dumps({"silent_at": first, "last_not_silent": before, "polls": polls, "others": others}), flush=True)
"""


@dataclass
class Province:
    """Everything the test built, for the assertions and for the teardown."""

    tmp: Path
    dc_ns: str
    labs: dict[str, Any]
    """agent -> LabState."""
    configs: dict[str, Path]
    daemons: dict[str, subprocess.Popen]
    t_start: float

    def dc(self, *args: str, timeout: float = 90.0) -> subprocess.CompletedProcess:
        """Run `python args` inside the data centre namespace (where the central commands run)."""
        from netmon.lab import builder

        return subprocess.run(["ip", "netns", "exec", self.dc_ns, sys.executable, *args], capture_output=True,
                              text=True, timeout=timeout, env=builder.python_env(), check=False)

    def central(self, *args: str) -> Any:
        """A central command (`--from influxdb`, JSON) run through the real CLI in the data centre."""
        done = self.dc("-m", "netmon", *args, "-c", str(self.configs["huyen-a"]), "--from", "influxdb",
                       "--format", "json")
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout)


def _scenario(commune: str, villages: list[str], lossy: str | None) -> str:
    rows = "\n".join(f"      - {{name: {v}, operator: {'Viettel' if i % 2 else 'VNPT'}, "
                     f"devices: [{{name: cpe-{i}, kind: cpe, snmp: none}}]}}" for i, v in enumerate(villages))
    trouble = f"trouble:\n  - {{kind: loss, village: {lossy}, loss_pct: 40, at: 0s}}\n" if lossy else ""
    return (f"lab: 1\nprovince: Lai Châu\nlifetime: 600s\nnetmon: {NETMON}\ncommunes:\n  - name: {commune}\n"
            f"    devices: [{{name: router, kind: router, snmp: none}}]\n    villages:\n{rows}\n{trouble}")


def _agent_config(state: Any, agent: str, commune: str, profiles: Path, out: Path) -> Path:
    """The lab's generated config, made one district agent of the province: name, heartbeat, output, services."""
    data = yaml.safe_load(Path(state.config).read_text(encoding="utf-8"))
    data["agent"].update(name=agent, heartbeat=f"{HEARTBEAT_S:g}s")
    # Rounds settle after two ICMP intervals; the default counts the service devices (no ICMP) as 60 s ones.
    data["analysis"]["settle"] = "4s"
    data["outputs"] = {"influxdb": {"name": "province", "url": f"http://{DC_ADDR}:{INFLUX_PORT}", "api": "v1",
                                    "database": "netmon", "max_backoff": "2s"}}
    data["profiles"] = [str(profiles), *data["profiles"]]
    (com,) = data["inventory"][0]["communes"]
    assert com["name"] == commune
    com["devices"] += [{"name": "portal", "kind": "service", "url": f"http://{DC_ADDR}:{PORTAL_PORT}/"},
                       {"name": "motcua", "kind": "service", "url": f"http://{DC_ADDR}:{BROKEN_PORT}/"}]
    out.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


def _data_centre(dc_ns: str, agent_nss: list[str]) -> None:
    """The data centre namespace: 10.97.0.1 on its loopback, one veth per agent, agent 3 refused by the portal."""
    from netmon.lab import netns

    netns.add(dc_ns)
    netns.ip_batch(dc_ns, [f"addr add {DC_ADDR}/32 dev lo"])
    netns.ip_batch(None, [f"link add dc{i} netns {dc_ns} type veth peer name dc netns {ns}"
                          for i, ns in enumerate(agent_nss, 1)])
    for i, ns in enumerate(agent_nss, 1):
        netns.ip_batch(dc_ns, [f"addr add 10.97.{i}.1/30 dev dc{i}", f"link set dev dc{i} up"])
        netns.ip_batch(ns, [f"addr add 10.97.{i}.2/30 dev dc", "link set dev dc up",
                            f"route add {DC_ADDR}/32 via 10.97.{i}.1 dev dc"])
    blocked = 1 + list(AGENTS).index(BLOCKED)
    netns.nft(dc_ns, "table inet portal {\n chain input {\n  type filter hook input priority 0; policy accept;\n"
              f"  ip saddr 10.97.{blocked}.2 tcp dport {PORTAL_PORT} reject with tcp reset\n }}\n}}\n")


def _stop(proc: subprocess.Popen, grace_s: float = 15.0) -> None:
    """SIGTERM, then SIGKILL, by PID; only processes this test started."""
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Province]:
    need(sys.platform.startswith("linux") and os.geteuid() == 0, "root on Linux (network namespaces)")
    for tool in ("ip", "nft", "snmpd", "influxd"):
        need(shutil.which(tool) is not None, tool)
    from netmon.lab import builder, netns
    from netmon.lab.plan import ns_prefix

    tmp = tmp_path_factory.mktemp("central-lab")
    tag = f"{os.getpid() % 100:02d}"
    names = {agent: f"central{tag}{i}" for i, agent in enumerate(AGENTS)}
    dc_ns = f"{ns_prefix(f'central{tag}d')}dc"
    profiles = tmp / "profiles"
    profiles.mkdir()
    (profiles / "service.yaml").write_text(yaml.safe_dump(SERVICE_PROFILE), encoding="utf-8")
    procs: list[subprocess.Popen] = []
    built: list[str] = []
    p = Province(tmp, dc_ns, {}, {}, {}, 0.0)
    try:
        for agent, (commune, villages, lossy) in AGENTS.items():
            (tmp / f"{agent}.scenario.yaml").write_text(_scenario(commune, villages, lossy), encoding="utf-8")
            built.append(names[agent])
            p.labs[agent] = builder.up(tmp / f"{agent}.scenario.yaml", names[agent], run_dir=tmp / names[agent],
                                       lifetime_s=600)
            p.configs[agent] = _agent_config(p.labs[agent], agent, commune, profiles, tmp / f"{agent}.yaml")
        _data_centre(dc_ns, [p.labs[a].agent_ns for a in AGENTS])
        (tmp / "influxd").mkdir()
        (tmp / "influxd.conf").write_text(INFLUX_CONF.format(root=tmp / "influxd", addr=DC_ADDR, port=INFLUX_PORT))
        for argv, log in ((["influxd", "run", "-config", str(tmp / "influxd.conf")], "influxd.log"),
                          ([sys.executable, "-c", PORTAL], "portal.log")):
            with open(tmp / log, "wb") as out:
                procs.append(subprocess.Popen(["ip", "netns", "exec", dc_ns, *argv], stdout=out,
                                              stderr=subprocess.STDOUT, start_new_session=True))
        ready = p.dc("-c", READY)
        assert ready.returncode == 0, (ready.stderr, (tmp / "influxd.log").read_text()[-2000:])
        p.t_start = time.time()
        for agent in AGENTS:
            with open(tmp / f"{agent}.log", "wb") as out:
                p.daemons[agent] = subprocess.Popen(
                    ["ip", "netns", "exec", p.labs[agent].agent_ns, sys.executable, "-m", "netmon", "run", "-c",
                     str(p.configs[agent])], env=builder.python_env(), stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True)
        yield p
    finally:
        for proc in [*p.daemons.values(), *procs]:
            _stop(proc)
        if netns.exists(dc_ns):
            netns.delete(dc_ns)
        for name in built:
            builder.down(name)


def _local(p: Province, agent: str, *args: str) -> subprocess.Popen:
    from netmon.lab import builder

    return subprocess.Popen([sys.executable, "-m", "netmon", *args, "-c", str(p.configs[agent]), "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=builder.python_env())


def _union_and_central(p: Province, *args: str) -> tuple[list[Any], Any]:
    """The command on every agent's own store and from InfluxDB, run at the same moment."""
    local = [_local(p, a, *args) for a in AGENTS]
    central = p.central(*args)
    docs = []
    for proc in local:
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err[-2000:]
        docs.append(json.loads(out))
    return docs, central


def _villages(doc: dict[str, Any]) -> dict[str, tuple[str, str, bool]]:
    return {v["id"]: (v["state"], v["cause"], v["flagged"]) for v in doc["villages"]}


def _flagged(report: dict[str, Any]) -> set[str]:
    rows = [r for rows in report["link"].values() for r in rows] + report["power"] + report["upstream"]
    return {r["village_id"] for r in rows}


def _since(report: dict[str, Any]) -> dict[str, str]:
    rows = [r for rows in report["link"].values() for r in rows] + report["power"] + report["upstream"]
    return {r["village_id"]: r["since"] for r in rows}


def _logs(p: Province) -> str:
    """The agents' logs without the expected service failures."""
    def lines(agent: str) -> str:
        text = (p.tmp / f"{agent}.log").read_text(errors="replace").splitlines()
        return "\n".join(ln for ln in text if "http down" not in ln)[-1500:]
    return "\n".join(f"--- {a}\n{lines(a)}" for a in AGENTS)


@pytest.mark.slow
@pytest.mark.netns
@pytest.mark.timeout(420)
def test_three_agents_one_province(province: Province) -> None:
    p = province
    # 1. The central view equals the union of the agents' own views, once every village is judged and
    #    the two lossy villages are flagged (polled until then, with a deadline).
    deadline, seen = p.t_start + 180.0, None
    while True:
        assert all(d.poll() is None for d in p.daemons.values()), _logs(p)
        docs, central = _union_and_central(p, "status", "--once")
        union = {k: v for d in docs for k, v in _villages(d).items()}
        mine = _villages(central)
        seen = (union, mine, [v["reason"] for d in docs for v in d["villages"] if v["state"] == "unknown"])
        done = (len(union) == 6 and mine == union and all(s != "unknown" for s, _c, _f in union.values())
                and sum(f for _s, _c, f in union.values()) == 2)
        if done or time.time() > deadline:
            break
        time.sleep(1.0)
    assert done, (seen, _logs(p))
    assert {(v["village"], v["flagged"]) for v in central["villages"] if v["flagged"]} == {("Lossy A", True),
                                                                                        ("Lossy B", True)}
    assert {a["name"] for a in central["agents"] if not a["silent"]} == set(AGENTS)
    # The flagged villages of `report villages`: the same union, and "since" comes from the agents' flags.
    docs, report = _union_and_central(p, "report", "villages")
    assert _flagged(report) == set().union(*(_flagged(d) for d in docs)) and len(_flagged(report)) == 2
    assert _since(report) == {k: v for d in docs for k, v in _since(d).items()}

    # 2. Services judged from the three vantage points (polled: each agent checks every 3 s).
    deadline = time.time() + 60.0
    while True:
        verdicts = {r["service"].rsplit(":", 1)[1].strip("/"): r for r in p.central("report", "services",
                                                                                    "--days", "1")}
        portal, broken = verdicts.get(str(PORTAL_PORT)), verdicts.get(str(BROKEN_PORT))
        good = (portal and broken and portal["verdict_code"] == "link" and broken["verdict_code"] == "down"
                and portal["vantages"] == broken["vantages"] == 3)
        if good or time.time() > deadline:
            break
        time.sleep(1.0)
    assert good, verdicts
    commune_c = AGENTS[BLOCKED][0]
    assert portal["verdict"] == (f"fails from {commune_c} only while {AGENTS['huyen-a'][0]} (agent huyen-a) and "
                                 f"{AGENTS['huyen-b'][0]} (agent huyen-b) reach it: {commune_c}'s link")
    assert portal["links_blamed"].split("; ")[0] == f"{commune_c} (agent {BLOCKED})"
    assert broken["verdict"] == "fails from every vantage point (3): service down"
    status = p.central("status", "--once")
    problems = {c["commune"]: c["services"] for c in status["communes"]}
    assert [s for s in problems[commune_c] if f":{PORTAL_PORT}/" in s] == [
        f"http://{DC_ADDR}:{PORTAL_PORT}/: {portal['verdict']}"]
    for agent, (commune, _v, _l) in AGENTS.items():
        assert any(f":{BROKEN_PORT}/" in s and s.endswith("service down") for s in problems[commune]), problems
        if agent != BLOCKED:
            assert not [s for s in problems[commune] if f":{PORTAL_PORT}/" in s], problems

    # 3. Agent 3 stopped by PID: a poller in the data centre sees its villages go unknown, and when.
    from netmon.lab import builder

    watcher = subprocess.Popen(["ip", "netns", "exec", p.dc_ns, sys.executable, "-c", WATCH,
                                str(p.configs["huyen-a"]), BLOCKED, commune_c, str(HEARTBEAT_S), "60"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=builder.python_env())
    try:
        first = json.loads(watcher.stdout.readline() or "{}")
        assert first.get("silent") is False and first.get("mine") == 2, (first, watcher.stderr.read()[-2000:])
        t_stop = time.time()
        _stop(p.daemons[BLOCKED])
        out, err = watcher.communicate(timeout=90)
    finally:
        _stop(watcher)
    result = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    assert result.get("silent_at") is not None, (result, err[-2000:])
    # The view changed between two polls: the last one still showing the agent's villages was less than
    # two heartbeats after the stop (the poll interval bounds how precisely the moment is known).
    assert result["last_not_silent"] - t_stop < 2 * HEARTBEAT_S, result
    assert result["silent_at"] - result["last_not_silent"] < 2.0, result
    assert all(not reason.startswith("agent huyen-c") and "silent" not in reason
               for _state, reason in result["others"].values()), result["others"]
    assert len(result["others"]) == 4
    status = p.central("status", "--once")
    silent = [a["name"] for a in status["agents"] if a["silent"]]
    assert silent == [BLOCKED]
    assert {v["village"]: v["state"] for v in status["villages"] if v["commune"] == commune_c} == {
        "Mù Sang": "unknown", "Dào San": "unknown"}
    print("CENTRAL-LAB", json.dumps({"silent_after_s": round(result["silent_at"] - t_stop, 2),
                                     "last_not_silent_s": round(result["last_not_silent"] - t_stop, 2),
                                     "watch_polls": result["polls"], "run_s": round(time.time() - p.t_start, 1)}))
