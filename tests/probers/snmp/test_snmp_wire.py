"""The BER codec against pyasn1 (pysnmp's encoder as an independent reference) and hostile bytes."""

from __future__ import annotations

import random

import pytest
from pyasn1.codec.ber import decoder, encoder
from pyasn1.type import univ
from pysnmp.proto import rfc1902, rfc1905
from snmp_helpers import V1_API as V1
from snmp_helpers import V2_API as V2
from snmp_helpers import pysnmp_response

from netmon.probers import snmp_wire as wire
from netmon.probers.snmp_wire import END_OF_MIB, MISSING, WireError

HIGH = 2**32 - 1
LONG_OID = (1, 3, 6, 1, 4, 1, *range(200, 200 + 122))  # 128 sub-identifiers


VALUES = [
    (rfc1902.Integer32(-(2**31)), -(2**31)),
    (rfc1902.Integer32(-1), -1),
    (rfc1902.Integer32(0), 0),
    (rfc1902.Integer32(127), 127),
    (rfc1902.Integer32(128), 128),
    (rfc1902.Integer32(-129), -129),
    (rfc1902.Integer32(2**31 - 1), 2**31 - 1),
    (rfc1902.OctetString(b""), b""),
    (rfc1902.OctetString(b"\x00\xff\x80binary"), b"\x00\xff\x80binary"),
    (rfc1902.OctetString("Lào Cai ·".encode()), "Lào Cai ·".encode()),
    (rfc1902.OctetString(b"x" * 300), b"x" * 300),  # two-octet length form
    (rfc1902.OctetString(b"y" * 35000), b"y" * 35000),  # 0x82 length inside a big message
    (univ.Null(""), ""),
    (rfc1902.ObjectIdentifier((1, 3, 6, 1, 4, 1, HIGH, 2**28 + 1, 128, 16383, 16384)),
     f"1.3.6.1.4.1.{HIGH}.{2**28 + 1}.128.16383.16384"),
    (rfc1902.ObjectIdentifier((2, 999, 1)), "2.999.1"),
    (rfc1902.IpAddress("10.20.255.0"), "10.20.255.0"),
    (rfc1902.Counter32(0), 0),
    (rfc1902.Counter32(2**31), 2**31),
    (rfc1902.Counter32(HIGH), HIGH),
    (rfc1902.Gauge32(HIGH), HIGH),
    (rfc1902.Unsigned32(1_000_000_000), 1_000_000_000),
    (rfc1902.TimeTicks(HIGH), HIGH),
    (rfc1902.Opaque(b"\x9f\x78\x04\x3f\x80\x00\x00"), b"\x9f\x78\x04\x3f\x80\x00\x00"),
    (rfc1902.Counter64(0), 0),
    (rfc1902.Counter64(2**63), 2**63),
    (rfc1902.Counter64(2**64 - 1), 2**64 - 1),
    (rfc1905.NoSuchObject(""), MISSING),
    (rfc1905.NoSuchInstance(""), MISSING),
    (rfc1905.EndOfMibView(""), END_OF_MIB),
]


@pytest.mark.parametrize(("value", "expected"), VALUES, ids=[f"{type(v).__name__}-{i}" for i, (v, _) in
                                                              enumerate(VALUES)])
def test_every_value_type_decodes_as_pyasn1_encodes_it(value: object, expected: object) -> None:
    name = (1, 3, 6, 1, 2, 1, 2, 2, 1, 10, 7)
    response = wire.decode_response(pysnmp_response([(name, value)]))
    assert response.version == wire.VERSION_2C and response.community == b"public"
    assert response.request_id == 1234 and response.error_status == 0
    assert response.varbinds == [(name, expected)]
    assert type(response.varbinds[0][1]) is type(expected)


def test_many_varbinds_long_and_high_oids_and_header_fields() -> None:
    names = [(1, 3, 6, 1, 2, 1, 2, 2, 1, col, idx) for col in range(1, 23) for idx in (1, 2, 300)]
    names += [LONG_OID, (1, 3, 6, 1, 4, 1, HIGH, 2**28, 2**28 + 7, 0)]
    varbinds = [(n, rfc1902.Counter64(i * 2**40)) for i, n in enumerate(names)]
    data = pysnmp_response(varbinds, community="c" * 200, request_id=2**31 - 1, error_status=5,
                           error_index=68)
    assert data[1] == 0x82  # the outer length needs two octets
    response = wire.decode_response(data)
    assert response.community == b"c" * 200 and response.request_id == 2**31 - 1
    assert (response.error_status, response.error_index) == (5, 68)
    assert response.varbinds == [(n, i * 2**40) for i, n in enumerate(names)]


