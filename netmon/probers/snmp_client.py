"""The SNMP wire side of the snmp prober: GETs and walks for every device of the agent.

v1/v2c use netmon's own codec (snmp_wire) over one shared UDP socket per address family
(snmp_transport): ~0.1 ms of CPU per 10-OID GET where pysnmp spent ~1.8 ms, most of it in pyasn1
decoding (bench/bench_snmp.py measures it). v3 users with MD5/SHA/SHA-2 auth and no privacy or
AES-128 go through netmon's own USM (snmp_v3_fast, snmp_usm: the same GET and walk code as v2c,
at ~1.5x its CPU per poll where pysnmp cost 11-19x, bench/bench_snmp_v3.py); other v3 users
(DES, AES-192/256) go through pysnmp (snmp_v3). Each is imported only when the first v3 device
needing it is polled.

Values come back as plain Python: ints for every integer type, `bytes` for OCTET STRING and
Opaque, dotted text for OBJECT IDENTIFIER and IpAddress, "" for NULL, and `MISSING` for
noSuchObject/noSuchInstance (and v1 noSuchName).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from netmon.config.schema import SnmpAuth
from netmon.model import Status
from netmon.probers import snmp_wire as wire
from netmon.probers.per_object import PerObject
from netmon.probers.snmp_transport import RCVBUF_BYTES, SnmpTransport, TransportClosed
from netmon.probers.snmp_wire import MISSING, Response

if TYPE_CHECKING:
    from netmon.probers.snmp_v3 import V3Client
    from netmon.probers.snmp_v3_fast import FastV3Client

__all__ = ["MAX_WALK_CALLS", "MISSING", "RCVBUF_BYTES", "Answer", "SnmpClient", "Varbinds", "cut_reason"]

log = logging.getLogger(__name__)

MAX_WALK_CALLS = 400
"""Ceiling on GETBULK/GETNEXT round trips per walk, so a runaway table cannot hold a slot forever."""

_TIMEOUT_REASON = "no answer: wrong community or agent down"
VERSION_3 = 3
_CACHE_MAX = 4096
"""Encoded varbind lists kept per OID list; profiles have a few dozen, so this never fills."""

Varbinds = list[tuple[str, Any]]


@dataclass(slots=True)
class Answer:
    """What one GET or walk returned: `status` None means the agent answered.

    With `status` None, a non-empty `reason` is a note about an answer that is still usable
    (a walk cut at the request cap, a v1 GET sent again without an unknown OID).
    """

    varbinds: Varbinds = field(default_factory=list)
    status: Status | None = None
    reason: str = ""


class SnmpClient:
    """Shared SNMP machinery for the whole agent; cheap per-request objects are cached."""

    def __init__(self, config_dir: str = ".", transport: SnmpTransport | None = None) -> None:
        self._config_dir = config_dir
        self.transport = transport or SnmpTransport()
        self._v3_client: V3Client | None = None
        self._v3_fast: FastV3Client | None = None
        self.v3_fast = True
        """Send v3 through netmon's own USM when it covers the user's protocols; False: always pysnmp."""
        self._fast_users: PerObject[bool] = PerObject()
        self._communities: PerObject[bytes] = PerObject()
        self._encoded: dict[tuple[str, ...], bytes] = {}
        self._texts: dict[wire.Oid, str] = {}
        """Walked OID -> its dotted text; emptied when it reaches 8 x _CACHE_MAX names (~4 MB)."""

    async def get(self, host: str, port: int, auth: SnmpAuth, oids: Sequence[str],
                  timeout_s: float, retries: int) -> Answer:
        """GET the scalar `oids` in one PDU."""
        if auth.version == "3" and not self._fast_user(auth):
            return await self._v3().get(host, port, auth, oids, timeout_s, retries)
        version = _VERSIONS[auth.version]
        asked, dropped = list(oids), []
        # SNMPv1 fails the whole PDU with noSuchName for one unknown OID; like net-snmp's
        # snmpget -Cf and Telegraf, send it again without that varbind (at most once per OID).
        for _ in range(len(oids)):
            answer = await self._ask(host, port, auth, version, wire.GET, self._varbinds(tuple(asked)), 0,
                                     timeout_s, retries)
            if isinstance(answer, Answer):
                return answer
            if version == wire.VERSION_1 and answer.error_status == wire.NO_SUCH_NAME \
                    and 0 < answer.error_index <= len(asked):
                dropped.append(asked.pop(answer.error_index - 1))
                if asked:
                    continue
                return Answer([(o, MISSING) for o in oids], None, _v1_dropped(oids, dropped))
            if answer.error_status:
                return _agent_error(answer, [])
            if len(answer.varbinds) != len(asked):
                return Answer([], Status.ERROR, f"agent answered {len(answer.varbinds)} values for "
                                                f"{len(asked)} OIDs asked")
            got = {o: MISSING if value is wire.END_OF_MIB else value
                   for o, (_, value) in zip(asked, answer.varbinds, strict=True)}
            return Answer([(o, got.get(o, MISSING)) for o in oids], None,
                          _v1_dropped(oids, dropped) if dropped else "")
        return Answer([], Status.ERROR, "agent kept answering noSuchName")

    async def walk(self, host: str, port: int, auth: SnmpAuth, root: str,
                   timeout_s: float, retries: int, max_repetitions: int) -> Answer:
        """Walk the subtree under `root` (GETBULK for v2c/v3, GETNEXT for v1)."""
        if auth.version == "3" and not self._fast_user(auth):
            return await self._v3().walk(host, port, auth, root, timeout_s, retries, max_repetitions)
        version = _VERSIONS[auth.version]
        pdu_type = wire.GETNEXT if version == wire.VERSION_1 else wire.GETBULK
        repetitions = max_repetitions if pdu_type == wire.GETBULK else 0
        base = wire.parse_oid(root)
        depth, last, out = len(base), base, []
        prefix = wire.oid_text(base) + "."  # every name is under base: only its tail needs text
        # the same cells come back poll after poll: a dict hit is cheaper than making the text
        # (bench/bench_snmp.py, interleaved with the code before: see BENCHMARKS.md)
        texts = self._texts
        # under base exactly when base <= name < upper (tuples compare element by element): two
        # comparisons instead of a slice per name; END_OF_MIB and MISSING read once, not per name
        upper, end_of_mib, missing = (*base[:-1], base[-1] + 1), wire.END_OF_MIB, MISSING
        for _ in range(MAX_WALK_CALLS):
            answer = await self._ask(host, port, auth, version, pdu_type, wire.encode_varbind(last),
                                     repetitions, timeout_s, retries)
            if isinstance(answer, Answer):
                return Answer(out, answer.status, answer.reason)
            if answer.error_status:
                if version == wire.VERSION_1 and answer.error_status == wire.NO_SUCH_NAME:
                    return Answer(out)  # v1's way of saying end of MIB
                return _agent_error(answer, out)
            if not answer.varbinds:
                return Answer(out)
            for name, value in answer.varbinds:
                if value is end_of_mib or not base <= name < upper:
                    return Answer(out)
                if name <= last:
                    return Answer(out, Status.ERROR, f"agent returned OID {wire.oid_text(name)} after "
                                                     f"{wire.oid_text(last)} (not increasing; broken agent)")
                last = name
                if value is not missing:
                    text = texts.get(name)
                    if text is None:
                        if len(texts) >= _CACHE_MAX * 8:
                            texts.clear()
                        text = texts[name] = prefix + ".".join(map(str, name[depth:]))
                    out.append((text, value))
        log.debug("walk of %s on %s stopped after %d requests", root, host, MAX_WALK_CALLS)
        return Answer(out, None, cut_reason(len(out)))

    def close(self) -> None:
        """Close the sockets; pending requests are abandoned."""
        self.transport.close()
        if self._v3_client is not None:
            self._v3_client.close()
        if self._v3_fast is not None:
            self._v3_fast.close()

    # ------------------------------------------------------------------ internals

    async def _ask(self, host: str, port: int, auth: SnmpAuth, version: int, pdu_type: int,
                   body: bytes, max_repetitions: int, timeout_s: float, retries: int
                   ) -> Response | Answer:
        """One request/response exchange; an Answer when there is no usable Response."""
        if version == VERSION_3:
            return await self._fast().ask(host, port, auth, pdu_type, body, max_repetitions,
                                          timeout_s, retries)
        community = self._community(auth)

        def build(request_id: int) -> bytes:
            return wire.encode_request(version, community, pdu_type, request_id, body, 0,
                                       max_repetitions)

        try:
            response = await self.transport.request(host, port, version, community, build,
                                                    timeout_s, retries)
        except socket.gaierror as exc:
            return Answer([], Status.ERROR, f"cannot resolve host {host!r}: {exc.strerror}")
        except OSError as exc:  # no socket for this address family (e.g. IPv6 disabled)
            return Answer([], Status.ERROR, f"cannot send to {host}: {exc}")
        except TransportClosed:
            return Answer([], Status.ERROR, "SNMP client closed while waiting for the answer")
        if response is None:
            return Answer([], Status.TIMEOUT, _TIMEOUT_REASON)
        return response

    def _varbinds(self, oids: tuple[str, ...]) -> bytes:
        body = self._encoded.get(oids)
        if body is None:
            if len(self._encoded) >= _CACHE_MAX:
                self._encoded.clear()
            body = self._encoded[oids] = b"".join(wire.encode_varbind(wire.parse_oid(o)) for o in oids)
        return body

    def _community(self, auth: SnmpAuth) -> bytes:
        # The secret is revealed only here, once per configured community (per_object.py).
        community = self._communities.get(auth)
        if community is None:
            secret = auth.community.reveal() if auth.community else ""
            community = self._communities.put(auth, secret.encode("utf-8"))
        return community

    def _fast_user(self, auth: SnmpAuth) -> bool:
        # decided once per configured user, from its protocols alone
        fast = self._fast_users.get(auth)
        if fast is None:
            from netmon.probers.snmp_v3_fast import covers

            fast = self._fast_users.put(auth, self.v3_fast and covers(auth))
        return fast

    def _fast(self) -> FastV3Client:
        if self._v3_fast is None:
            from netmon.probers.snmp_v3_fast import FastV3Client

            self._v3_fast = FastV3Client(self._config_dir)
        return self._v3_fast

    def _v3(self) -> V3Client:
        if self._v3_client is None:
            from netmon.probers.snmp_v3 import V3Client  # pysnmp costs ~0.5 s to import: only if used

            self._v3_client = V3Client(self._config_dir)
        return self._v3_client


_VERSIONS = {"1": wire.VERSION_1, "2c": wire.VERSION_2C, "3": VERSION_3}


def cut_reason(cells: int) -> str:
    """The note of a walk stopped by MAX_WALK_CALLS: what was read is kept, the table is incomplete."""
    return (f"stopped at the {MAX_WALK_CALLS}-request cap after {cells} cells: table incomplete "
            "(raise max_repetitions, or walk a narrower OID)")


def _v1_dropped(oids: Sequence[str], dropped: list[str]) -> str:
    named = ", ".join(o for o in oids if o in dropped)
    return f"SNMPv1 noSuchName for {named}: asked again without it"


def _agent_error(response: Response, out: Varbinds) -> Answer:
    return Answer(out, Status.ERROR,
                  f"agent error {wire.error_name(response.error_status)} at #{response.error_index}")
