"""The SNMP wire side of the snmp prober: one shared pysnmp engine, GETs and bulk walks.

v1/v2c go through pysnmp's `v1arch` (one `SnmpDispatcher`, no local configuration datastore):
each new target costs nothing extra there, while `v3arch` adds SNMP-TARGET-MIB rows per
(credential, address) pair whose cost grows with the number already configured (1,000 devices:
36 s of CPU before the first cycle, limits.md §2d). v3 needs `v3arch` (USM), so it keeps one
long-lived `SnmpEngine`. Both are created lazily inside the running loop (pysnmp binds its
dispatcher to the first loop that uses it, lextudio/pysnmp#237).

Values come back as plain Python: ints for every integer type, `bytes` for OCTET STRING,
dotted text for OBJECT IDENTIFIER and IpAddress, and `MISSING` for noSuchObject/noSuchInstance.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.hlapi.v1arch import asyncio as v1
from pysnmp.hlapi.v3arch import asyncio as v3
from pysnmp.proto import errind, rfc1902, rfc1905
from pysnmp.smi import builder, view

from netmon.config.schema import SnmpAuth
from netmon.model import Status

log = logging.getLogger(__name__)

MISSING = object()
"""Marks an OID the agent does not have (noSuchObject / noSuchInstance / v1 noSuchName)."""

RCVBUF_BYTES = 8 << 20
"""One socket carries every answer; the 212 kB default holds only ~330 of them (limits.md §2)."""

MAX_WALK_CALLS = 400
"""Ceiling on GETBULK round trips per walk, so a runaway table cannot hold a slot forever."""

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
}
_AUTH_ERRORS = (
    errind.WrongDigest, errind.UnknownUserName, errind.AuthenticationFailure,
    errind.AuthenticationError, errind.DecryptionError, errind.UnknownSecurityName,
    errind.UnsupportedSecurityLevel, errind.NotInTimeWindow, errind.UnknownCommunityName,
)

Varbinds = list[tuple[str, Any]]
_PYSNMP_MIBS = os.path.join(os.path.dirname(builder.__file__), "mibs")


@dataclass(slots=True)
class Answer:
    """What one GET or walk returned: `status` None means the agent answered."""

    varbinds: Varbinds = field(default_factory=list)
    status: Status | None = None
    reason: str = ""


def convert(value: Any) -> Any:
    """Turn a pysnmp value object into plain Python (see the module docstring)."""
    if isinstance(value, rfc1905.NoSuchObject | rfc1905.NoSuchInstance):
        return MISSING
    if isinstance(value, rfc1902.IpAddress):
        return ".".join(str(b) for b in value.asOctets())
    if isinstance(value, rfc1902.OctetString):
        return value.asOctets()
    if isinstance(value, rfc1902.ObjectIdentifier):
        return ".".join(str(n) for n in value)
    if isinstance(value, rfc1905.EndOfMibView):
        return MISSING
    try:
        return int(value)
    except (TypeError, ValueError):
        return value.prettyPrint()


def classify(error: Any, version: str) -> tuple[Status, str]:
    """Map a pysnmp errorIndication to a status and a reason a technician can act on."""
    if isinstance(error, errind.RequestTimedOut):
        if version == "3":
            # agents silently drop what they cannot decrypt, so a bad privacy key looks like this
            return Status.TIMEOUT, "no answer: agent down or wrong v3 privacy key"
        return Status.TIMEOUT, "no answer: wrong community or agent down"
    if isinstance(error, _AUTH_ERRORS):
        if isinstance(error, errind.DecryptionError):
            return Status.AUTH_FAILED, f"v3 privacy key or protocol rejected ({error})"
        if isinstance(error, errind.UnknownUserName):
            return Status.AUTH_FAILED, f"v3 user unknown to the agent ({error})"
        return Status.AUTH_FAILED, f"v3 authentication failed: wrong key or protocol ({error})"
    return Status.ERROR, f"SNMP error: {error}"


class SnmpClient:
    """Shared SNMP machinery for the whole agent; cheap per-request objects are cached."""

    def __init__(self, config_dir: str = ".") -> None:
        self._config_dir = config_dir
        self._dispatcher: v1.SnmpDispatcher | None = None
        self._engine: v3.SnmpEngine | None = None
        self._targets: dict[tuple[str, int, float, int, int], Any] = {}
        self._auth_data: dict[int, Any] = {}
        self._rcvbuf_done: set[int] = set()
        self._object_types: dict[str, Any] = {}

    async def get(self, host: str, port: int, auth: SnmpAuth, oids: Sequence[str],
                  timeout_s: float, retries: int) -> Answer:
        """GET the scalar `oids` in one PDU."""
        v1arch = auth.version != "3"
        target = await self._target(host, port, timeout_s, retries, v1arch)
        vbs = [self._object_type(oid) for oid in oids]
        if v1arch:
            res = await v1.get_cmd(self._v1(), self._auth(auth), target, *vbs, lookupMib=False)
        else:
            res = await v3.get_cmd(self._v3(), self._auth(auth), target, v3.ContextData(
                contextName=auth.context), *vbs, lookupMib=False)
        self._grow_rcvbuf(v1arch)
        error, err_status, err_index, varbinds = res
        if error:
            return Answer([], *classify(error, auth.version))
        if err_status:
            # v1 answers noSuchName for the whole PDU; the other values are unknown
            if str(err_status) == "noSuchName":
                bad = oids[int(err_index) - 1] if err_index else "?"
                return Answer([(o, MISSING) for o in oids], None, f"noSuchName at {bad}")
            return Answer([], Status.ERROR, f"agent error {err_status.prettyPrint()} at #{err_index}")
        return Answer([(str(name), convert(val)) for name, val in varbinds])

    async def walk(self, host: str, port: int, auth: SnmpAuth, root: str,
                   timeout_s: float, retries: int, max_repetitions: int) -> Answer:
        """Walk the subtree under `root` (GETBULK for v2c/v3, GETNEXT for v1)."""
        v1arch = auth.version != "3"
        target = await self._target(host, port, timeout_s, retries, v1arch)
        start = self._object_type(root)
        opts = {"lexicographicMode": False, "lookupMib": False, "maxCalls": MAX_WALK_CALLS}
        if v1arch and auth.version == "1":
            gen = v1.walk_cmd(self._v1(), self._auth(auth), target, start, **opts)
        elif v1arch:
            gen = v1.bulk_walk_cmd(self._v1(), self._auth(auth), target, 0, max_repetitions,
                                   start, **opts)
        else:
            gen = v3.bulk_walk_cmd(self._v3(), self._auth(auth), target,
                                   v3.ContextData(contextName=auth.context), 0, max_repetitions,
                                   start, **opts)
        out: Varbinds = []
        try:
            async for error, err_status, err_index, varbinds in gen:
                if error:
                    # bulk_walk_cmd keeps sending after a timeout (lextudio/pysnmp#66): stop here
                    return Answer(out, *classify(error, auth.version))
                if err_status:
                    if str(err_status) == "noSuchName":  # v1 end of MIB
                        break
                    return Answer(out, Status.ERROR,
                                  f"agent error {err_status.prettyPrint()} at #{err_index}")
                out.extend((str(name), convert(val)) for name, val in varbinds)
        finally:
            await gen.aclose()
        self._grow_rcvbuf(v1arch)
        return Answer([vb for vb in out if vb[1] is not MISSING])

    def close(self) -> None:
        """Close the sockets; pending requests are abandoned."""
        if self._dispatcher is not None:
            self._dispatcher.close()
            self._dispatcher = None
        if self._engine is not None:
            self._engine.close_dispatcher()
            self._engine = None
        self._targets.clear()
        self._rcvbuf_done.clear()

    # ------------------------------------------------------------------ internals

    def _object_type(self, oid: str) -> Any:
        # pysnmp resolves every request's ObjectTypes against its MIB view (and, with pysmi
        # installed, sets up the MIB compiler) unless they are already resolved; reusing one
        # resolved object per OID skips that on every later request.
        obj = self._object_types.get(oid)
        if obj is None:
            obj = self._object_types[oid] = v3.ObjectType(v3.ObjectIdentity(oid))
        return obj

    def _v1(self) -> v1.SnmpDispatcher:
        if self._dispatcher is None:
            self._dispatcher = v1.SnmpDispatcher()
            self._dispatcher.cache["mibViewController"] = view.MibViewController(
                _numeric_only(builder.MibBuilder()))
        return self._dispatcher

    def _v3(self) -> v3.SnmpEngine:
        if self._engine is None:
            self._engine = v3.SnmpEngine()
            _numeric_only(self._engine.get_mib_builder())
        return self._engine

    async def _target(self, host: str, port: int, timeout_s: float, retries: int,
                      v1arch: bool) -> Any:
        # Reusing one target object per (address, timing) keeps v3arch's datastore from
        # growing by a row per request and skips a getaddrinfo per poll.
        key = (host, port, timeout_s, retries, int(v1arch))
        target = self._targets.get(key)
        if target is None:
            family_v6 = ":" in host
            if v1arch:
                cls = v1.Udp6TransportTarget if family_v6 else v1.UdpTransportTarget
            else:
                cls = v3.Udp6TransportTarget if family_v6 else v3.UdpTransportTarget
            target = await cls.create((host, port), timeout=timeout_s, retries=retries)
            self._targets[key] = target
        return target

    def _auth(self, auth: SnmpAuth) -> Any:
        # SnmpAuth is frozen and shared from the config: its identity is a stable cache key,
        # and the secrets are revealed once here, never stored in text form elsewhere.
        data = self._auth_data.get(id(auth))
        if data is not None:
            return data[1]
        if auth.version in ("1", "2c"):
            community = auth.community.reveal() if auth.community else ""
            if auth.version == "1":
                built = v1.CommunityData(community, mpModel=0)
            else:
                built = v1.CommunityData(community, mpModel=1)
        else:
            built = _usm(auth, self._config_dir)
        self._auth_data[id(auth)] = (auth, built)  # keep `auth` alive so its id stays unique
        return built

    def _grow_rcvbuf(self, v1arch: bool) -> None:
        if int(v1arch) in self._rcvbuf_done:
            return
        dispatcher = (self._v1() if v1arch else self._v3()).transport_dispatcher
        try:
            transport = dispatcher.get_transport(udp.DOMAIN_NAME)
            sock = transport.transport.get_extra_info("socket") if transport and transport.transport \
                else None
        except (KeyError, AttributeError) as exc:
            log.debug("cannot reach the SNMP socket to grow its buffer: %s", exc)
            return
        if sock is None:
            return
        self._rcvbuf_done.add(int(v1arch))
        try:
            # SO_RCVBUFFORCE passes rmem_max when running as root; fall back to the capped one
            sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), RCVBUF_BYTES)
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

