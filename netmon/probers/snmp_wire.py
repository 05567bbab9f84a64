"""BER codec for SNMP v1/v2c messages: encode requests, decode responses, strictly.

Only what a manager needs: GetRequest, GetNextRequest and GetBulkRequest out (numeric OIDs,
NULL values), Response in. pysnmp spends ~60 µs of pyasn1 per varbind decoding the same
thing (measured with pysnmp 7.1); this codec is a few µs, so a full device poll costs the agent
about what the exporter pays.

Decoding is strict because packets come from the network: every length must fit inside its
container, lengths are definite (at most 3 length octets, UDP is < 64 KiB), the message must end
exactly where its outer SEQUENCE says, and each value must have the size its type allows.
Anything else raises `WireError` (a `ValueError`) and the caller drops the packet.

Decoded values are plain Python, the types snmp_derive consumes: `int` for INTEGER, Counter32,
Gauge32/Unsigned32, TimeTicks and Counter64; `bytes` for OCTET STRING and Opaque; dotted text
for OBJECT IDENTIFIER and IpAddress; `""` for NULL; `MISSING` for noSuchObject/noSuchInstance
and `END_OF_MIB` for endOfMibView. Varbind names stay tuples of ints (cheap to compare in walks).
Application types this codec has no meaning for (NsapAddress, UInteger32 of RFC 1442, vendor
tags) decode as `RawValue`, an opaque value: one odd varbind must not cost the whole reply.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from netmon.errors import ProbeError

VERSION_1, VERSION_2C = 0, 1
GET, GETNEXT, RESPONSE, GETBULK = 0xA0, 0xA1, 0xA2, 0xA5

MISSING: Any = object()
"""An OID the agent does not have (noSuchObject / noSuchInstance / v1 noSuchName)."""

END_OF_MIB: Any = object()
"""endOfMibView: a walk ran off the end of what the agent has."""

ERROR_NAMES = ("noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr", "noAccess",
               "wrongType", "wrongLength", "wrongEncoding", "wrongValue", "noCreation",
               "inconsistentValue", "resourceUnavailable", "commitFailed", "undoFailed",
               "authorizationError", "notWritable", "inconsistentName")
NO_SUCH_NAME = 2

MAX_SUBIDS = 128
"""RFC 2578 §3.5: an OID has at most 128 sub-identifiers, each below 2^32."""

_U32, _U64 = (1 << 32) - 1, (1 << 64) - 1
_INT_TYPES = {0x41, 0x42, 0x43}  # Counter32, Gauge32/Unsigned32, TimeTicks
_FIRST_ARCS = tuple((0, b) if b < 40 else (1, b - 40) if b < 80 else (2, b - 80) for b in range(128))
_NULL_VALUE = b"\x05\x00"

_TYPE_NAMES = {0x45: "NsapAddress", 0x47: "UInteger32"}

Oid = tuple[int, ...]
VarBind = tuple[Oid, Any]


class WireError(ProbeError, ValueError):
    """Bytes that are not a well-formed SNMP v1/v2c Response; the packet is dropped."""


@dataclass(frozen=True, slots=True)
class RawValue:
    """A value of an application type netmon does not interpret: kept opaque, never guessed at."""

    tag: int
    raw: bytes

    @property
    def type_name(self) -> str:
        """The SMI name of the type when it has one (NsapAddress, UInteger32), else its tag."""
        return _TYPE_NAMES.get(self.tag, f"application type 0x{self.tag:02x}")

    def __str__(self) -> str:
        return f"{self.type_name} 0x{self.raw.hex()}"


@dataclass(frozen=True, slots=True)
class Response:
    """One decoded Response PDU and the message header around it."""

    version: int
    community: bytes
    request_id: int
    error_status: int
    error_index: int
    varbinds: list[VarBind]


# ------------------------------------------------------------------ OIDs


def parse_oid(text: str) -> Oid:
    """Turn '1.3.6.1...' (a leading dot allowed) into a tuple, checking it can be encoded."""
    try:
        oid = tuple(int(part) for part in text.strip().lstrip(".").split("."))
    except ValueError:
        raise WireError(f"{text!r} is not a numeric OID") from None
    _check_oid(oid)
    return oid


def oid_text(oid: Iterable[int]) -> str:
    """Dotted text of an OID tuple."""
    return ".".join(map(str, oid))


def _check_oid(oid: Sequence[int]) -> None:
    if len(oid) < 2 or len(oid) > MAX_SUBIDS:
        raise WireError(f"an OID has 2 to {MAX_SUBIDS} sub-identifiers, not {len(oid)}")
    if oid[0] > 2 or (oid[0] < 2 and oid[1] >= 40):
        raise WireError(f"OID cannot start with {oid[0]}.{oid[1]}")
    if min(oid) < 0 or max(oid) > _U32:
        raise WireError("OID sub-identifiers must be within 0..2^32-1")


def encode_oid(oid: Sequence[int]) -> bytes:
    """The OBJECT IDENTIFIER TLV of a checked OID tuple."""
    _check_oid(oid)
    body = bytearray()
    for sub in (oid[0] * 40 + oid[1], *oid[2:]):
        if sub < 0x80:
            body.append(sub)
            continue
        chunk = [sub & 0x7F]
        sub >>= 7
        while sub:
            chunk.append(0x80 | (sub & 0x7F))
            sub >>= 7
        body.extend(reversed(chunk))
    return _tlv(0x06, bytes(body))


def _decode_oid(raw: bytes) -> Oid:
    if raw.isascii():  # every sub-identifier below 128: the common case, one C-speed pass
        if not raw:
            raise WireError("empty OBJECT IDENTIFIER")
        oid = _FIRST_ARCS[raw[0]] + tuple(raw[1:])
        if len(oid) > MAX_SUBIDS:
            raise WireError("OBJECT IDENTIFIER longer than 128 sub-identifiers")
        return oid
    subs: list[int] = []
    value, fresh = 0, True
    for byte in raw:
        if fresh and byte == 0x80:
            raise WireError("OBJECT IDENTIFIER sub-identifier with a leading 0x80 (not minimal)")
        value = (value << 7) | (byte & 0x7F)
        if byte & 0x80:
            fresh = False
            continue
        if value > _U32 + 80 * (not subs):
            raise WireError("OBJECT IDENTIFIER sub-identifier above 2^32-1")
        subs.append(value)
        value, fresh = 0, True
    if not fresh:
        raise WireError("OBJECT IDENTIFIER ends inside a sub-identifier")
    first = subs[0]
    head = (0, first) if first < 40 else (1, first - 40) if first < 80 else (2, first - 80)
    if len(subs) + 1 > MAX_SUBIDS:
        raise WireError("OBJECT IDENTIFIER longer than 128 sub-identifiers")
    return head + tuple(subs[1:])


# ------------------------------------------------------------------ encoding


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    if n < 0x100:
        return bytes((0x81, n))
    if n < 0x10000:
        return bytes((0x82, n >> 8, n & 0xFF))
    raise WireError(f"{n} bytes do not fit in one UDP datagram")


def _tlv(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:  # the short form: every request but one with dozens of OIDs
        return bytes((tag, size)) + body
    return bytes((tag,)) + _length(size) + body


_SMALL_INTEGERS = tuple(bytes((0x02, 1, n)) for n in range(0x80))
"""INTEGER TLVs of 0..127: version, non-repeaters, max-repetitions of every request."""


def encode_integer(value: int, tag: int = 0x02) -> bytes:
    """A minimal two's-complement INTEGER TLV (or an application type with `tag`)."""
    if 0 <= value < 0x80 and tag == 0x02:
        return _SMALL_INTEGERS[value]
    size = ((value if value >= 0 else ~value).bit_length() + 8) // 8
    return _tlv(tag, value.to_bytes(size, "big", signed=True))


