"""SNMPv3 requests without pysnmp for the common users: USM with MD5/SHA/SHA-2 auth, AES-128 privacy.

Why hand-written (measured, `bench/bench_snmp_v3.py --profile`): pysnmp spent 26-45 ms of CPU
per full device poll of a v3 authPriv SHA/AES user where v2c through netmon's own codec spent
1.6-2.5 ms on the same snmpd in the same run, most of it in pyasn1; this path costs ~1.5x v2c.
snmp_usm has the details. This
module is the protocol machinery around snmp_usm's codec; SnmpClient keeps the GET and walk
semantics (one code path for v2c and v3) and sends through `ask`.

Per agent (host, port) it keeps the engine found by discovery (RFC 3414 §4: a Report carrying
usmStatsUnknownEngineIDs gives engineID, boots and time) and follows the agent's clock from the
authenticated messages it sends. A usmStatsNotInTimeWindows Report (the agent restarted: its
boots went up) re-synchronises and the request is sent once more; so does an unknown-engine
Report (the agent was replaced). Keys are derived once per user (the 1 MB password hash) and
localised once per user and engine. A reply is used only when its HMAC checks, it decrypts, it
comes from the engine and user asked, and it is inside the time window; otherwise the poll is an
error result with the reason, never an exception.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from netmon.config.schema import KeySpec, SnmpAuth
from netmon.model import Status
from netmon.probers import snmp_usm as usm
from netmon.probers.per_object import PerObject
from netmon.probers.snmp_client import Answer
from netmon.probers.snmp_transport import SnmpTransport, TransportClosed
from netmon.probers.snmp_wire import GET, Response, WireError, oid_text

_UNSUPPORTED_LEVEL = (1, 3, 6, 1, 6, 3, 15, 1, 1, 1, 0)
_NOT_IN_TIME_WINDOW = (1, 3, 6, 1, 6, 3, 15, 1, 1, 2, 0)
_UNKNOWN_ENGINE_ID = (1, 3, 6, 1, 6, 3, 15, 1, 1, 4, 0)
_REPORTS: dict[tuple[int, ...], tuple[Status, str]] = {
    _UNSUPPORTED_LEVEL: (Status.AUTH_FAILED, "v3 security level not allowed for this user by the agent "
                                             "(usmStatsUnsupportedSecLevels)"),
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 3, 0): (Status.AUTH_FAILED, "v3 user unknown to the agent "
                                                             "(usmStatsUnknownUserNames)"),
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 5, 0): (Status.AUTH_FAILED, "v3 authentication failed: wrong key or "
                                                             "protocol (usmStatsWrongDigests)"),
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 6, 0): (Status.AUTH_FAILED, "v3 privacy key or protocol rejected "
                                                             "(usmStatsDecryptionErrors)"),
    (1, 3, 6, 1, 6, 3, 12, 1, 4, 0): (Status.ERROR, "v3 context unknown to the agent (snmpUnknownContexts)"),
    (1, 3, 6, 1, 6, 3, 12, 1, 5, 0): (Status.ERROR, "v3 context unavailable on the agent "
                                                    "(snmpUnavailableContexts)"),
}
_MAX_TIME = (1 << 31) - 1
_RESYNC = object()
"""The agent's clock or engine changed: send the request once more with what it told us."""


@dataclass(slots=True)
class _Engine:
    """What a manager knows of one agent's SNMP engine (RFC 3414 §2.3)."""

    engine_id: bytes
    boots: int
    engine_time: int
    synced: float
    """time.monotonic() when `engine_time` was received."""

    def estimated(self) -> float:
        """The agent's engine time now, as this side reckons it."""
        return self.engine_time + time.monotonic() - self.synced

    def saw(self, boots: int, engine_time: int) -> None:
        """Follow the clock of an authenticated message when it is newer (RFC 3414 §3.2 7b)."""
        if boots > self.boots or (boots == self.boots and engine_time > self.estimated()):
            self.boots, self.engine_time, self.synced = boots, engine_time, time.monotonic()


@dataclass(frozen=True, slots=True)
class _User:
    """A v3 user's non-localised keys (Ku), derived once from the passwords."""

    name: bytes
    hash_name: str | None
    trunc: int
    ku_auth: bytes
    ku_priv: bytes
    context: bytes


def covers(auth: SnmpAuth) -> bool:
    """Whether this module handles the user's protocols (else pysnmp does)."""
    return ((auth.auth is None or auth.auth.protocol.lower() in usm.AUTH_PROTOCOLS)
            and (auth.priv is None or auth.priv.protocol.lower() in usm.PRIV_PROTOCOLS))


