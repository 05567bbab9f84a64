"""snmp_usm without a network: RFC 3414 key vectors, message round trips, tampering, fuzz."""

from __future__ import annotations

import contextlib
import hashlib
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyasn1.type.univ import OctetString
from pysnmp.proto.secmod.rfc3414 import localkey

from netmon.config.schema import SnmpAuth
from netmon.model import Status
from netmon.probers import snmp_usm as usm
from netmon.probers.snmp_client import Answer
from netmon.probers.snmp_v3_fast import FastV3Client, _Engine, covers
from netmon.probers.snmp_wire import GET, RESPONSE, Response, WireError, _tlv, encode_integer, encode_oid

RFC_ENGINE = bytes.fromhex("000000000000000000000002")
ENGINE = bytes.fromhex("80001f8880e9630000d61ff449")
SYS_NAME = (1, 3, 6, 1, 2, 1, 1, 5, 0)


@pytest.mark.parametrize(("hash_name", "ku", "kul"), [
    # RFC 3414 A.3.1 and A.3.2: password "maplesyrup", engine ID 00..02
    ("md5", "9faf3283884e92834ebc9847d8edd963", "526f5eed9fcce26f8964c2930787d82b"),
    ("sha1", "9fb5cc0381497b3793528939ff788d5d79145211", "6695febc9288e36282235fc7151f128497b38f3f"),
])
def test_rfc3414_a3_password_to_key_and_localisation(hash_name: str, ku: str, kul: str) -> None:
    key = usm.password_to_key(b"maplesyrup", hash_name)
    assert key.hex() == ku
    assert usm.localize_key(key, RFC_ENGINE, hash_name).hex() == kul


@pytest.mark.parametrize("hash_name", ["sha224", "sha256", "sha384", "sha512"])
def test_sha2_keys_agree_with_pysnmp(hash_name: str) -> None:
    """RFC 7860 has no vectors; pysnmp's implementation (interoperable with net-snmp) is the reference."""
    func = getattr(hashlib, hash_name)
    ku = usm.password_to_key(b"auth-key-1234", hash_name)
    assert ku == bytes(localkey.hash_passphrase("auth-key-1234", func))
    assert usm.localize_key(ku, ENGINE, hash_name) == bytes(localkey.localize_key(ku, OctetString(ENGINE), func))


def keys(hash_name: str = "sha1", trunc: int = 12, priv: bool = True, user: bytes = b"u") -> usm.UserKeys:
    auth_key = usm.localize_key(usm.password_to_key(b"auth-key-1234", hash_name), ENGINE, hash_name)
    priv_key = (usm.localize_key(usm.password_to_key(b"priv-key-5678", hash_name), ENGINE, hash_name)[:16]
                if priv else b"")
    return usm.UserKeys(user, hash_name, trunc, auth_key, priv_key)


def response_message(k: usm.UserKeys, msg_id: int = 77, request_id: int | None = None,
                     boots: int = 3, engine_time: int = 1000, pdu_type: int = RESPONSE) -> bytes:
    """A Response (or Report) as an agent would send it, built with the request encoder."""
    varbind = _tlv(0x30, encode_oid(SYS_NAME) + _tlv(0x04, b"netmon-snmpd"))
    pdu = usm.encode_pdu(pdu_type, msg_id if request_id is None else request_id, varbind)
    return usm.encode_message(msg_id, k, ENGINE, boots, engine_time, b"", pdu, salt=12345)


@pytest.mark.parametrize(("hash_name", "trunc", "priv"), [
    ("md5", 12, False), ("md5", 12, True), ("sha1", 12, True), ("sha224", 16, True),
    ("sha256", 24, True), ("sha384", 32, False), ("sha512", 48, True),
])
def test_round_trip_authenticates_and_decrypts(hash_name: str, trunc: int, priv: bool) -> None:
    k = keys(hash_name, trunc, priv)
    raw = response_message(k)
    msg = usm.decode_message(raw)
    assert (msg.msg_id, msg.engine_id, msg.boots, msg.engine_time, msg.user) == (77, ENGINE, 3, 1000, b"u")
    assert msg.flags == k.flags and len(msg.auth_params) == trunc
    assert usm.authentic(raw, msg, k)
    scoped = usm.decode_scoped_pdu(usm.decrypt(msg, k) if priv else msg.data)
    assert scoped.pdu_type == RESPONSE and scoped.context_engine_id == ENGINE
    assert scoped.response.varbinds == [(SYS_NAME, b"netmon-snmpd")]
    if priv:
        assert b"netmon-snmpd" not in raw


def test_any_changed_byte_fails_authentication() -> None:
    k = keys()
    raw = response_message(k)
    for i in range(len(raw)):
        bad = raw[:i] + bytes((raw[i] ^ 0x01,)) + raw[i + 1:]
        try:
            msg = usm.decode_message(bad)
        except WireError:
            continue
        assert not usm.authentic(bad, msg, k), f"byte {i} changed, HMAC still accepted"


def test_wrong_auth_or_priv_key_is_refused() -> None:
    k = keys()
    raw = response_message(k)
    msg = usm.decode_message(raw)
    other = usm.UserKeys(b"u", "sha1", 12, b"\x01" * 20, k.priv_key)
    assert not usm.authentic(raw, msg, other)
    with pytest.raises(WireError, match="wrong privacy key"):
        usm.decode_scoped_pdu(usm.decrypt(msg, usm.UserKeys(b"u", "sha1", 12, k.auth_key, b"\x02" * 16)))


