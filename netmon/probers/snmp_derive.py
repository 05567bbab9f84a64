"""Turn raw SNMP answers into Telegraf-shaped samples: `snmp`, `interface`, `hr_storage`, `hr_cpu`.

Pure functions plus a small per-device memory (`DeviceMemory`) that the prober keeps between
polls, for counter rates and reboot detection. Field names follow Telegraf's inputs.snmp with the
MIB column names (docs/series.md); a field always has one type: counters and gauges are `int`,
derived values (`uptime_s`, `in_bps`, `used_pct`, signal levels) are `float`; a table netmon has no
schema for gives integers in `value` and text in `value_text`. Every value is
checked against its declared type and range first (snmp_fields); one that does not fit is left
out and named in `Derived.problems`, which makes the poll `error`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from netmon import uptime
from netmon.model import FieldValue, Sample
from netmon.probers.snmp_fields import ANY, COLUMNS, SCALARS, BadValue, Spec, check, hexstr, named_spec, problem, text
from netmon.uptime import host_uptime

__all__ = ["HR_STORAGE_ENTRY", "IF_ENTRY", "Derived", "DeviceMemory", "ago", "derive", "detect_reboot",
           "hexstr", "scalar_fields", "text"]

IF_ENTRY = "1.3.6.1.2.1.2.2.1"
IFX_ENTRY = "1.3.6.1.2.1.31.1.1.1"
HR_STORAGE_ENTRY = "1.3.6.1.2.1.25.2.3.1"
HR_PROCESSOR_ENTRY = "1.3.6.1.2.1.25.3.3.1"

IF_COLUMNS = dict(enumerate((
    "ifIndex", "ifDescr", "ifType", "ifMtu", "ifSpeed", "ifPhysAddress", "ifAdminStatus",
    "ifOperStatus", "ifLastChange", "ifInOctets", "ifInUcastPkts", "ifInNUcastPkts",
    "ifInDiscards", "ifInErrors", "ifInUnknownProtos", "ifOutOctets", "ifOutUcastPkts",
    "ifOutNUcastPkts", "ifOutDiscards", "ifOutErrors", "ifOutQLen", "ifSpecific"), start=1))
IFX_COLUMNS = dict(enumerate((
    "ifName", "ifInMulticastPkts", "ifInBroadcastPkts", "ifOutMulticastPkts",
    "ifOutBroadcastPkts", "ifHCInOctets", "ifHCInUcastPkts", "ifHCInMulticastPkts",
    "ifHCInBroadcastPkts", "ifHCOutOctets", "ifHCOutUcastPkts", "ifHCOutMulticastPkts",
    "ifHCOutBroadcastPkts", "ifLinkUpDownTrapEnable", "ifHighSpeed", "ifPromiscuousMode",
    "ifConnectorPresent", "ifAlias", "ifCounterDiscontinuityTime"), start=1))
HR_STORAGE_COLUMNS = dict(enumerate((
    "hrStorageIndex", "hrStorageType", "hrStorageDescr", "hrStorageAllocationUnits",
    "hrStorageSize", "hrStorageUsed", "hrStorageAllocationFailures"), start=1))
HR_STORAGE_TYPES = {
    "1.3.6.1.2.1.25.2.1.1": "other", "1.3.6.1.2.1.25.2.1.2": "ram",
    "1.3.6.1.2.1.25.2.1.3": "virtual_memory", "1.3.6.1.2.1.25.2.1.4": "fixed_disk",
    "1.3.6.1.2.1.25.2.1.5": "removable_disk", "1.3.6.1.2.1.25.2.1.6": "floppy_disk",
    "1.3.6.1.2.1.25.2.1.7": "compact_disc", "1.3.6.1.2.1.25.2.1.8": "ram_disk",
    "1.3.6.1.2.1.25.2.1.9": "flash_memory", "1.3.6.1.2.1.25.2.1.10": "network_disk",
}
_TABLES = (
    (IF_ENTRY, "interface", IF_COLUMNS),
    (IFX_ENTRY, "interface", IFX_COLUMNS),
    (HR_STORAGE_ENTRY, "hr_storage", HR_STORAGE_COLUMNS),
    (HR_PROCESSOR_ENTRY, "hr_cpu", {1: "hrProcessorFrwID", 2: "hrProcessorLoad"}),
)
_TABLE_PREFIXES = tuple((entry + ".", measurement, columns) for entry, measurement, columns in _TABLES)
"""Built once: split_tables tests every walked cell against each of these."""
_TAG_COLUMNS = {"ifDescr", "ifName", "hrStorageDescr"}
_SKIP_COLUMNS = {"ifIndex", "hrStorageIndex"}


@dataclass(slots=True)
class DeviceMemory:
    """What the prober remembers of a device's previous poll (counters, boot times)."""

    ts: float
    boot_ts: float | None = None
    """The host's boot time (kept across TimeTicks wraps), from `boot_src`."""
    boot_src: str | None = None
    agent_boot_ts: float | None = None
    """When the SNMP agent started (sysUpTime), to tell an agent restart from a reboot."""
    octets: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    """ifIndex -> (in, out, counter bits)."""


