"""Value types every part of netmon shares: results, samples, devices and secrets.

A prober turns (device, check) into a `ProbeResult`. A failing target is data: the prober
*returns* a result whose `status` says what went wrong and whose `reason` says why, in words a
technician understands. An exception escaping a prober is a bug; the scheduler logs it with its
traceback and keeps going.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FieldValue = int | float | str | bool

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""InfluxDB stores integer fields as signed 64-bit; a larger value refuses the whole line."""
MAX_STR_BYTES = 64 * 1024
"""InfluxDB's limit on a string field value (UTF-8 bytes); longer ones refuse the whole line."""
FIELD_TYPE_NAMES = ("bool", "int", "float", "str")
"""The declared field types: what line protocol can carry (`true`, `1i`, `1.5`, `"text"`)."""


def check_value(value: Any) -> tuple[FieldValue | None, str, str | None]:
    """(value as a plain builtin, its type name, problem or None) for one field value.

    Subclasses (an IntEnum, numpy scalars) become the plain type they stand for, so what is
    stored is always JSON and line-protocol clean. `bool` is tested first: it is an `int`.
    """
    if isinstance(value, bool):
        return bool(value), "bool", None
    if isinstance(value, int):
        value = int(value)
        if INT64_MIN <= value <= INT64_MAX:
            return value, "int", None
        return None, "int", f"int of {len(str(abs(value)))} digits, outside InfluxDB's 64-bit range"
    if isinstance(value, float):
        value = float(value)
        if math.isfinite(value):
            return value, "float", None
        return None, "float", f"non-finite float {value!r}"
    if isinstance(value, str):
        value = str(value)
        return (None, "str", problem) if (problem := text_problem(value)) else (value, "str", None)
    return None, type(value).__name__, f"unsupported type {type(value).__name__}"


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored and sent as a string field or tag value, or None."""
    if "\x00" in text:
        return "str containing a NUL character"
    try:
        size = len(text.encode())
    except UnicodeEncodeError:
        return "str that is not valid Unicode (a lone surrogate)"
    if size > MAX_STR_BYTES:
        return f"str of {size} bytes (InfluxDB takes at most {MAX_STR_BYTES})"
    return None


class Status(enum.StrEnum):
    """Outcome of one probe; stored as text and sent as the `result` tag."""

    OK = "ok"
    TIMEOUT = "timeout"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    AUTH_FAILED = "auth_failed"
    MISMATCH = "mismatch"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Sample:
    """One point of one measurement (docs/series.md); device tags are added by the sinks.

    `tags` holds only the measurement's own tags (`url`, `ifIndex`, ...). A field never changes
    type: probers write floats as `float` and counters as `int`, and omit a field rather than
    writing a placeholder (no 0.0 RTT for a host that never replied).
    """

    measurement: str
    fields: Mapping[str, FieldValue]
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What one run of one check against one device found."""

    device_id: str
    check: str
    prober: str
    status: Status
    reason: str
    ts: float
    """Unix time (seconds) when the probe started."""
    duration_s: float
    samples: tuple[Sample, ...] = ()

    @property
    def up(self) -> bool:
        """True when the device answered this check."""
        return self.status is Status.OK


class Secret:
    """A credential value that never shows itself in logs, errors, `repr` or dumps."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self.source = source
        """Where the value came from, safe to print: `env NETMON_TOKEN`, `file /etc/...`."""

    def reveal(self) -> str:
        """Return the secret itself; call only at the point of use (a request header, a key)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret(<hidden, from {self.source}>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple:
        raise TypeError("secrets are not serialisable")


@dataclass(frozen=True, slots=True)
class Device:
    """One monitored thing, flattened out of the inventory with inherited values resolved."""

    id: str
    """Derived path `province/commune[/village]/device`, lower-case ASCII slugs; unique."""
    name: str
    kind: str
    profile: str
    province: str
    commune: str
    village: str
    """Empty for commune-level devices (office router, PCs, services)."""
    host: str | None = None
    url: str | None = None
    port: int | None = None
    snmp_port: int | None = None
    auth: str | None = None
    """Name of an entry in `auths:`; resolve with `Config.auths`."""
    parent: str | None = None
    """Id of the parent device (dependency for upstream attribution)."""
    operator: str = ""
    lat: float | None = None
    lon: float | None = None

    @property
    def target(self) -> str:
        """What a technician would call this device: its host, else its URL."""
        return self.host or self.url or ""

    def tags(self, agent: str) -> dict[str, str]:
        """The tag set every point of this device carries (docs/series.md)."""
        return {
            "agent": agent,
            "province": self.province,
            "commune": self.commune,
            "village": self.village,
            "device": self.name,
            "kind": self.kind,
            "operator": self.operator,
        }
