"""The v1/v2c client over its own transport: against snmpd and net-snmp's tools, dead ports, hostile replies."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable

import pytest
from pyasn1.codec.ber import decoder
from pysnmp.proto import rfc1902
from snmp_helpers import COMMUNITY, Agent, free_udp_port, netsnmp, pysnmp_response
from snmp_helpers import V2_API as V2

from netmon.config.schema import SnmpAuth
from netmon.model import Status
from netmon.probers.snmp_client import MAX_WALK_CALLS, MISSING, SnmpClient
from netmon.probers.snmp_transport import SnmpTransport
from netmon.probers.snmp_wire import RawValue
from tests.fixtures.need import need

V2C = SnmpAuth(version="2c", community=COMMUNITY)
V1 = SnmpAuth(version="1", community=COMMUNITY)
SCALARS = [f"1.3.6.1.2.1.1.{i}.0" for i in range(1, 8)] + [
    "1.3.6.1.2.1.2.1.0", "1.3.6.1.2.1.25.1.1.0", "1.3.6.1.2.1.25.2.2.0"]
IF_TABLE, HR_STORAGE = "1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.25.2.3.1"
# values that move between two reads: uptimes, traffic counters, memory in use
DYNAMIC = ("1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.25.1.1.0", *(f"{IF_TABLE}.{c}." for c in range(9, 22)),
           f"{HR_STORAGE}.6.")


def same_value(ours: object, cli: str, oid: str) -> bool:
    """Does our decoded value equal what net-snmp printed (-On -Oq -Ot -Oe)?"""
    if ours is MISSING:
        return cli.startswith(("No Such Instance", "No Such Object"))
    if oid.startswith(DYNAMIC):
        return isinstance(ours, int)
    if isinstance(ours, int):
        return ours == int(cli.split()[0])  # "4096 Bytes" for hrStorageAllocationUnits
    if isinstance(ours, bytes):
        try:
            if ours.decode("ascii") == cli:
                return True
        except UnicodeDecodeError:
            pass
        return " ".join(f"{b:02X}" for b in ours) == cli.strip().upper() or \
            ":".join(f"{b:x}" for b in ours) == cli  # MAC addresses print as 0:11:22:...
    return ours == cli.lstrip(".")


def test_get_matches_snmpget(snmpd: Agent) -> None:
    answer = asyncio.run(_with_client(lambda c: c.get("127.0.0.1", snmpd.port, V2C, SCALARS, 2.0, 1)))
    cli = netsnmp("snmpget", snmpd.port, COMMUNITY, *SCALARS)
    assert answer.status is None, answer.reason
    assert [oid for oid, _ in answer.varbinds] == SCALARS
    for oid, value in answer.varbinds:
        assert same_value(value, cli[oid], oid), (oid, value, cli[oid])
    assert dict(answer.varbinds)["1.3.6.1.2.1.1.5.0"] == b"netmon-snmpd"


@pytest.mark.parametrize("root", [IF_TABLE, HR_STORAGE, "1.3.6.1.2.1.1"])
@pytest.mark.parametrize("reps", [1, 7, 25])
def test_walk_matches_snmpbulkwalk(snmpd: Agent, root: str, reps: int) -> None:
    answer = asyncio.run(_with_client(lambda c: c.walk("127.0.0.1", snmpd.port, V2C, root, 2.0, 1, reps)))
    cli = netsnmp("snmpbulkwalk", snmpd.port, COMMUNITY, root)
    assert answer.status is None, answer.reason
    assert [oid for oid, _ in answer.varbinds] == list(cli)
    assert len(cli) > 10
    for oid, value in answer.varbinds:
        assert same_value(value, cli[oid], oid), (oid, value, cli[oid])


def test_v1_get_walk_and_no_such_name(snmpd: Agent) -> None:
    async def run(client: SnmpClient):
        get = await client.get("127.0.0.1", snmpd.port, V1, ["1.3.6.1.2.1.1.5.0"], 2.0, 1)
        missing = await client.get("127.0.0.1", snmpd.port, V1,
                                   ["1.3.6.1.4.1.99999.2.0", "1.3.6.1.2.1.1.5.0", "1.3.6.1.4.1.99999.1.0",
                                    "1.3.6.1.2.1.1.3.0"], 2.0, 1)
        v1_walk = await client.walk("127.0.0.1", snmpd.port, V1, HR_STORAGE, 2.0, 1, 25)
        v2_walk = await client.walk("127.0.0.1", snmpd.port, V2C, HR_STORAGE, 2.0, 1, 25)
        return get, missing, v1_walk, v2_walk

    get, missing, v1_walk, v2_walk = asyncio.run(_with_client(run))
    assert get.status is None and get.varbinds == [("1.3.6.1.2.1.1.5.0", b"netmon-snmpd")]
    # v1 fails the whole PDU at the first unknown OID: asked again without it, as net-snmp does,
    # the known scalars still come back (in the order asked)
    assert missing.status is None, missing.reason
    got = dict(missing.varbinds)
    assert [o for o, _ in missing.varbinds][:2] == ["1.3.6.1.4.1.99999.2.0", "1.3.6.1.2.1.1.5.0"]
    assert got["1.3.6.1.2.1.1.5.0"] == b"netmon-snmpd" and isinstance(got["1.3.6.1.2.1.1.3.0"], int)
    assert got["1.3.6.1.4.1.99999.2.0"] is MISSING and got["1.3.6.1.4.1.99999.1.0"] is MISSING
    assert "noSuchName for 1.3.6.1.4.1.99999.2.0, 1.3.6.1.4.1.99999.1.0" in missing.reason
    assert v1_walk.status is None
    assert [o for o, _ in v1_walk.varbinds] == [o for o, _ in v2_walk.varbinds]


def test_v2c_missing_oids_and_end_of_mib(snmpd: Agent) -> None:
    async def run(client: SnmpClient):
        get = await client.get("127.0.0.1", snmpd.port, V2C, ["1.3.6.1.4.1.99999.1.0", "1.3.6.1.2.1.1.5.0"],
                               2.0, 1)
        past_end = await client.walk("127.0.0.1", snmpd.port, V2C, "1.3.6.1.6.3.99", 2.0, 1, 10)
        return get, past_end

    get, past_end = asyncio.run(_with_client(run))
    assert get.varbinds == [("1.3.6.1.4.1.99999.1.0", MISSING), ("1.3.6.1.2.1.1.5.0", b"netmon-snmpd")]
    assert past_end.status is None and past_end.varbinds == []


def test_dead_port_times_out_after_each_retry() -> None:
    """A loopback socket that never answers: exactly 1 + retries packets, then TIMEOUT on time."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        sink.setblocking(False)
        port = sink.getsockname()[1]
        t0 = time.monotonic()
        answer = asyncio.run(_with_client(lambda c: c.get("127.0.0.1", port, V2C, SCALARS, 0.2, 2)))
        elapsed = time.monotonic() - t0
        packets = []
        while True:
            try:
                packets.append(sink.recv(65535))
            except BlockingIOError:
                break
    assert answer.status is Status.TIMEOUT and "wrong community or agent down" in answer.reason
    assert 0.6 <= elapsed < 1.2
    assert len(packets) == 3 and len(set(packets)) == 1  # retries resend the same request-id
    closed_port = free_udp_port()
    t0 = time.monotonic()
    walk = asyncio.run(_with_client(lambda c: c.walk("127.0.0.1", closed_port, V2C, IF_TABLE, 0.15, 1, 25)))
    assert walk.status is Status.TIMEOUT and 0.3 <= time.monotonic() - t0 < 0.9