@dataclass(slots=True)
class Derived:
    """The samples of one poll plus what to remember and say about it."""

    samples: list[Sample]
    memory: DeviceMemory
    notes: list[str]
    reboot_ts: float | None = None
    problems: list[str] = field(default_factory=list)
    """Values that did not fit their field (wrong type, out of range): left out, poll is `error`."""


def scalar_fields(get: Mapping[str, str], values: Mapping[str, Any],
                  problems: list[str] | None = None) -> dict[str, FieldValue]:
    """Map `get:` names (name -> OID) and their answers (OID -> value) to checked `snmp` fields."""
    out: dict[str, FieldValue] = {}
    for name, oid in get.items():
        if oid not in values:
            continue
        fname, spec = SCALARS.get(oid) or (name, named_spec(name))
        try:
            out[fname] = check(spec, values[oid])
        except BadValue as exc:
            if problems is not None:
                problems.append(problem(spec.mib, oid, spec, exc))
    return out


def split_tables(varbinds: Iterable[tuple[str, Any]], problems: list[str] | None = None
                 ) -> tuple[dict[str, dict[str, dict[str, Any]]], list[tuple[str, Any]]]:
    """Group walked varbinds into {measurement: {index: {column: checked value}}}; return the rest too.

    A cell whose value does not fit its column is left out and described in `problems`.
    """
    tables: dict[str, dict[str, dict[str, Any]]] = {}
    other: list[tuple[str, Any]] = []
    cells = _CELLS
    for oid, value in varbinds:
        cell = cells.get(oid, _UNSEEN)
        if cell is _UNSEEN:
            cell = _cell(oid)
            if len(cells) >= _CELLS_MAX:
                cells.clear()
            cells[oid] = cell
        if cell is None:
            other.append((oid, value))
            continue
        measurement, index, name, spec, ints = cell
        row = tables.setdefault(measurement, {}).setdefault(index, {})
        if spec is None:
            continue
        if ints is not None and type(value) is int and ints[0] <= value <= ints[1]:
            row[name] = value  # what check() returns for an "int" spec, without the call
            continue
        try:
            row[name] = check(spec, value)
        except BadValue as exc:
            if problems is not None:
                problems.append(problem(f"{spec.mib if spec is not ANY else name}.{index}", oid,
                                        spec, exc))
    return tables, other


_Cell = tuple[str, str, str, Spec | None, tuple[float, float] | None] | None
_CELLS: dict[str, _Cell] = {}
_CELLS_MAX = 1 << 15
"""OID text -> where its cell goes. Devices answer the same cells poll after poll, so one dict hit
replaces four prefix tests, a split and two lookups per cell (bench/bench_snmp.py: split_tables
was ~8 % of a poll); emptied when full (~5 MB at most)."""
_UNSEEN: Any = object()


def _cell(oid: str) -> _Cell:
    """(measurement, index, column, spec or None for an index column, integer range or None)
    of a known table, else None; the range is set for "int" specs, most columns of a table."""
    for prefix, measurement, columns in _TABLE_PREFIXES:
        if oid.startswith(prefix):
            col, _, index = oid[len(prefix):].partition(".")
            name = columns.get(int(col), f"column{col}")
            spec = None if name in _SKIP_COLUMNS else COLUMNS[measurement].get(name, ANY)
            ints = (spec.lo, spec.hi) if spec is not None and spec.kind == "int" and spec.lo is not None \
                and spec.hi is not None else None
            return measurement, index, name, spec, ints
    return None


