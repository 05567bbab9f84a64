"""The declared type and range of every field netmon derives from SNMP, and the check of each value.

An agent that answers with the wrong type (sysUpTime as an OCTET STRING, hrMemorySize as text)
or an absurd number (a negative hrStorageSize, a CPU load of 250 %, a Counter64 of 2^64-1) must
not become a report line ("RAM 18014398509481983 MB") nor a field whose type changes under
InfluxDB (which then refuses the whole point). `check(spec, value)` either converts the value to
the field's one Python type or says, in words a technician can act on, what came and what the
MIB expects; the caller omits the field and makes the poll `error`.

Ranges are the MIB's, except where the MIB allows what no device can mean:
- INTEGER columns that are sizes or counts accept 0..2^32-1 (agents that send unsigned 32-bit
  values in an INTEGER are tolerated by the codec too), never a negative number;
- Counter64 accepts 0..2^63-1: a higher value is a negative number sent as unsigned (or a
  "-1 = unknown" sentinel), more octets than any link carries between two reboots, and beyond
  the int64 that InfluxDB stores;
- hrMemorySize must be at least 1 KB: 0 is an agent that could not read it, not a PC without RAM.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from netmon.errors import ProbeError
from netmon.model import FieldValue
from netmon.probers.snmp_wire import RawValue

U32 = (1 << 32) - 1
I32 = (1 << 31) - 1
I64 = (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class Spec:
    """What one field must be. `kind`: ticks, int, text, hex, oid, number, any."""

    mib: str
    kind: str
    lo: float | None = None
    hi: float | None = None

    def expected(self) -> str:
        """The expectation in words, for the error reason."""
        what = {"ticks": "TimeTicks", "int": "an integer", "text": "an OCTET STRING",
                "hex": "an OCTET STRING", "oid": "an OBJECT IDENTIFIER", "number": "a number",
                "any": "a value"}[self.kind]
        if self.lo is not None and self.hi is not None:
            return f"{what} {_num(self.lo)}..{_num(self.hi)}"
        return what


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


TICKS = ("ticks", 0, U32)


def _s(mib: str, kind: str, lo: float | None = None, hi: float | None = None) -> Spec:
    return Spec(mib, kind, lo, hi)


def _counter32(mib: str) -> Spec:
    return Spec(mib, "int", 0, U32)


SCALARS: dict[str, tuple[str, Spec]] = {
    "1.3.6.1.2.1.1.1.0": ("sys_descr", _s("sysDescr", "text")),
    "1.3.6.1.2.1.1.2.0": ("sys_object_id", _s("sysObjectID", "oid")),
    "1.3.6.1.2.1.1.3.0": ("uptime_s", _s("sysUpTime", *TICKS)),
    "1.3.6.1.2.1.1.5.0": ("sys_name", _s("sysName", "text")),
    "1.3.6.1.2.1.25.1.1.0": ("hr_uptime_s", _s("hrSystemUptime", *TICKS)),
    "1.3.6.1.2.1.25.2.2.0": ("hr_memory_kb", _s("hrMemorySize", "int", 1, I32)),
}
"""Well-known scalars by OID: fixed field name and spec, whatever the profile calls them."""

_IF = {
    "ifDescr": _s("ifDescr", "text"), "ifType": _s("ifType", "int", 1, I32),
    "ifMtu": _s("ifMtu", "int", -I32 - 1, I32), "ifSpeed": _s("ifSpeed", "int", 0, U32),
    "ifPhysAddress": _s("ifPhysAddress", "hex"), "ifAdminStatus": _s("ifAdminStatus", "int", 1, 3),
    "ifOperStatus": _s("ifOperStatus", "int", 1, 7), "ifLastChange": _s("ifLastChange", "int", 0, U32),
    "ifOutQLen": _s("ifOutQLen", "int", 0, U32), "ifSpecific": _s("ifSpecific", "oid"),
    "ifName": _s("ifName", "text"), "ifAlias": _s("ifAlias", "text"),
    "ifLinkUpDownTrapEnable": _s("ifLinkUpDownTrapEnable", "int", 1, 2),
    "ifHighSpeed": _s("ifHighSpeed", "int", 0, U32), "ifPromiscuousMode": _s("ifPromiscuousMode", "int", 1, 2),
    "ifConnectorPresent": _s("ifConnectorPresent", "int", 1, 2),
    "ifCounterDiscontinuityTime": _s("ifCounterDiscontinuityTime", "int", 0, U32),
}
for _c in ("ifInOctets", "ifInUcastPkts", "ifInNUcastPkts", "ifInDiscards", "ifInErrors",
           "ifInUnknownProtos", "ifOutOctets", "ifOutUcastPkts", "ifOutNUcastPkts", "ifOutDiscards",
           "ifOutErrors", "ifInMulticastPkts", "ifInBroadcastPkts", "ifOutMulticastPkts",
           "ifOutBroadcastPkts"):
    _IF[_c] = _counter32(_c)
for _c in ("ifHCInOctets", "ifHCInUcastPkts", "ifHCInMulticastPkts", "ifHCInBroadcastPkts",
           "ifHCOutOctets", "ifHCOutUcastPkts", "ifHCOutMulticastPkts", "ifHCOutBroadcastPkts"):
    _IF[_c] = _s(_c, "int", 0, I64)

COLUMNS: dict[str, dict[str, Spec]] = {
    "interface": _IF,
    "hr_storage": {
        "hrStorageType": _s("hrStorageType", "oid"), "hrStorageDescr": _s("hrStorageDescr", "text"),
        "hrStorageAllocationUnits": _s("hrStorageAllocationUnits", "int", 1, I32),
        "hrStorageSize": _s("hrStorageSize", "int", 0, U32),
        "hrStorageUsed": _s("hrStorageUsed", "int", 0, U32),
        "hrStorageAllocationFailures": _counter32("hrStorageAllocationFailures"),
    },
    "hr_cpu": {"hrProcessorFrwID": _s("hrProcessorFrwID", "oid"),
               "hrProcessorLoad": _s("hrProcessorLoad", "int", 0, 100)},
}
"""Table columns by measurement and MIB column name; a column not listed is `any`."""

ANY = Spec("value", "any")
FLOAT_SUFFIXES = ("_dbm", "_db", "_pct", "_s", "_ms", "_c", "_v")
"""A `get:` name ending in a unit of a measured level is a float (signal, temperature...)."""


def named_spec(name: str) -> Spec:
    """The spec of a profile-named `get:` OID netmon has no MIB knowledge of."""
    if name.endswith("_pct"):
        return Spec(name, "number", 0, 100)
    if name.endswith(FLOAT_SUFFIXES):
        return Spec(name, "number")
    return Spec(name, "any")


def describe(value: Any) -> str:
    """What came, as a technician reading snmpget output would name it."""
    if isinstance(value, bytes):
        shown = value[:40].decode("utf-8", "backslashreplace")
        return f"OCTET STRING {shown!r}" + ("..." if len(value) > 40 else "")
    if isinstance(value, RawValue):
        return str(value)
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, int | float):
        return f"number {value}"
    if value == "":
        return "NULL"
    return f"OID/address {value}"


class BadValue(ProbeError, ValueError):
    """A value that does not fit its field's spec; the message says what came."""


