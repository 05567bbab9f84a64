"""Turn raw SNMP answers into Telegraf-shaped samples: `snmp`, `interface`, `hr_storage`, `hr_cpu`.

Pure functions plus a small per-device memory (`DeviceMemory`) that the prober keeps between
polls, for counter rates and reboot detection. Field names follow Telegraf's inputs.snmp with the
MIB column names (ecosystem.md §1); a field always has one type: counters and gauges are `int`,
derived values (`uptime_s`, `in_bps`, `used_pct`, signal levels) are `float`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from netmon.model import FieldValue, Sample

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
_TAG_COLUMNS = {"ifDescr", "ifName", "hrStorageDescr"}
_HEX_COLUMNS = {"ifPhysAddress"}
_SKIP_COLUMNS = {"ifIndex", "hrStorageIndex"}
# Well-known scalars get fixed field names and units whatever the profile calls them.
_KNOWN_SCALARS = {
    "1.3.6.1.2.1.1.1.0": "sys_descr",
    "1.3.6.1.2.1.1.3.0": "uptime_s",
    "1.3.6.1.2.1.1.5.0": "sys_name",
    "1.3.6.1.2.1.25.1.1.0": "hr_uptime_s",
    "1.3.6.1.2.1.25.2.2.0": "hr_memory_kb",
}
_TICKS_FIELDS = {"uptime_s", "hr_uptime_s"}
# A `get:` name ending in a unit of a measured level is a float (signal, temperature...).
_FLOAT_SUFFIXES = ("_dbm", "_db", "_pct", "_s", "_ms", "_c", "_v")
_BOOT_SLACK_S = 30.0


@dataclass(slots=True)
class DeviceMemory:
    """What the prober remembers of a device's previous poll (counters, uptime)."""

    ts: float
    uptime_s: float | None = None
    octets: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    """ifIndex -> (in, out, counter bits)."""


@dataclass(slots=True)
class Derived:
    """The samples of one poll plus what to remember and say about it."""

    samples: list[Sample]
    memory: DeviceMemory
    notes: list[str]
    reboot_ts: float | None = None


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


def scalar_fields(get: Mapping[str, str], values: Mapping[str, Any]) -> dict[str, FieldValue]:
    """Map `get:` names (name -> OID) and their answers (OID -> value) to `snmp` fields."""
    out: dict[str, FieldValue] = {}
    for name, oid in get.items():
        if oid not in values:
            continue
        value = values[oid]
        fname = _KNOWN_SCALARS.get(oid, name)
        if fname in _TICKS_FIELDS and isinstance(value, int):
            out[fname] = value / 100.0
        elif isinstance(value, bytes):
            out[fname] = text(value)
        elif isinstance(value, int) and fname.endswith(_FLOAT_SUFFIXES):
            out[fname] = float(value)
        elif isinstance(value, int | float | str):
            out[fname] = value
    return out


def split_tables(varbinds: Iterable[tuple[str, Any]]) -> tuple[dict[str, dict[str, dict[str, Any]]],
                                                                 list[tuple[str, Any]]]:
    """Group walked varbinds into {measurement: {index: {column: value}}}; return the rest too."""
    tables: dict[str, dict[str, dict[str, Any]]] = {}
    other: list[tuple[str, Any]] = []
    for oid, value in varbinds:
        for entry, measurement, columns in _TABLES:
            if oid.startswith(entry + "."):
                col, _, index = oid[len(entry) + 1:].partition(".")
                name = columns.get(int(col), f"column{col}")
                tables.setdefault(measurement, {}).setdefault(index, {})[name] = value
                break
        else:
            other.append((oid, value))
    return tables, other


def row_fields(row: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, FieldValue]]:
    """Split one table row into tags (descriptions, names) and typed fields."""
    tags: dict[str, str] = {}
    fields: dict[str, FieldValue] = {}
    for name, value in row.items():
        if name in _SKIP_COLUMNS:
            continue
        if name in _HEX_COLUMNS:
            value = hexstr(value)
        elif isinstance(value, bytes):
            value = text(value)
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


def storage_samples(rows: Mapping[str, Mapping[str, Any]]) -> list[Sample]:
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
            if isinstance(used, int):
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


def detect_reboot(uptime_s: float | None, now: float, prev: DeviceMemory | None) -> bool:
    """True when uptime went backwards, or is shorter than the time since the previous poll."""
    if uptime_s is None or prev is None or prev.uptime_s is None:
        return False
    return uptime_s < prev.uptime_s or uptime_s + _BOOT_SLACK_S < now - prev.ts


def derive(get: Mapping[str, str], values: Mapping[str, Any], walked: Iterable[tuple[str, Any]],
           walk_names: Mapping[str, str], now: float, prev: DeviceMemory | None) -> Derived:
    """Build every sample of one poll of one device."""
    scalars = scalar_fields(get, values)
    uptime = scalars.get("uptime_s")
    uptime_s = float(uptime) if isinstance(uptime, float) else None
    memory = DeviceMemory(now, uptime_s)
    notes: list[str] = []
    rebooted = detect_reboot(uptime_s, now, prev)
    reboot_ts = now - uptime_s if rebooted and uptime_s is not None else None
    if uptime_s is not None:
        scalars["rebooted"] = int(rebooted)
    if reboot_ts is not None:
        scalars["reboot_ts"] = reboot_ts
    tables, other = split_tables(walked)
    samples: list[Sample] = []
    samples += interface_samples(tables.get("interface", {}), now, prev, rebooted, memory, notes)
    samples += storage_samples(tables.get("hr_storage", {}))
    cpu, avg = cpu_samples(tables.get("hr_cpu", {}))
    samples += cpu
    if avg is not None:
        scalars["cpu_load_avg_pct"] = float(avg)
    samples += generic_samples(other, walk_names)
    if scalars:
        samples.insert(0, Sample("snmp", scalars))
    return Derived(samples, memory, notes, reboot_ts)


def generic_samples(varbinds: Iterable[tuple[str, Any]], walk_names: Mapping[str, str]) -> list[Sample]:
    """Walks of tables netmon has no schema for: measurement = walk name, tag `index`, field `value`."""
    samples = []
    roots = sorted(walk_names.items(), key=lambda kv: -len(kv[1]))
    for oid, value in varbinds:
        for name, root in roots:
            if oid.startswith(root + "."):
                val = text(value) if isinstance(value, bytes) else value
                samples.append(Sample(name, {"value": val}, {"index": oid[len(root) + 1:]}))
                break
    return samples


def _index_key(index: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in index.split("."))
    except ValueError:
        return (1 << 62,)