def row_fields(row: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, FieldValue]]:
    """Split one checked table row into tags (descriptions, names) and typed fields."""
    tags: dict[str, str] = {}
    fields: dict[str, FieldValue] = {}
    for name, value in row.items():
        if value == "":
            continue  # Telegraf skips empty strings too
        if name in _TAG_COLUMNS:
            tags[name] = str(value)
        else:
            fields[name] = value
    return tags, fields


def interface_samples(rows: Mapping[str, Mapping[str, Any]], now: float, prev: DeviceMemory | None,
                      rebooted: bool, memory: DeviceMemory, notes: list[str]) -> list[Sample]:
    """One `interface` sample per ifIndex, with in_bps/out_bps from the previous poll's counters."""
    samples = []
    for index in sorted(rows, key=_index_key):
        row = rows[index]
        tags, fields = row_fields(row)
        tags = {"ifIndex": index, **tags}
        hc = "ifHCInOctets" in row and "ifHCOutOctets" in row
        pair = ("ifHCInOctets", "ifHCOutOctets") if hc else ("ifInOctets", "ifOutOctets")
        if isinstance(row.get(pair[0]), int) and isinstance(row.get(pair[1]), int):
            current = (row[pair[0]], row[pair[1]], 64 if hc else 32)
            memory.octets[index] = current
            if prev is not None and not rebooted:
                fields.update(_rates(current, prev.octets.get(index), now - prev.ts,
                                     _speed_bps(row), index, notes))
        samples.append(Sample("interface", fields, tags))
    return samples


def _rates(cur: tuple[int, int, int], old: tuple[int, int, int] | None, dt: float,
           speed_bps: float, index: str, notes: list[str]) -> dict[str, FieldValue]:
    if old is None or old[2] != cur[2] or dt <= 0:
        return {}
    out: dict[str, FieldValue] = {}
    for key, now_v, old_v in (("in_bps", cur[0], old[0]), ("out_bps", cur[1], old[1])):
        delta = now_v - old_v
        if delta < 0:
            if cur[2] == 64:
                notes.append(f"ifIndex {index}: 64-bit counter went backwards (reset), no rate")
                return {}
            delta += 1 << 32  # Counter32 wrapped once since the last poll
        rate = delta * 8.0 / dt
        if speed_bps > 0 and rate > speed_bps * 1.05:
            # More than the link can carry: a counter reset, not traffic
            notes.append(f"ifIndex {index}: counter jump above link speed, no rate")
            return {}
        out[key] = rate
    return out


def _speed_bps(row: Mapping[str, Any]) -> float:
    high = row.get("ifHighSpeed")
    if isinstance(high, int) and high > 0:
        return high * 1e6
    speed = row.get("ifSpeed")
    return float(speed) if isinstance(speed, int) and speed > 0 else 0.0


def storage_samples(rows: Mapping[str, Mapping[str, Any]], problems: list[str] | None = None
                    ) -> list[Sample]:
    """One `hr_storage` sample per hrStorageIndex, with used_pct and size_bytes."""
    samples = []
    for index in sorted(rows, key=_index_key):
        row = rows[index]
        tags, fields = row_fields(row)
        kind = fields.get("hrStorageType")
        if isinstance(kind, str):
            fields["hrStorageType"] = HR_STORAGE_TYPES.get(kind, kind)
        units, size, used = (row.get(c) for c in ("hrStorageAllocationUnits", "hrStorageSize",
                                                   "hrStorageUsed"))
        if isinstance(units, int) and isinstance(size, int):
            fields["size_bytes"] = units * size
            if isinstance(used, int) and used > size:
                # more used than there is: one of the two is wrong, so neither ratio is shown
                fields.pop("hrStorageUsed", None)
                if problems is not None:
                    problems.append(f"hrStorageUsed.{index} ({HR_STORAGE_ENTRY}.6.{index}): got number {used},"
                                    f" expected at most hrStorageSize.{index} = {size}")
            elif isinstance(used, int):
                fields["used_bytes"] = units * used
                if size > 0:
                    fields["used_pct"] = 100.0 * used / size
        samples.append(Sample("hr_storage", fields, {"hrStorageIndex": index, **tags}))
    return samples