def test_time_window() -> None:
    assert usm.in_time_window(3, 1000, 3, 1100.0)
    assert not usm.in_time_window(3, 900, 3, 1100.0)  # more than 150 s behind: replayed
    assert not usm.in_time_window(2, 5000, 3, 10.0)  # an older boot
    assert usm.in_time_window(4, 1, 3, 10_000.0)  # a newer boot is the agent's restart
    assert not usm.in_time_window((1 << 31) - 1, 0, 3, 0.0)


def test_covers_picks_pysnmp_for_des_and_long_aes() -> None:
    def auth(a: str | None, p: str | None) -> SnmpAuth:
        spec: dict = {"version": "3", "user": "u"}
        if a:
            spec["auth"] = {"protocol": a, "key": "auth-key-1234"}
        if p:
            spec["priv"] = {"protocol": p, "key": "priv-key-5678"}
        return SnmpAuth.model_validate(spec)

    assert covers(auth("sha", "aes")) and covers(auth("sha512", "aes128")) and covers(auth("md5", None))
    assert covers(auth(None, None))
    assert not covers(auth("sha", "des")) and not covers(auth("sha", "aes256")) and not covers(auth("md5", "aes192"))


def opened(raw: bytes, k: usm.UserKeys, known_time: int = 1000) -> Response | Answer | object:
    client = FastV3Client()
    engine = _Engine(ENGINE, 3, known_time, time.monotonic())
    return client._open(usm.V3Frame(77, raw), k, engine, ("127.0.0.1", 161))


def test_open_checks_every_rule() -> None:
    k = keys()
    assert isinstance(opened(response_message(k), k), Response)
    stale = opened(response_message(k, engine_time=100), k)
    assert isinstance(stale, Answer) and "time window" in stale.reason
    mismatch = opened(response_message(k, request_id=5), k)
    assert isinstance(mismatch, Answer) and "request-id 5" in mismatch.reason
    lower = opened(response_message(keys(priv=False)), k)
    assert isinstance(lower, Answer) and lower.status is Status.AUTH_FAILED
    wrong = opened(response_message(keys()), usm.UserKeys(b"u", "sha1", 12, b"\x01" * 20, k.priv_key))
    assert isinstance(wrong, Answer) and "HMAC" in wrong.reason
    # noAuthNoPriv: agents may send boots and time as zero, and no clock is checked (RFC 3414 §3.2)
    plain = usm.UserKeys(b"u", None, 0)
    assert isinstance(opened(response_message(plain, boots=0, engine_time=0), plain), Response)


def test_discovery_request_is_plain_and_reportable() -> None:
    nobody = usm.UserKeys(b"", None, 0)
    raw = usm.encode_message(9, nobody, b"", 0, 0, b"", usm.encode_pdu(GET, 9, b""), 0)
    msg = usm.decode_message(raw)
    assert msg.flags == usm.FLAG_REPORTABLE and msg.engine_id == b"" and msg.auth_params == b""
    assert usm.decode_frame(raw).request_id == 9


_KEYS = keys()
_VALID = response_message(_KEYS)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_garbage_is_wire_error(data: bytes) -> None:
    for parse in (usm.decode_message, usm.decode_frame, usm.decode_scoped_pdu):
        with contextlib.suppress(WireError):
            parse(data)
    outcome = opened(data, _KEYS)  # the whole receive path: garbage is an error result
    assert isinstance(outcome, Answer) and outcome.status in (Status.ERROR, Status.AUTH_FAILED) and outcome.reason


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(_VALID) - 1), st.integers(1, 255), st.integers(0, len(_VALID)))
def test_fuzz_mutated_replies_are_results_never_exceptions(at: int, xor: int, cut: int) -> None:
    """A changed or cut reply goes through the whole receive path and comes out as data."""
    k = _KEYS
    for data in (_VALID[:at] + bytes((_VALID[at] ^ xor,)) + _VALID[at + 1:], _VALID[:cut]):
        outcome = opened(data, k)
        assert isinstance(outcome, Answer | Response)
        if isinstance(outcome, Answer):
            assert outcome.status in (Status.ERROR, Status.AUTH_FAILED) and outcome.reason
        try:
            msg = usm.decode_message(data)
            usm.decode_scoped_pdu(usm.decrypt(msg, k) if msg.flags & usm.FLAG_PRIV else msg.data)
        except WireError:
            pass


def test_report_resyncs_or_names_the_counter() -> None:
    k = keys(priv=False)

    def report(oid: tuple[int, ...], flags_keys: usm.UserKeys) -> bytes:
        varbind = _tlv(0x30, encode_oid(oid) + _tlv(0x41, encode_integer(1)[2:]))
        pdu = usm.encode_pdu(usm.REPORT, 77, varbind)
        return usm.encode_message(77, flags_keys, ENGINE, 4, 50, b"", pdu, salt=0)

    nobody = usm.UserKeys(b"u", None, 0)
    wrong_digest = opened(report((1, 3, 6, 1, 6, 3, 15, 1, 1, 5, 0), nobody), k)
    assert isinstance(wrong_digest, Answer) and "wrong key" in wrong_digest.reason
    unknown_user = opened(report((1, 3, 6, 1, 6, 3, 15, 1, 1, 3, 0), nobody), k)
    assert isinstance(unknown_user, Answer) and "user unknown" in unknown_user.reason
    assert not isinstance(opened(report((1, 3, 6, 1, 6, 3, 15, 1, 1, 2, 0), k), k), Answer | Response)
    odd = opened(report((1, 3, 6, 1, 6, 3, 99, 1, 0), nobody), k)
    assert isinstance(odd, Answer) and "1.3.6.1.6.3.99.1.0" in odd.reason