def check(spec: Spec, value: Any) -> FieldValue:
    """The value converted to the field's one type, or BadValue."""
    kind = spec.kind
    if kind == "ticks" or kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadValue(describe(value))
        _range(spec, value)
        return value / 100.0 if kind == "ticks" else value
    if kind == "text" or kind == "hex":
        if isinstance(value, bytes):
            return text(value) if kind == "text" else hexstr(value)
        raise BadValue(describe(value))
    if kind == "oid":
        if isinstance(value, str) and (value in _GOOD_OIDS or _good_oid(value)):
            return value
        raise BadValue(describe(value))
    if kind == "number":
        number = _number(value)
        if number is None:
            raise BadValue(describe(value))
        if (spec.lo is not None and number < spec.lo) or (spec.hi is not None and number > spec.hi):
            raise BadValue(describe(value))  # as it came, not as converted
        return number
    return _any(value)


_GOOD_OIDS: set[str] = set()
"""OID values already found well-formed: the same few (hrStorageType, ifSpecific) come in every
poll: a set lookup instead of splitting and testing each part again (check() of one 580 -> 180 ns,
timeit); emptied at 4,096 entries."""


def _good_oid(value: str) -> bool:
    if value and all(p.isdigit() for p in value.split(".")):
        if len(_GOOD_OIDS) >= 4096:
            _GOOD_OIDS.clear()
        _GOOD_OIDS.add(value)
        return True
    return False


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bytes):  # vendor agents often send a level as text: "-97" or "-97.5"
        try:
            number = float(value.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            return None
        return number if math.isfinite(number) else None
    return None


def _any(value: Any) -> FieldValue:
    if isinstance(value, bytes):
        return text(value)
    if isinstance(value, RawValue):
        return value.raw.hex()
    if isinstance(value, int | float | str):
        return value
    raise BadValue(describe(value))


def _range(spec: Spec, value: float) -> None:
    if (spec.lo is not None and value < spec.lo) or (spec.hi is not None and value > spec.hi):
        raise BadValue(describe(value))


def problem(where: str, oid: str, spec: Spec, exc: BadValue) -> str:
    """The error reason for one bad value: OID, what came, what was expected."""
    return f"{where} ({oid}): got {exc}, expected {spec.expected()}"


def text(raw: Any) -> str:
    """Decode an OCTET STRING as agents mean it (UTF-8, else Latin-1), stripped of NULs."""
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8").strip("\x00").strip()
        except UnicodeDecodeError:
            return raw.decode("latin-1").strip("\x00").strip()
    return str(raw)


def hexstr(raw: Any) -> str:
    """Format an OCTET STRING as colon-separated hex (MAC addresses)."""
    return ":".join(f"{b:02x}" for b in raw) if isinstance(raw, bytes) else str(raw)