def cpu_samples(rows: Mapping[str, Mapping[str, Any]]) -> tuple[list[Sample], float | None]:
    """One `hr_cpu` sample per processor and the average load (None without processors)."""
    samples, loads = [], []
    for index in sorted(rows, key=_index_key):
        load = rows[index].get("hrProcessorLoad")
        if isinstance(load, int):
            loads.append(load)
            samples.append(Sample("hr_cpu", {"hrProcessorLoad": load}, {"index": index}))
    return samples, (sum(loads) / len(loads) if loads else None)


def detect_reboot(scalars: Mapping[str, Any], now: float, prev: DeviceMemory | None,
                  memory: DeviceMemory, notes: list[str]) -> float | None:
    """The host's boot time when it rebooted since the previous poll, else None; fills `memory`.

    The host uptime is hrSystemUptime where the agent has it (netmon.uptime): a restarted agent
    whose host runs on gets a note, not a reboot; a TimeTicks wrap is neither.
    """
    found = host_uptime(scalars)
    if found is None:
        return None
    uptime_s, source = found
    boot = now - uptime_s
    known = prev.boot_ts if prev is not None and prev.boot_src == source else None
    memory.boot_ts, memory.boot_src = uptime.next_boot(boot, known), source
    booted = uptime.rebooted(boot, known)
    agent_s = scalars.get("uptime_s")
    if source == uptime.HOST and isinstance(agent_s, float):
        agent_boot = now - agent_s
        agent_known = prev.agent_boot_ts if prev is not None else None
        memory.agent_boot_ts = uptime.next_boot(agent_boot, agent_known)
        if not booted and uptime.rebooted(agent_boot, agent_known):
            notes.append(f"SNMP agent restarted {ago(agent_s)} ago, the host was not rebooted "
                         f"(hrSystemUptime {ago(uptime_s)})")
    return boot if booted else None


def ago(seconds: float) -> str:
    """A duration as a person reads it: 45 s, 12 min, 3.5 h, 4.2 d."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def derive(get: Mapping[str, str], values: Mapping[str, Any], walked: Iterable[tuple[str, Any]],
           walk_names: Mapping[str, str], now: float, prev: DeviceMemory | None) -> Derived:
    """Build every sample of one poll of one device."""
    problems: list[str] = []
    scalars = scalar_fields(get, values, problems)
    memory = DeviceMemory(now)
    notes: list[str] = []
    reboot_ts = detect_reboot(scalars, now, prev, memory, notes)
    rebooted = reboot_ts is not None
    if memory.boot_ts is not None:
        scalars["rebooted"] = int(rebooted)
    if reboot_ts is not None:
        scalars["reboot_ts"] = reboot_ts
    tables, other = split_tables(walked, problems)
    samples: list[Sample] = []
    samples += interface_samples(tables.get("interface", {}), now, prev, rebooted, memory, notes)
    samples += storage_samples(tables.get("hr_storage", {}), problems)
    cpu, avg = cpu_samples(tables.get("hr_cpu", {}))
    samples += cpu
    if avg is not None:
        scalars["cpu_load_avg_pct"] = float(avg)
    samples += generic_samples(other, walk_names)
    if scalars:
        samples.insert(0, Sample("snmp", scalars))
    return Derived(samples, memory, notes, reboot_ts, problems)


def generic_samples(varbinds: Iterable[tuple[str, Any]], walk_names: Mapping[str, str]) -> list[Sample]:
    """Walks of tables netmon has no schema for: measurement = walk name, tag `index`.

    One type per field, whatever the table mixes: an integer cell (INTEGER, Counter, Gauge,
    TimeTicks as ticks) is `value` (int); any other cell (OCTET STRING, OID, IpAddress, an
    opaque value as hex) is `value_text` (str). A row carries exactly one of the two.
    """
    samples = []
    roots = sorted(walk_names.items(), key=lambda kv: -len(kv[1]))
    for oid, value in varbinds:
        for name, root in roots:
            if oid.startswith(root + "."):
                try:
                    val = check(ANY, value)
                except BadValue:
                    break
                field = "value" if isinstance(val, int) and not isinstance(val, bool) else "value_text"
                samples.append(Sample(name, {field: val if field == "value" else str(val)},
                                      {"index": oid[len(root) + 1:]}))
                break
    return samples


def _index_key(index: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in index.split("."))
    except ValueError:
        return (1 << 62,)