def encode_varbind(oid: Sequence[int]) -> bytes:
    """One request varbind: the OID with a NULL value."""
    return _tlv(0x30, encode_oid(oid) + _NULL_VALUE)


def encode_request(version: int, community: bytes, pdu_type: int, request_id: int,
                   varbinds: bytes, non_repeaters: int = 0, max_repetitions: int = 0) -> bytes:
    """A whole request message; `varbinds` is the concatenation of `encode_varbind` results.

    For GET and GETNEXT the two counters are the error-status and error-index (zero); for
    GETBULK they are non-repeaters and max-repetitions.
    """
    if pdu_type not in (GET, GETNEXT, GETBULK) or (pdu_type == GETBULK and version == VERSION_1):
        raise WireError(f"cannot send PDU type 0x{pdu_type:02x} as SNMP version {version}")
    pdu = (encode_integer(request_id) + encode_integer(non_repeaters)
           + encode_integer(max_repetitions) + _tlv(0x30, varbinds))
    return _tlv(0x30, encode_integer(version) + _tlv(0x04, community) + _tlv(pdu_type, pdu))


# ------------------------------------------------------------------ decoding


def _header(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the TLV at `pos`, checked against `end`."""
    if pos + 2 > end:
        raise WireError("truncated: a TLV header runs past its container")
    tag, size = buf[pos], buf[pos + 1]
    pos += 2
    if size & 0x80:
        count = size & 0x7F
        if count == 0 or count > 3:
            raise WireError("indefinite or oversized length form")
        if pos + count > end:
            raise WireError("truncated: a length runs past its container")
        size = int.from_bytes(buf[pos:pos + count], "big")
        pos += count
    stop = pos + size
    if stop > end:
        raise WireError(f"length {size} overruns its container by {stop - end} bytes")
    return tag, pos, stop


def _int_field(buf: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    tag, start, stop = _header(buf, pos, end)
    if tag != 0x02 or not 1 <= stop - start <= 5:
        raise WireError(f"{what}: expected an INTEGER of 1..5 bytes")
    return int.from_bytes(buf[start:stop], "big", signed=True), stop


def decode_value(tag: int, raw: bytes) -> Any:
    """The plain Python value of one varbind value TLV (see the module docstring)."""
    size = len(raw)
    if tag == 0x02:
        if not 1 <= size <= 5:
            raise WireError(f"INTEGER of {size} bytes")
        value = int.from_bytes(raw, "big", signed=True)
        # agents that put an unsigned 32-bit value in an INTEGER are common enough to tolerate
        if not -(1 << 31) <= value <= _U32:
            raise WireError("INTEGER outside -2^31..2^32-1")
        return value
    if tag == 0x04 or tag == 0x44:
        return raw
    if tag in _INT_TYPES:
        # unsigned even without the leading zero octet, as net-snmp reads it
        if not 1 <= size <= 5 or (size == 5 and raw[0]):
            raise WireError(f"32-bit unsigned value of {size} bytes")
        return int.from_bytes(raw, "big")
    if tag == 0x46:
        if not 1 <= size <= 9 or (size == 9 and raw[0]):
            raise WireError(f"Counter64 of {size} bytes")
        return int.from_bytes(raw, "big")
    if tag == 0x06:
        # OID values repeat (hrStorageType, ifSpecific): their text is kept like names are
        text = _OID_VALUE_CACHE.get(raw)
        if text is None:
            text = oid_text(_decode_oid(raw))
            if len(_OID_VALUE_CACHE) >= _OID_CACHE_MAX:
                _OID_VALUE_CACHE.clear()
            _OID_VALUE_CACHE[bytes(raw)] = text
        return text
    if tag == 0x40:
        if size != 4:
            raise WireError(f"IpAddress of {size} bytes")
        return "%d.%d.%d.%d" % tuple(raw)  # noqa: UP031  # fastest for four small ints
    if tag in (0x05, 0x80, 0x81, 0x82):
        if size:
            raise WireError(f"NULL or exception value with {size} content bytes")
        return "" if tag == 0x05 else END_OF_MIB if tag == 0x82 else MISSING
    if 0x40 <= tag < 0x5F:  # application class, primitive, low-tag form: a type we do not know
        return RawValue(tag, bytes(raw))
    raise WireError(f"unknown value type 0x{tag:02x}")


def decode_response(buf: bytes) -> Response:
    """Decode one datagram as a v1/v2c Response; raise WireError for anything malformed."""
    end = len(buf)
    tag, pos, stop = _header(buf, 0, end)
    if tag != 0x30 or stop != end:
        raise WireError("not one SEQUENCE spanning the whole datagram")
    version, pos = _int_field(buf, pos, end, "version")
    if version not in (VERSION_1, VERSION_2C):
        raise WireError(f"SNMP version field {version} is not v1 or v2c")
    tag, start, pos = _header(buf, pos, end)
    if tag != 0x04:
        raise WireError("community is not an OCTET STRING")
    community = buf[start:pos]
    tag, pos, stop = _header(buf, pos, end)
    if tag != RESPONSE or stop != end:
        raise WireError(f"PDU type 0x{tag:02x} is not a Response spanning the message")
    request_id, pos = _int_field(buf, pos, end, "request-id")
    error_status, pos = _int_field(buf, pos, end, "error-status")
    error_index, pos = _int_field(buf, pos, end, "error-index")
    tag, pos, stop = _header(buf, pos, end)
    if tag != 0x30 or stop != end:
        raise WireError("varbind list is not a SEQUENCE ending the PDU")
    return Response(version, community, request_id, error_status, error_index,
                    _varbinds(buf, pos, end))


_OID_CACHE: dict[bytes, Oid] = {}
_OID_VALUE_CACHE: dict[bytes, str] = {}
_OID_CACHE_MAX = 1 << 15
"""Encoded name -> decoded tuple. Agents answer the same table cells poll after poll, so a dict
hit replaces the decode (bench/bench_snmp.py: decoding names was ~1/4 of the receive path). Only
names that decoded without error are kept, so a hit is exactly as strict as a decode; the cache
is emptied when full (~6 MB at most), so a walk of a huge table cannot grow it without bound."""


def _varbinds(buf: bytes, pos: int, end: int) -> list[VarBind]:
    out: list[VarBind] = []
    append = out.append
    cache = _OID_CACHE
    while pos < end:
        if pos + 2 <= end and buf[pos] == 0x30 and buf[pos + 1] < 0x80:
            pos += 2
            vb_end = pos + buf[pos - 1]
            if vb_end > end:
                raise WireError(f"length {vb_end - pos} overruns its container by {vb_end - end} bytes")
        else:
            tag, pos, vb_end = _header(buf, pos, end)
            if tag != 0x30:
                raise WireError("varbind is not a SEQUENCE")
        # the name almost always has a short-form length: read it inline (this loop is the hot path)
        if pos + 2 <= vb_end and buf[pos] == 0x06 and buf[pos + 1] < 0x80:
            start = pos + 2
            pos = start + buf[pos + 1]
            if pos > vb_end:
                raise WireError("varbind name overruns its varbind")
        else:
            tag, start, pos = _header(buf, pos, vb_end)
            if tag != 0x06:
                raise WireError("varbind name is not an OBJECT IDENTIFIER")
        raw = buf[start:pos]
        name = cache.get(raw)
        if name is None:
            name = _decode_oid(raw)
            if len(cache) >= _OID_CACHE_MAX:
                cache.clear()
            cache[raw] = name
        # the value, too, is read inline when its length is short-form (all but long strings)
        if pos + 2 <= vb_end and buf[pos + 1] < 0x80:
            tag = buf[pos]
            start = pos + 2
            pos = start + buf[pos + 1]
            if pos > vb_end:
                raise WireError(f"length {pos - start} overruns its container by {pos - vb_end} bytes")
        else:
            tag, start, pos = _header(buf, pos, vb_end)
        if pos != vb_end:
            raise WireError("varbind has bytes after its value")
        # OCTET STRING and the 32-bit unsigned types are most cells of a table: decoded here with
        # decode_value's own checks, saving a call per cell; every other type goes through it
        if tag == 0x04:
            append((name, buf[start:pos]))
        elif tag in _INT_TYPES and 1 <= pos - start <= 5 and (pos - start < 5 or not buf[start]):
            append((name, int.from_bytes(buf[start:pos], "big")))
        else:
            append((name, decode_value(tag, buf[start:pos])))
    return out


def error_name(status: int) -> str:
    """The RFC 3416 name of an error-status number."""
    return ERROR_NAMES[status] if 0 <= status < len(ERROR_NAMES) else f"error-status {status}"
