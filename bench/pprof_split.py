"""Split a Go CPU profile (pprof's gzip'd profile.proto) into what kind of work each sample was.

Used by bench_snmp.py to count prometheus-snmp-exporter's CPU fairly: its SNMP work (gosnmp
encode/decode, UDP I/O, the collector turning PDUs into metrics) apart from HTTP serving and
Prometheus text rendering, which netmon's poll does not do.

The profile is decoded by a small hand-written reader of the protobuf wire format rather than the
`protobuf` package: only five messages and ten fields are needed (sample, location, line,
function, string table), the wire format is fixed, and the generated-code route would add a
dependency plus a compiled copy of profile.proto for what is ~60 lines here.

Classification of one sample (its stack, leaf first, inlined frames included):
- `http` if the stack is the per-request registration of the collector (its Describe);
- `snmp` if any frame is gosnmp or snmp_exporter's collector: a sample under the collector is SNMP
  work or PDU->metric conversion, whatever runtime or library function it ends in (the registry
  runs collectors in their own goroutines, so these stacks do not contain net/http frames);
- `http` if any frame is net/http, the Prometheus client (registry Gather, promhttp), expfmt,
  compress/* or the exporter's own handler;
- `runtime` otherwise: GC workers, scheduler, netpoller, signal handling, which serve both sides.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass

REGISTER_MARKS = ("github.com/prometheus/client_golang/prometheus.(*Registry).Register",)
"""The handler builds a registry per request and registers the collector (its Describe): HTTP side."""
SNMP_MARKS = ("github.com/gosnmp/", "github.com/soniah/gosnmp", "github.com/prometheus/snmp_exporter/collector.")
HTTP_MARKS = ("net/http.", "github.com/prometheus/client_golang/", "github.com/prometheus/common/expfmt.",
              "compress/", "main.handler", "github.com/prometheus/exporter-toolkit/", "net/textproto.",
              "bufio.", "github.com/matttproud/golang_protobuf_extensions/")
"""bufio alone is ambiguous, but only as a leaf under an http frame; a stack is checked for snmp first."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode one base-128 varint at pos: (value, next pos)."""
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of each field in one message; groups are not used by pprof."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, wire, value
        elif wire == 2:
            size, pos = _varint(buf, pos)
            yield number, wire, buf[pos:pos + size]
            pos += size
        elif wire == 1:
            yield number, wire, int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wire == 5:
            yield number, wire, int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} at byte {pos}")


def _ints(wire: int, value: int | bytes) -> list[int]:
    """A repeated integer field's values: packed (bytes) or one unpacked varint."""
    if wire == 0:
        return [value]  # type: ignore[list-item]
    out, pos, buf = [], 0, value
    while pos < len(buf):  # type: ignore[arg-type]
        v, pos = _varint(buf, pos)  # type: ignore[arg-type]
        out.append(v)
    return out


@dataclass(frozen=True, slots=True)
class CpuProfile:
    """The parts of a pprof CPU profile needed here: each sample's stack and CPU nanoseconds."""

    stacks: list[tuple[tuple[str, ...], int]]
    """(function names leaf first, CPU ns) per sample."""
    duration_ns: int

    @property
    def total_ns(self) -> int:
        """CPU nanoseconds over all samples."""
        return sum(ns for _, ns in self.stacks)


def parse(data: bytes) -> CpuProfile:
    """Decode a (gzip'd) profile.proto CPU profile."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    strings: list[str] = []
    types: list[int] = []
    raw_samples: list[tuple[list[int], list[int]]] = []
    locations: dict[int, list[int]] = {}
    functions: dict[int, int] = {}
    duration = 0
    for number, _wire, value in _fields(data):
        if number == 6:
            strings.append(value.decode("utf-8", "replace"))  # type: ignore[union-attr]
        elif number == 1:
            types.append(next(v for n, _, v in _fields(value) if n == 1))  # type: ignore[arg-type]
        elif number == 2:
            locs: list[int] = []
            vals: list[int] = []
            for n, w, v in _fields(value):  # type: ignore[arg-type]
                (locs if n == 1 else vals if n == 2 else []).extend(_ints(w, v))
            raw_samples.append((locs, vals))
        elif number == 4:
            loc_id, funcs = 0, []
            for n, _, v in _fields(value):  # type: ignore[arg-type]
                if n == 1:
                    loc_id = v  # type: ignore[assignment]
                elif n == 4:
                    funcs.append(next((fv for fn, _, fv in _fields(v) if fn == 1), 0))  # type: ignore[arg-type]
            locations[loc_id] = funcs  # type: ignore[assignment]
        elif number == 5:
            f = {n: v for n, _, v in _fields(value)}  # type: ignore[arg-type]
            functions[f.get(1, 0)] = f.get(2, 0)  # type: ignore[index,assignment]
        elif number == 10:
            duration = value  # type: ignore[assignment]
    names = [strings[t] for t in types]
    if "cpu" not in names:
        raise ValueError(f"not a CPU profile (sample types: {names})")
    cpu = names.index("cpu")
    stacks = [(tuple(strings[functions.get(fid, 0)] for loc in locs for fid in locations.get(loc, [])),
               vals[cpu]) for locs, vals in raw_samples]
    return CpuProfile(stacks, duration)


def kind(stack: tuple[str, ...]) -> str:
    """`snmp`, `http` or `runtime` for one sample's stack (see the module docstring)."""
    if any(name.startswith(REGISTER_MARKS) for name in stack):
        return "http"
    if any(name.startswith(SNMP_MARKS) for name in stack):
        return "snmp"
    if any(name.startswith(HTTP_MARKS) for name in stack):
        return "http"
    return "runtime"


def split(profile: CpuProfile) -> dict[str, int]:
    """CPU ns per kind, plus `samples` (the sample count, for the statistical error)."""
    out = {"snmp": 0, "http": 0, "runtime": 0}
    for stack, ns in profile.stacks:
        out[kind(stack)] += ns
    out["samples"] = len(profile.stacks)
    return out


def top(profile: CpuProfile, which: str, n: int = 10) -> list[tuple[str, float]]:
    """The n leaf functions with most CPU among samples of one kind: (name, share of that kind)."""
    per: dict[str, int] = {}
    for stack, ns in profile.stacks:
        if stack and kind(stack) == which:
            per[stack[0]] = per.get(stack[0], 0) + ns
    total = sum(per.values()) or 1
    return [(name, ns / total) for name, ns in sorted(per.items(), key=lambda kv: -kv[1])[:n]]
