"""SNMPv3 through pysnmp's `v3arch`, for the users netmon's own USM does not cover.

Most v3 users (MD5/SHA/SHA-2 auth with no privacy or AES-128) go through snmp_v3_fast, which
measured ~12x less CPU per poll than this path (snmp_usm says why). Users with DES, 3DES or
AES-192/256 privacy come here, where pysnmp's key extension and ciphers are kept rather than
re-implemented; SnmpClient picks the path per user from its protocols. One long-lived
`SnmpEngine` serves every v3 device; it is created lazily inside the running loop because pysnmp
binds its dispatcher to the first loop that uses it (lextudio/pysnmp#237), and importing this
module (and pysnmp) is deferred until the first v3 device is polled.

Values come back as the same plain Python as snmp_wire produces (see `convert`).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.hlapi.v3arch import asyncio as v3
from pysnmp.proto import errind, rfc1902, rfc1905
from pysnmp.smi import builder

from netmon.config.schema import SnmpAuth
from netmon.model import Status
from netmon.probers.per_object import PerObject
from netmon.probers.snmp_client import MAX_WALK_CALLS, MISSING, Answer, Varbinds, cut_reason
from netmon.probers.snmp_transport import RCVBUF_BYTES, SO_RCVBUFFORCE

log = logging.getLogger(__name__)

_AUTH_PROTOCOLS = {
    "md5": v3.USM_AUTH_HMAC96_MD5,
    "sha": v3.USM_AUTH_HMAC96_SHA,
    "sha1": v3.USM_AUTH_HMAC96_SHA,
    "sha224": v3.USM_AUTH_HMAC128_SHA224,
    "sha256": v3.USM_AUTH_HMAC192_SHA256,
    "sha-256": v3.USM_AUTH_HMAC192_SHA256,
    "sha384": v3.USM_AUTH_HMAC256_SHA384,
    "sha512": v3.USM_AUTH_HMAC384_SHA512,
}
_PRIV_PROTOCOLS = {
    "des": v3.USM_PRIV_CBC56_DES,
    "aes": v3.USM_PRIV_CFB128_AES,
    "aes128": v3.USM_PRIV_CFB128_AES,
    "aes-128": v3.USM_PRIV_CFB128_AES,
    "aes192": v3.USM_PRIV_CFB192_AES,
    "aes256": v3.USM_PRIV_CFB256_AES,
    "aes192-blumenthal": v3.USM_PRIV_CFB192_AES_BLUMENTHAL,
    "aes256-blumenthal": v3.USM_PRIV_CFB256_AES_BLUMENTHAL,
}
_AUTH_ERRORS = (
    errind.WrongDigest, errind.UnknownUserName, errind.AuthenticationFailure,
    errind.AuthenticationError, errind.DecryptionError, errind.UnknownSecurityName,
    errind.UnsupportedSecurityLevel, errind.NotInTimeWindow, errind.UnknownCommunityName,
)
_PYSNMP_MIBS = os.path.join(os.path.dirname(builder.__file__), "mibs")


def convert(value: Any) -> Any:
    """Turn a pysnmp value object into plain Python, as snmp_wire decodes it."""
    if isinstance(value, rfc1905.NoSuchObject | rfc1905.NoSuchInstance | rfc1905.EndOfMibView):
        return MISSING
    if isinstance(value, rfc1902.IpAddress):
        return ".".join(str(b) for b in value.asOctets())
    if isinstance(value, rfc1902.OctetString):
        return value.asOctets()
    if isinstance(value, rfc1902.ObjectIdentifier):
        return ".".join(str(n) for n in value)
    try:
        return int(value)
    except (TypeError, ValueError):
        return value.prettyPrint()


def classify(error: Any) -> tuple[Status, str]:
    """Map a pysnmp errorIndication to a status and a reason a technician can act on."""
    if isinstance(error, errind.RequestTimedOut):
        # agents silently drop what they cannot decrypt, so a bad privacy key looks like this
        return Status.TIMEOUT, "no answer: agent down or wrong v3 privacy key"
    if isinstance(error, errind.DecryptionError):
        return Status.AUTH_FAILED, f"v3 privacy key or protocol rejected ({error})"
    if isinstance(error, errind.UnknownUserName):
        return Status.AUTH_FAILED, f"v3 user unknown to the agent ({error})"
    if isinstance(error, _AUTH_ERRORS):
        return Status.AUTH_FAILED, f"v3 authentication failed: wrong key or protocol ({error})"
    return Status.ERROR, f"SNMP error: {error}"


class V3Client:
    """GETs and bulk walks for v3 devices over one shared pysnmp engine."""

    def __init__(self, config_dir: str) -> None:
        self._config_dir = config_dir
        self._engine: v3.SnmpEngine | None = None
        self._targets: dict[tuple[str, int, float, int], Any] = {}
        self._auth_data: PerObject[Any] = PerObject()
        self._object_types: dict[str, Any] = {}
        self._rcvbuf_done = False

    async def get(self, host: str, port: int, auth: SnmpAuth, oids: Sequence[str],
                  timeout_s: float, retries: int) -> Answer:
        """GET the scalar `oids` in one PDU."""
        target = await self._target(host, port, timeout_s, retries)
        vbs = [self._object_type(oid) for oid in oids]
        error, err_status, err_index, varbinds = await v3.get_cmd(
            self._v3(), self._auth(auth), target, v3.ContextData(contextName=auth.context), *vbs,
            lookupMib=False)
        self._grow_rcvbuf()
        if error:
            return Answer([], *classify(error))
        if err_status:
            return Answer([], Status.ERROR, f"agent error {err_status.prettyPrint()} at #{err_index}")
        return Answer([(str(name), convert(val)) for name, val in varbinds])

    async def walk(self, host: str, port: int, auth: SnmpAuth, root: str,
                   timeout_s: float, retries: int, max_repetitions: int) -> Answer:
        """Walk the subtree under `root` with GETBULK."""
        target = await self._target(host, port, timeout_s, retries)
        gen = v3.bulk_walk_cmd(self._v3(), self._auth(auth), target,
                               v3.ContextData(contextName=auth.context), 0, max_repetitions,
                               self._object_type(root), lexicographicMode=False, lookupMib=False,
                               maxCalls=MAX_WALK_CALLS)
        out: Varbinds = []
        calls, last_full = 0, False
        try:
            async for error, err_status, err_index, varbinds in gen:
                calls += 1
                # a chunk shorter than asked means the walk found its end inside it
                last_full = len(varbinds) >= max_repetitions
                if error:
                    # bulk_walk_cmd keeps sending after a timeout (lextudio/pysnmp#66): stop here
                    return Answer(out, *classify(error))
                if err_status:
                    return Answer(out, Status.ERROR,
                                  f"agent error {err_status.prettyPrint()} at #{err_index}")
                out.extend((str(name), convert(val)) for name, val in varbinds)
        finally:
            await gen.aclose()
        self._grow_rcvbuf()
        found = [vb for vb in out if vb[1] is not MISSING]
        cut = calls >= MAX_WALK_CALLS and last_full
        return Answer(found, None, cut_reason(len(found)) if cut else "")

    def close(self) -> None:
        """Close the engine's socket; pending requests are abandoned."""
        if self._engine is not None:
            self._engine.close_dispatcher()
            self._engine = None
        self._targets.clear()
        self._rcvbuf_done = False

    def _object_type(self, oid: str) -> Any:
        # pysnmp resolves every request's ObjectTypes against its MIB view unless they are
        # already resolved; reusing one resolved object per OID skips that on every later request.
        obj = self._object_types.get(oid)
        if obj is None:
            obj = self._object_types[oid] = v3.ObjectType(v3.ObjectIdentity(oid))
        return obj

    def _v3(self) -> v3.SnmpEngine:
        if self._engine is None:
            self._engine = v3.SnmpEngine()
            _numeric_only(self._engine.get_mib_builder())
        return self._engine

    async def _target(self, host: str, port: int, timeout_s: float, retries: int) -> Any:
        # One target object per (address, timing) keeps v3arch's datastore from growing by a
        # row per request (each new one costs ~1.7 ms, measured with pysnmp 7.1) and skips a getaddrinfo.
        key = (host, port, timeout_s, retries)
        target = self._targets.get(key)
        if target is None:
            cls = v3.Udp6TransportTarget if ":" in host else v3.UdpTransportTarget
            target = self._targets[key] = await cls.create((host, port), timeout=timeout_s,
                                                           retries=retries)
        return target

    def _auth(self, auth: SnmpAuth) -> Any:
        # The secrets are revealed once per configured user here (per_object.py), never stored in
        # text form elsewhere.
        data = self._auth_data.get(auth)
        if data is None:
            data = self._auth_data.put(auth, _usm(auth, self._config_dir))
        return data

    def _grow_rcvbuf(self) -> None:
        if self._rcvbuf_done:
            return
        try:
            transport = self._v3().transport_dispatcher.get_transport(udp.DOMAIN_NAME)
            sock = transport.transport.get_extra_info("socket") if transport and transport.transport \
                else None
        except (KeyError, AttributeError) as exc:
            log.debug("cannot reach the SNMPv3 socket to grow its buffer: %s", exc)
            return
        if sock is None:
            return
        self._rcvbuf_done = True
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF_BYTES)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_BYTES)