def test_v1_response_with_negative_request_id_decodes() -> None:
    data = pysnmp_response([((1, 3, 6, 1, 2, 1, 1, 5, 0), rfc1902.Integer32(-5))], version=V1,
                           request_id=-7, error_status=2, error_index=1)
    response = wire.decode_response(data)
    assert (response.version, response.request_id, response.error_status) == (wire.VERSION_1, -7, 2)
    assert wire.error_name(response.error_status) == "noSuchName"


@pytest.mark.parametrize("value", [0, 1, -1, 127, 128, -128, -129, 255, 256, 2**31 - 1, -(2**31), HIGH,
                                   2**63, -(2**63)])
def test_integers_encode_minimal_and_pyasn1_reads_them(value: int) -> None:
    encoded = wire.encode_integer(value)
    decoded, rest = decoder.decode(encoded)
    assert int(decoded) == value and rest == b""
    if encoded[1] > 1:  # X.690 8.3.2: the first nine bits are neither all zeros nor all ones
        nine = (encoded[2] << 1) | (encoded[3] >> 7)
        assert nine not in (0, 0x1FF), encoded.hex()
    # pyasn1 pads negative powers of two (-128 -> ff 80); everything else must be byte-identical
    if not (value < 0 and (-value & (-value - 1)) == 0):
        assert encoded == encoder.encode(univ.Integer(value))


def test_random_oids_encode_like_pyasn1_and_decode_back() -> None:
    rng = random.Random(7)
    for _ in range(500):
        first = rng.choice((0, 1, 2))
        second = rng.randrange(40) if first < 2 else rng.choice((0, 39, 47, 48, 175, 2**20))
        tail = [rng.choice((0, 1, 127, 128, 16383, 16384, 2**21, 2**28 - 1, 2**28, HIGH,
                            rng.randrange(HIGH))) for _ in range(rng.randrange(0, 126))]
        oid = (first, second, *tail)
        encoded = wire.encode_oid(oid)
        assert encoded == encoder.encode(univ.ObjectIdentifier(oid)), oid
        assert wire._decode_oid(encoded[2 if encoded[1] < 0x80 else 2 + (encoded[1] & 0x7F):]) == oid
        assert wire.parse_oid("." + wire.oid_text(oid)) == oid


@pytest.mark.parametrize(("pdu_type", "spec"), [(wire.GET, V2.GetRequestPDU()),
                                                (wire.GETNEXT, V2.GetNextRequestPDU()),
                                                (wire.GETBULK, V2.GetBulkRequestPDU())])
def test_requests_decode_in_pyasn1(pdu_type: int, spec: object) -> None:
    oids = [(1, 3, 6, 1, 2, 1, 1, 3, 0), (1, 3, 6, 1, 4, 1, HIGH, 2**28 + 3), LONG_OID]
    body = b"".join(wire.encode_varbind(o) for o in oids)
    reps = 25 if pdu_type == wire.GETBULK else 0
    data = wire.encode_request(wire.VERSION_2C, b"s3cret", pdu_type, 0x7FFFFFFF, body, 0, reps)
    msg, rest = decoder.decode(data, asn1Spec=V2.Message())
    assert rest == b""
    assert int(msg["version"]) == 1 and bytes(msg["community"]) == b"s3cret"
    pdu = V2.apiMessage.get_pdu(msg)
    assert pdu.tagSet == spec.tagSet
    assert int(V2.apiPDU.get_request_id(pdu)) == 0x7FFFFFFF
    if pdu_type == wire.GETBULK:
        assert int(V2.apiBulkPDU.get_max_repetitions(pdu)) == 25
        assert int(V2.apiBulkPDU.get_non_repeaters(pdu)) == 0
    assert [tuple(name) for name, _ in V2.apiPDU.get_varbinds(pdu)] == oids


def test_request_round_trips_through_our_decoder() -> None:
    body = b"".join(wire.encode_varbind(wire.parse_oid(f"1.3.6.1.2.1.1.{i}.0")) for i in range(1, 40))
    data = bytearray(wire.encode_request(wire.VERSION_1, b"pub", wire.GETNEXT, 42, body))
    pdu_at = data.index(wire.GETNEXT, 5 + len(b"pub"))
    data[pdu_at] = wire.RESPONSE
    response = wire.decode_response(bytes(data))
    assert response.request_id == 42 and response.version == wire.VERSION_1
    assert [(wire.oid_text(n), v) for n, v in response.varbinds] == [
        (f"1.3.6.1.2.1.1.{i}.0", "") for i in range(1, 40)]


def test_requests_that_cannot_be_sent_are_refused() -> None:
    with pytest.raises(WireError):
        wire.encode_request(wire.VERSION_1, b"c", wire.GETBULK, 1, b"")
    for bad in ("1", "3.1.2", "1.40.1", "1.3.x", "1.3.-1", f"1.3.{2**32}", ".".join(["1"] * 129)):
        with pytest.raises(WireError):
            wire.parse_oid(bad)