class FastV3Client:
    """v3 request/response exchanges for every agent, over one shared UDP transport."""

    def __init__(self, config_dir: str = ".", transport: SnmpTransport | None = None) -> None:
        self._config_dir = config_dir
        self.transport = transport or SnmpTransport(decode=usm.decode_frame)
        self._users: PerObject[_User] = PerObject()
        self._keys: PerObject[dict[bytes, usm.UserKeys]] = PerObject()
        """Localised keys per configured user, then per agent's engine id."""
        self._engines: dict[tuple[str, int], _Engine] = {}
        self._discovering: dict[tuple[str, int], asyncio.Future[_Engine | Answer]] = {}
        self._salt = random.getrandbits(64)

    async def ask(self, host: str, port: int, auth: SnmpAuth, pdu_type: int, body: bytes,
                  max_repetitions: int, timeout_s: float, retries: int) -> Response | Answer:
        """One authenticated (and encrypted) exchange; an Answer when there is no usable Response."""
        user = self._user(auth)
        for _attempt in range(3):  # discovery, then at most two re-synchronisations
            engine = self._engines.get((host, port))
            if engine is None:
                found = await self._discover(host, port, timeout_s, retries)
                if isinstance(found, Answer):
                    return found
                engine = found
            keys = self._keys_for(auth, user, engine.engine_id)

            def build(msg_id: int, keys: usm.UserKeys = keys, engine: _Engine = engine) -> bytes:
                self._salt += 1
                pdu = usm.encode_pdu(pdu_type, msg_id, body, 0, max_repetitions)
                now = min(int(engine.estimated()), _MAX_TIME)
                return usm.encode_message(msg_id, keys, engine.engine_id, engine.boots, now,
                                          user.context, pdu, self._salt)

            reason = ("no answer: agent down or wrong v3 privacy key" if keys.priv_key
                      else "no answer: agent down")
            frame = await self._exchange(host, port, build, timeout_s, retries, reason)
            if isinstance(frame, Answer):
                return frame
            outcome = self._open(frame, keys, engine, (host, port))
            if outcome is not _RESYNC:
                return outcome  # type: ignore[return-value]
        return Answer([], Status.ERROR, "v3 agent still reports our time or engine wrong after a "
                                        "re-synchronisation (agent clock or engine ID unstable?)")

    def close(self) -> None:
        """Close the socket; pending requests are abandoned. Engines and keys stay known."""
        self.transport.close()

    # ------------------------------------------------------------------ internals

    async def _exchange(self, host: str, port: int, build: Callable[[int], bytes], timeout_s: float,
                        retries: int, timeout_reason: str) -> usm.V3Frame | Answer:
        try:
            frame = await self.transport.request(host, port, usm.VERSION_3, b"", build, timeout_s, retries)
        except socket.gaierror as exc:
            return Answer([], Status.ERROR, f"cannot resolve host {host!r}: {exc.strerror}")
        except OSError as exc:
            return Answer([], Status.ERROR, f"cannot send to {host}: {exc}")
        except TransportClosed:
            return Answer([], Status.ERROR, "SNMP client closed while waiting for the answer")
        if frame is None:
            return Answer([], Status.TIMEOUT, timeout_reason)
        return frame

    def _open(self, frame: usm.V3Frame, keys: usm.UserKeys, engine: _Engine,
              where: tuple[str, int]) -> Response | Answer | object:
        """Authenticate, decrypt and check one reply; a Report becomes an Answer or _RESYNC."""
        try:
            msg = usm.decode_message(frame.raw)
        except WireError as exc:
            return Answer([], Status.ERROR, f"malformed v3 answer: {exc}")
        if msg.flags & usm.FLAG_AUTH:
            if msg.engine_id != engine.engine_id or msg.user != keys.user:
                return Answer([], Status.ERROR, "v3 answer from another engine or user than asked")
            if not usm.authentic(frame.raw, msg, keys):
                return Answer([], Status.AUTH_FAILED, "v3 answer failed authentication: its HMAC does "
                                                      "not match the auth key (wrong key or protocol)")
            engine.saw(msg.boots, msg.engine_time)
        if msg.flags & usm.FLAG_PRIV and not keys.priv_key:
            return Answer([], Status.ERROR, "v3 answer encrypted though the request was not")
        try:
            plain = usm.decrypt(msg, keys) if msg.flags & usm.FLAG_PRIV else msg.data
            scoped = usm.decode_scoped_pdu(plain)
        except WireError as exc:
            if msg.flags & usm.FLAG_PRIV:
                return Answer([], Status.AUTH_FAILED, f"v3 answer could not be decrypted: wrong privacy "
                                                      f"key or protocol ({exc})")
            return Answer([], Status.ERROR, f"malformed v3 answer: {exc}")
        if scoped.pdu_type == usm.REPORT:
            return self._report(scoped.response, msg, where)
        if msg.flags & 3 != keys.flags & 3:
            return Answer([], Status.AUTH_FAILED, "v3 answer at another security level than the request")
        # RFC 3414 §3.2 step 7: only authenticated messages carry a clock worth checking
        if msg.flags & usm.FLAG_AUTH and not usm.in_time_window(msg.boots, msg.engine_time, engine.boots,
                                                                engine.estimated()):
            return Answer([], Status.ERROR, "v3 answer outside the agent's time window (replayed?)")
        if scoped.response.request_id != msg.msg_id:
            return Answer([], Status.ERROR, f"v3 answer's request-id {scoped.response.request_id} is not "
                                            f"its msgID {msg.msg_id}")
        return scoped.response

    def _report(self, report: Response, msg: usm.V3Message, where: tuple[str, int]) -> Answer | object:
        oid = report.varbinds[0][0] if report.varbinds else ()
        if oid == _NOT_IN_TIME_WINDOW and msg.engine_id and msg.flags & usm.FLAG_AUTH:
            # the agent restarted (boots went up) or our clock drifted: take its, send again. Only an
            # authenticated Report (RFC 3414 §3.2 step 7b: it is sent authNoPriv) may set the clock: an
            # unauthenticated one could be spoofed to keep every poll re-syncing.
            self._engines[where] = _Engine(msg.engine_id, msg.boots, msg.engine_time, time.monotonic())
            return _RESYNC
        if oid == _UNKNOWN_ENGINE_ID:
            self._engines.pop(where, None)
            return _RESYNC
        default = (Status.ERROR, f"v3 agent reported {oid_text(oid) if oid else 'an empty Report'}")
        return Answer([], *_REPORTS.get(oid, default))

    async def _discover(self, host: str, port: int, timeout_s: float, retries: int) -> _Engine | Answer:
        # concurrent polls of one agent share one discovery
        where = (host, port)
        pending = self._discovering.get(where)
        if pending is None or pending.get_loop() is not asyncio.get_running_loop():
            pending = asyncio.ensure_future(self._probe_engine(where, timeout_s, retries))
            self._discovering[where] = pending
            pending.add_done_callback(
                lambda done: self._discovering.pop(where) if self._discovering.get(where) is done else None)
        return await asyncio.shield(pending)

    async def _probe_engine(self, where: tuple[str, int], timeout_s: float, retries: int) -> _Engine | Answer:
        nobody = usm.UserKeys(b"", None, 0)

        def build(msg_id: int) -> bytes:
            return usm.encode_message(msg_id, nobody, b"", 0, 0, b"", usm.encode_pdu(GET, msg_id, b""), 0)

        frame = await self._exchange(*where, build, timeout_s, retries,
                                     "no answer to v3 engine discovery: agent down or not speaking SNMPv3")
        if isinstance(frame, Answer):
            return frame
        try:
            msg = usm.decode_message(frame.raw)
            if msg.flags & usm.FLAG_PRIV:
                raise WireError("discovery Report is encrypted")
            scoped = usm.decode_scoped_pdu(msg.data)
        except WireError as exc:
            return Answer([], Status.ERROR, f"malformed v3 discovery answer: {exc}")
        if scoped.pdu_type != usm.REPORT or not msg.engine_id:
            return Answer([], Status.ERROR, "v3 engine discovery answered without an engine ID")
        engine = self._engines[where] = _Engine(msg.engine_id, msg.boots, msg.engine_time, time.monotonic())
        return engine

    def _user(self, auth: SnmpAuth) -> _User:
        # Passwords are read here once per configured user (per_object.py); only their hashes are kept.
        user = self._users.get(auth)
        if user is None:
            hash_name, trunc, ku_auth, ku_priv = None, 0, b"", b""
            if auth.auth is not None:
                hash_name, trunc = usm.AUTH_PROTOCOLS[auth.auth.protocol.lower()]
                ku_auth = usm.password_to_key(self._password(auth.auth), hash_name)
                if auth.priv is not None:
                    ku_priv = usm.password_to_key(self._password(auth.priv), hash_name)
            user = _User((auth.user or "").encode("utf-8"), hash_name, trunc, ku_auth, ku_priv,
                         auth.context.encode("utf-8"))
            self._users.put(auth, user)
        return user

    def _keys_for(self, auth: SnmpAuth, user: _User, engine_id: bytes) -> usm.UserKeys:
        per_engine = self._keys.get(auth)
        if per_engine is None:
            per_engine = self._keys.put(auth, {})
        keys = per_engine.get(engine_id)
        if keys is None:
            if user.hash_name is None:
                keys = usm.UserKeys(user.name, None, 0)
            else:
                # RFC 3826 §1.2: the AES-128 key is the first 16 octets of the localised priv key
                priv = usm.localize_key(user.ku_priv, engine_id, user.hash_name)[:16] if user.ku_priv else b""
                keys = usm.UserKeys(user.name, user.hash_name, user.trunc,
                                    usm.localize_key(user.ku_auth, engine_id, user.hash_name), priv)
            per_engine[engine_id] = keys
        return keys

    def _password(self, spec: KeySpec) -> bytes:
        if spec.key is not None:
            return spec.key.reveal().encode("utf-8")
        with open(os.path.join(self._config_dir, spec.key_file or ""), encoding="utf-8") as fh:
            return fh.read().strip().encode("utf-8")