class Responder(asyncio.DatagramProtocol):
    """A loopback agent written for the test: answers by `handler`, which may misbehave."""

    def __init__(self, handler: Callable[[Responder, bytes, tuple], None]) -> None:
        self.handler, self.requests, self.transport = handler, 0, None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.requests += 1
        self.handler(self, data, addr)


def parse_request(data: bytes) -> tuple[int, str, list[tuple[int, ...]]]:
    """(request-id, community, OIDs) of a request, read with pyasn1."""
    msg, _ = decoder.decode(data, asn1Spec=V2.Message())
    pdu = V2.apiMessage.get_pdu(msg)
    return (int(V2.apiPDU.get_request_id(pdu)), str(msg["community"]),
            [tuple(n) for n, _ in V2.apiPDU.get_varbinds(pdu)])


def answer_for(data: bytes, community: str | None = None, request_id: int | None = None) -> bytes:
    """A correct Response to `data` (each OID answered with its own last sub-identifier)."""
    rid, comm, oids = parse_request(data)
    return pysnmp_response([(o, rfc1902.Gauge32(o[-1])) for o in oids], community=community or comm,
                           request_id=rid if request_id is None else request_id)


async def _serve(handler, host: str = "127.0.0.1") -> tuple[Responder, int]:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_datagram_endpoint(lambda: Responder(handler), local_addr=(host, 0))
    return proto, proto.transport.get_extra_info("sockname")[1]