GOOD = pysnmp_response([((1, 3, 6, 1, 2, 1, 1, 5, 0), rfc1902.OctetString(b"router")),
                        ((1, 3, 6, 1, 2, 1, 1, 3, 0), rfc1902.TimeTicks(12345)),
                        ((1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6, 2), rfc1902.Counter64(10_000_004_000))])


def _swap_value(value_tlv: bytes) -> bytes:
    """GOOD with the sysName value TLV (06 bytes "router") replaced by `value_tlv`, lengths fixed."""
    vb = bytes.fromhex("06082b06010201010500") + value_tlv
    vbs = bytes((0x30, len(vb))) + vb
    pdu = bytes.fromhex("020204d2020100020100")
    vbl = bytes((0x30, len(vbs))) + vbs
    pdu_tlv = bytes((0xA2, len(pdu) + len(vbl))) + pdu + vbl
    head = bytes.fromhex("020101") + bytes((0x04, 6)) + b"public"
    return bytes((0x30, len(head) + len(pdu_tlv))) + head + pdu_tlv


def test_swap_helper_builds_a_valid_message() -> None:
    assert wire.decode_response(_swap_value(bytes.fromhex("4104ffffffff"))).varbinds[0][1] == HIGH


@pytest.mark.parametrize("value_tlv", [
    "0200", "0206010000000000", "020501ffffffff",  # empty, 6-byte, beyond 2^32-1
    "4105010000000000", "410600000000ff00", "4100",  # Counter32 too big / too long / empty
    "460a00010000000000000000", "460901ffffffffffffffff",  # Counter64 too long / too big
    "4005010203040a", "400101",  # IpAddress not 4 bytes
    "050100", "800101", "820100",  # NULL / exceptions with content
    "0600", "06028000", "06022b86", "06062b9080808000",  # OID: empty, 0x80 lead, cut, > 2^32-1
    "a000", "3000", "1f0100", "5f2001ff",  # constructed / high-tag types
])
def test_malformed_values_are_refused(value_tlv: str) -> None:
    with pytest.raises(WireError):
        wire.decode_response(_swap_value(bytes.fromhex(value_tlv)))


@pytest.mark.parametrize(("value_tlv", "name"), [
    ("4701ff", "UInteger32"), ("450449000167", "NsapAddress"), ("4e00", "application type 0x4e"),
])
def test_unknown_application_types_decode_as_opaque_values(value_tlv: str, name: str) -> None:
    (_, value), = wire.decode_response(_swap_value(bytes.fromhex(value_tlv))).varbinds
    assert isinstance(value, wire.RawValue)
    assert value.type_name == name and value.raw == bytes.fromhex(value_tlv)[2:]


def test_oid_longer_than_128_subids_is_refused() -> None:
    body = bytes([0x2B] + [1] * 128)
    with pytest.raises(WireError):
        wire.decode_response(_swap_value(bytes((0x06, 0x81, len(body))) + body))


@pytest.mark.parametrize("mangle", [
    lambda b: b[:-1],  # truncated
    lambda b: b + b"\x00",  # trailing garbage
    lambda b: b"\x30\x80" + b[2:],  # indefinite length
    lambda b: b"\x30\x84\x00\x00\x00" + bytes((len(b) - 2,)) + b[2:],  # 4 length octets
    lambda b: b"\x30\x82\xff\xff" + b[2:],  # outer length overruns the datagram
    lambda b: b.replace(b"\x02\x01\x01\x04\x06public", b"\x02\x01\x03\x04\x06public"),  # SNMPv3 version
    lambda b: b.replace(b"\x04\x06public\xa2", b"\x04\x06public\xa8"),  # Report PDU
    lambda b: b.replace(b"\x04\x06public\xa2", b"\x04\x06public\xa0"),  # a request, not a response
    lambda b: b.replace(b"\x04\x06public", b"\x02\x06public"),  # community not an OCTET STRING
    lambda b: b"",
    lambda b: b"\x30",
    lambda b: b"\x30\x00",
])
def test_malformed_messages_are_refused(mangle) -> None:
    with pytest.raises(WireError):
        wire.decode_response(mangle(GOOD))


def test_every_truncation_and_random_corruption_raises_only_wire_error() -> None:
    for cut in range(len(GOOD)):
        with pytest.raises(WireError):
            wire.decode_response(GOOD[:cut])
    rng = random.Random(1)
    decoded = refused = 0
    for _ in range(5000):
        data = bytearray(GOOD)
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            response = wire.decode_response(bytes(data))
        except WireError:
            refused += 1
        else:
            decoded += 1
            assert isinstance(response.varbinds, list)
    assert refused > 1000 and decoded > 100, (refused, decoded)
    for _ in range(2000):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
        with pytest.raises(WireError):
            wire.decode_response(b"\x30" + bytes((len(junk),)) + junk)
