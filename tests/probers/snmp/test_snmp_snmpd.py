"""The snmp prober against a real net-snmp snmpd: values equal what net-snmp's own tools read."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from snmp_helpers import (
    COMMUNITY,
    V3_AUTH,
    V3_PRIV,
    V3_USER,
    Agent,
    by_tag,
    context,
    device,
    free_udp_port,
    netsnmp,
    scalars,
    snmp_check,
)

from netmon.model import Status
from netmon.probers.snmp import SnmpProber
from netmon.writer_log import StateChangeLog

AUTHS = {
    "v2": {"version": "2c", "community": COMMUNITY},
    "v1": {"version": "1", "community": COMMUNITY},
    "v2-wrong": {"version": "2c", "community": "not-the-community"},
    "v3": {"version": "3", "user": V3_USER, "auth": {"protocol": "sha", "key": V3_AUTH},
           "priv": {"protocol": "aes", "key": V3_PRIV}},
    "v3-sha256": {"version": "3", "user": V3_USER + "256", "auth": {"protocol": "sha256", "key": V3_AUTH},
                  "priv": {"protocol": "aes", "key": V3_PRIV}},
    "v3-authnopriv": {"version": "3", "user": V3_USER + "nopriv",
                      "auth": {"protocol": "sha", "key": V3_AUTH}},
    "v3-wrong-auth": {"version": "3", "user": V3_USER, "auth": {"protocol": "sha", "key": "wrong-key-000"},
                      "priv": {"protocol": "aes", "key": V3_PRIV}},
    "v3-wrong-priv": {"version": "3", "user": V3_USER, "auth": {"protocol": "sha", "key": V3_AUTH},
                      "priv": {"protocol": "aes", "key": "wrong-key-000"}},
    "v3-no-user": {"version": "3", "user": "ghost", "auth": {"protocol": "sha", "key": V3_AUTH},
                   "priv": {"protocol": "aes", "key": V3_PRIV}},
}


def run(coro):
    return asyncio.run(coro)


async def probe(agent: Agent, auth: str, kind: str = "pc", **changes):
    prober = SnmpProber(context(AUTHS))
    try:
        return await prober.probe(device(auth, agent.port, auth, kind=kind), snmp_check(kind, **changes))
    finally:
        await prober.close()


def test_pc_profile_matches_net_snmp_tools(snmpd: Agent) -> None:
    result = run(probe(snmpd, "v2"))
    assert result.status is Status.OK, result.reason
    cli = netsnmp("snmpget", snmpd.port, COMMUNITY, "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.3.0",
                  "1.3.6.1.2.1.25.2.2.0")
    fields = scalars(result)
    assert fields["sys_descr"] == cli["1.3.6.1.2.1.1.1.0"]
    assert fields["hr_memory_kb"] == int(cli["1.3.6.1.2.1.25.2.2.0"])
    assert isinstance(fields["uptime_s"], float)
    assert abs(fields["uptime_s"] - int(cli["1.3.6.1.2.1.1.3.0"]) / 100) < 5
    walk = netsnmp("snmpbulkwalk", snmpd.port, COMMUNITY, "1.3.6.1.2.1.25.2.3.1")
    storage = by_tag(result.samples, "hr_storage", "hrStorageIndex")
    cli_indexes = {oid.rsplit(".", 1)[1] for oid in walk if oid.startswith("1.3.6.1.2.1.25.2.3.1.1.")}
    assert set(storage) == cli_indexes
    for index, sample in storage.items():
        assert sample.tags["hrStorageDescr"] == walk[f"1.3.6.1.2.1.25.2.3.1.3.{index}"]
        size = int(walk[f"1.3.6.1.2.1.25.2.3.1.5.{index}"])
        units = int(walk[f"1.3.6.1.2.1.25.2.3.1.4.{index}"].split()[0])
        assert sample.fields["hrStorageSize"] == size
        assert sample.fields["size_bytes"] == size * units
    cpu = netsnmp("snmpbulkwalk", snmpd.port, COMMUNITY, "1.3.6.1.2.1.25.3.3.1.2")
    cpus = [s for s in result.samples if s.measurement == "hr_cpu"]
    assert {s.tags["index"] for s in cpus} == {o.rsplit(".", 1)[1] for o in cpu if "No Such" not in cpu[o]}
    if cpus:
        assert isinstance(fields["cpu_load_avg_pct"], float)


def test_router_profile_interfaces_match_snmpbulkwalk(snmpd: Agent) -> None:
    result = run(probe(snmpd, "v2", kind="router"))
    assert result.status is Status.OK, result.reason
    assert scalars(result)["sys_name"] == "netmon-snmpd"
    walk = netsnmp("snmpbulkwalk", snmpd.port, COMMUNITY, "1.3.6.1.2.1.2.2.1")
    ifaces = by_tag(result.samples, "interface", "ifIndex")
    assert set(ifaces) == {o.rsplit(".", 1)[1] for o in walk if o.startswith("1.3.6.1.2.1.2.2.1.1.")}
    for index, sample in ifaces.items():
        assert sample.tags["ifDescr"] == walk[f"1.3.6.1.2.1.2.2.1.2.{index}"]
        assert sample.fields["ifMtu"] == int(walk[f"1.3.6.1.2.1.2.2.1.4.{index}"])
        assert isinstance(sample.fields["ifHCInOctets"], int)  # ifXTable merged into the same row
        assert "ifName" in sample.tags


@pytest.mark.parametrize("auth", ["v3", "v3-sha256", "v3-authnopriv"])
def test_v3_answers(snmpd: Agent, auth: str) -> None:
    result = run(probe(snmpd, auth, kind="router"))
    assert result.status is Status.OK, result.reason
    assert scalars(result)["sys_name"] == "netmon-snmpd"


@pytest.mark.parametrize(("auth", "status", "words"), [
    ("v2-wrong", Status.TIMEOUT, "wrong community or agent down"),
    ("v3-wrong-auth", Status.AUTH_FAILED, "wrong key"),
    ("v3-no-user", Status.AUTH_FAILED, "user unknown"),
    ("v3-wrong-priv", Status.TIMEOUT, "privacy key"),
])
def test_bad_credentials_have_distinct_statuses(snmpd: Agent, auth: str, status: Status, words: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    result = run(probe(snmpd, auth, timeout=0.5, retries=0))
    assert result.status is status
    assert words in result.reason
    assert result.samples == ()
    for secret in (V3_AUTH, V3_PRIV, COMMUNITY, "wrong-key-000", "not-the-community"):
        assert secret not in caplog.text and secret not in result.reason


def test_missing_oid_is_ok_with_reason_and_all_missing_is_mismatch(snmpd: Agent) -> None:
    get = {"sys_name": "1.3.6.1.2.1.1.5.0", "rsrp_dbm": "1.3.6.1.4.1.99999.1.1.0"}
    result = run(probe(snmpd, "v2", kind="cpe", get=get, walk={}))
    assert result.status is Status.OK
    assert "rsrp_dbm" in result.reason
    assert "rsrp_dbm" not in scalars(result)
    nothing = run(probe(snmpd, "v2", kind="cpe", get={"rsrp_dbm": "1.3.6.1.4.1.99999.1.1.0"},
                        walk={"vendor": "1.3.6.1.4.1.99999.2"}))
    assert nothing.status is Status.MISMATCH
    assert "none of the OIDs" in nothing.reason


def test_dead_port_times_out_within_its_budget(snmpd: Agent) -> None:
    t0 = time.monotonic()
    prober = SnmpProber(context(AUTHS))
    dead = device("dead", free_udp_port(), "v2")
    result = run(prober.probe(dead, snmp_check("pc", timeout=0.4, retries=1)))
    elapsed = time.monotonic() - t0
    assert result.status is Status.TIMEOUT
    assert 0.7 <= elapsed < 2.0  # 0.4 s x 2 tries, walks skipped after the GET failed


def test_state_changes_logged_once_and_socket_buffer_grown(snmpd: Agent,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    import socket

    """The prober and the writer's state-change log together say each change once (the writer says it)."""
    changes = StateChangeLog(lambda device_id: device_id)

    async def polls() -> int:
        prober = SnmpProber(context(AUTHS))
        check = snmp_check("router", timeout=0.3, retries=0, walk={})
        try:
            for auth in ("v2-wrong", "v2-wrong", "v2-wrong", "v2", "v2"):
                changes([await prober.probe(device("flappy", snmpd.port, auth, kind="router"), check)])
            return prober.client.transport.receive_buffer_bytes(socket.AF_INET) or 0
        finally:
            await prober.close()

    caplog.set_level(logging.INFO, logger="netmon")
    rcvbuf = run(polls())
    messages = [r.getMessage() for r in caplog.records if "flappy" in r.getMessage()]
    assert len(messages) == 2, messages  # down once (warning), back once (info)
    assert "system down: no answer" in messages[0] and "system recovered after" in messages[1]
    assert rcvbuf >= 8 << 20


def test_v1_no_such_name_loses_only_the_missing_oid(snmpd: Agent) -> None:
    """SNMPv1 fails a whole GET at one unknown OID: the prober asks again without it."""
    get = {**snmp_check("cpe").get, "rsrp_dbm": "1.3.6.1.4.1.99999.1.1.0", "sinr_db": "1.3.6.1.4.1.99999.1.2.0"}
    result = run(probe(snmpd, "v1", kind="cpe", get=get, walk={}))
    assert result.status is Status.OK, result.reason
    fields = scalars(result)
    assert fields["sys_name"] == "netmon-snmpd" and isinstance(fields["uptime_s"], float)
    assert fields["sys_descr"] and "rsrp_dbm" not in fields and "sinr_db" not in fields
    assert "not on this agent: rsrp_dbm, sinr_db" in result.reason
    assert "noSuchName" in result.reason