def test_ipv6_loopback_uses_its_own_socket() -> None:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError as exc:
        need(False, f"IPv6 on loopback ({exc})")

    async def run():
        proto, port = await _serve(lambda p, data, addr: p.transport.sendto(answer_for(data), addr), "::1")
        client = SnmpClient()
        try:
            answer = await client.get("0:0::1", port, V2C, ["1.3.6.1.2.1.1.3.0"], 1.0, 0)
            return answer, client.transport.receive_buffer_bytes(socket.AF_INET6)
        finally:
            client.close()
            proto.transport.close()

    answer, rcvbuf = asyncio.run(run())
    assert answer.status is None and answer.varbinds == [("1.3.6.1.2.1.1.3.0", 0)]
    assert rcvbuf is not None and rcvbuf >= 8 << 20


def test_hostile_replies_are_dropped_and_the_real_one_accepted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.2", 0))  # same request-id from another address must not be taken

    def hostile(proto: Responder, data: bytes, addr: tuple) -> None:
        good = answer_for(data)
        for junk in (good[:-3], good + b"\x00", b"\x30\x84" + good, b"garbage",
                     answer_for(data, community="guessed"), answer_for(data, request_id=7)):
            proto.transport.sendto(junk, addr)
        other.sendto(good, addr)
        if proto.requests >= 2:  # the first try gets only junk: the retry must still succeed
            proto.transport.sendto(good, addr)

    async def run():
        proto, port = await _serve(hostile)
        client = SnmpClient()
        try:
            answer = await client.get("127.0.0.1", port, V2C, ["1.3.6.1.2.1.1.5.0", "1.3.6.1.4.1.9.77"],
                                      0.3, 2)
            return answer, dict(client.transport.stats), proto.requests
        finally:
            client.close()
            proto.transport.close()

    try:
        answer, stats, requests = asyncio.run(run())
    finally:
        other.close()
    assert answer.status is None, answer.reason
    assert answer.varbinds == [("1.3.6.1.2.1.1.5.0", 0), ("1.3.6.1.4.1.9.77", 77)]
    assert requests == 2 and stats["retries"] == 1
    assert stats["malformed"] == 8 and stats["wrong_header"] == 2 and stats["wrong_source"] == 2
    assert stats["unmatched"] == 2
    assert COMMUNITY not in caplog.text and "guessed" not in caplog.text
    assert "dropped an SNMP reply from 127.0.0.1" in caplog.text


def test_only_garbage_times_out_without_hanging() -> None:
    def garbage(proto: Responder, data: bytes, addr: tuple) -> None:
        for i in range(50):
            proto.transport.sendto(bytes([0x30, 0x82, i, 0xFF]) + data[: i % 7], addr)

    async def run():
        proto, port = await _serve(garbage)
        client = SnmpClient()
        try:
            t0 = time.monotonic()
            walk = await client.walk("127.0.0.1", port, V2C, IF_TABLE, 0.2, 1, 25)
            return walk, time.monotonic() - t0, client.transport.stats["malformed"]
        finally:
            client.close()
            proto.transport.close()

    walk, elapsed, malformed = asyncio.run(run())
    assert walk.status is Status.TIMEOUT and 0.4 <= elapsed < 1.0
    assert malformed == 100