class _NoMibCompiler:
    """Stands in for pysmi's compiler: netmon never compiles MIBs at runtime (numeric OIDs)."""

    def compile(self, *names: str, **_options: Any) -> dict[str, str]:
        """Report every module as missing, exactly as if no compiler were installed."""
        return dict.fromkeys(names, "missing")


def _numeric_only(mib_builder: Any) -> Any:
    """Mark a MIB builder as having a compiler, so pysnmp never builds pysmi's.

    With pysmi installed (snmpsim needs it), pysnmp otherwise sets up pysmi's MIB compiler on
    the first request: ~2.4 s of CPU with the event loop blocked, for lookups netmon never makes.
    """
    if not mib_builder.get_mib_compiler():
        mib_builder.set_mib_compiler(_NoMibCompiler(), _PYSNMP_MIBS)
    return mib_builder


def _usm(auth: SnmpAuth, config_dir: str) -> v3.UsmUserData:
    """Build USM credentials, always naming both protocols (pysnmp defaults to MD5/DES)."""
    kwargs: dict[str, Any] = {
        "authProtocol": v3.USM_AUTH_NONE, "privProtocol": v3.USM_PRIV_NONE,
    }
    if auth.auth is not None:
        kwargs["authProtocol"] = _AUTH_PROTOCOLS[auth.auth.protocol.lower()]
        kwargs["authKey"] = _key_text(auth.auth, config_dir)
    if auth.priv is not None:
        kwargs["privProtocol"] = _PRIV_PROTOCOLS[auth.priv.protocol.lower()]
        kwargs["privKey"] = _key_text(auth.priv, config_dir)
    return v3.UsmUserData(auth.user or "", **kwargs)


def _key_text(spec: Any, config_dir: str) -> str:
    if spec.key is not None:
        return spec.key.reveal()
    with open(os.path.join(config_dir, spec.key_file), encoding="utf-8") as fh:
        return fh.read().strip()