def test_non_increasing_walk_stops_with_an_error() -> None:
    def loop_back(proto: Responder, data: bytes, addr: tuple) -> None:
        rid, comm, _ = parse_request(data)
        vbs = [((1, 3, 6, 1, 2, 1, 2, 2, 1, 1, i), rfc1902.Integer32(i)) for i in (1, 2, 2)]
        proto.transport.sendto(pysnmp_response(vbs, community=comm, request_id=rid), addr)

    async def run():
        proto, port = await _serve(loop_back)
        client = SnmpClient()
        try:
            return await client.walk("127.0.0.1", port, V2C, IF_TABLE, 0.5, 0, 25), proto.requests
        finally:
            client.close()
            proto.transport.close()

    walk, requests = asyncio.run(run())
    assert walk.status is Status.ERROR and "not increasing" in walk.reason
    assert [o for o, _ in walk.varbinds] == [f"{IF_TABLE}.1.1", f"{IF_TABLE}.1.2"] and requests == 1


def test_in_flight_requests_are_bounded() -> None:
    waiting: list[tuple[bytes, tuple]] = []
    peak = 0

    def slow(proto: Responder, data: bytes, addr: tuple) -> None:
        nonlocal peak
        waiting.append((data, addr))
        peak = max(peak, len(waiting))
        asyncio.get_running_loop().call_later(0.02, lambda: proto.transport.sendto(
            answer_for(*waiting.pop(0)[:1]), addr))

    async def run():
        proto, port = await _serve(slow)
        client = SnmpClient(transport=SnmpTransport(max_in_flight=4))
        try:
            return await asyncio.gather(*(client.get("127.0.0.1", port, V2C, [f"1.3.6.1.9.{i}"], 2.0, 0)
                                          for i in range(40)))
        finally:
            client.close()
            proto.transport.close()

    answers = asyncio.run(run())
    assert [a.varbinds for a in answers] == [[(f"1.3.6.1.9.{i}", i)] for i in range(40)]
    assert peak == 4


def test_unknown_application_type_is_kept_opaque_not_the_whole_reply_lost() -> None:
    marker = b"\xaa\xbb\xcc\xdd"

    def nsap(proto: Responder, data: bytes, addr: tuple) -> None:
        rid, comm, oids = parse_request(data)
        vbs = [(o, rfc1902.OctetString(marker) if o[-2] == 9 else rfc1902.Gauge32(7)) for o in oids]
        raw = pysnmp_response(vbs, community=comm, request_id=rid)
        proto.transport.sendto(raw.replace(b"\x04\x04" + marker, b"\x45\x04" + marker), addr)  # NsapAddress

    async def run():
        proto, port = await _serve(nsap)
        client = SnmpClient()
        try:
            return await client.get("127.0.0.1", port, V2C, ["1.3.6.1.9.9.0", "1.3.6.1.9.8.0"], 1.0, 0)
        finally:
            client.close()
            proto.transport.close()

    answer = asyncio.run(run())
    assert answer.status is None, answer.reason
    value = dict(answer.varbinds)["1.3.6.1.9.9.0"]
    assert isinstance(value, RawValue) and value.type_name == "NsapAddress" and value.raw == marker
    assert dict(answer.varbinds)["1.3.6.1.9.8.0"] == 7


def test_walk_cut_at_the_call_cap_says_so() -> None:
    def endless(proto: Responder, data: bytes, addr: tuple) -> None:
        rid, comm, (oid,) = parse_request(data)
        last = oid[10] if len(oid) > 10 else 0  # an ifTable column 1 that never ends
        vbs = [((*oid[:9], 1, last + k), rfc1902.Integer32(1)) for k in (1, 2)]
        proto.transport.sendto(pysnmp_response(vbs, community=comm, request_id=rid), addr)

    async def run():
        proto, port = await _serve(endless)
        client = SnmpClient()
        try:
            return await client.walk("127.0.0.1", port, V2C, IF_TABLE, 1.0, 0, 2), proto.requests
        finally:
            client.close()
            proto.transport.close()

    walk, requests = asyncio.run(run())
    assert requests == MAX_WALK_CALLS and len(walk.varbinds) == 2 * MAX_WALK_CALLS
    assert walk.status is None
    assert f"stopped at the {MAX_WALK_CALLS}-request cap after {2 * MAX_WALK_CALLS} cells: table incomplete" \
        in walk.reason


async def _with_client(call):
    client = SnmpClient()
    try:
        return await call(client)
    finally:
        client.close()
