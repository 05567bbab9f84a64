"""The store's size model: bytes per target per day per check kind, and the steady state of an inventory.

Bytes per stored row were measured on this code (docs/storage.md says how; `bench/bench_year.py`
re-measures the ICMP, SNMP and rollup figures on every run). A row costs its table's share plus
its indexes'. Results are stored with compact samples (`netmon.codec`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

DAY_S, HOUR_S = 86400.0, 3600.0

BYTES_PER_RESULT = {"icmp": 240, "snmp": 418, "tcp": 192, "http": 187}
"""Measured with dbstat: row + (device_id, ts) index. SNMP: a PC's host-resources poll (system
scalars, 4 storage rows, 4 processors); a poll with an interface table of many ports is larger."""
BYTES_PER_RESULT_OTHER = 400
"""A prober without a measured figure (a new one) is assumed to cost this much."""
ROLLUP_DEVICE_ROW = 50
ROLLUP_VILLAGE_ROW = 72
"""Schema v5 rows, keyed by an integer per device/village (79 and 121 bytes with text ids before).
A village row is larger: the table has a second index (village_key, bucket_ts) for per-village reads,
and its counters and histogram hold a whole village's rounds (larger numbers)."""
OUTAGE_ROW, FLAG_ROW = 80, 400
OUTAGES_PER_DEVICE_DAY = 0.01
FLAGS_PER_VILLAGE_DAY = 0.01
"""Planning rates: one outage per device per 100 days, one flag per village per 100 days."""


@dataclass(frozen=True)
class Projection:
    """Steady-state bytes per part of the store, once every retention has been reached."""

    results: dict[str, float]
    rollup_device: float
    rollup_village: float
    events: float

    @property
    def total(self) -> float:
        """All parts together."""
        return sum(self.results.values()) + self.rollup_device + self.rollup_village + self.events


def project(config) -> Projection:
    """The steady-state size of a loaded config's store (devices of this agent, its retention)."""
    keep, bucket_s = config.settings.store.retention, config.settings.analysis.bucket_s
    results: Counter[str] = Counter()
    icmp_devices = 0
    for device in config.devices:
        for check in config.profiles[device.profile].checks:
            days = (keep.results_icmp if check.prober == "icmp" else keep.results) / DAY_S
            per_day = DAY_S / check.interval
            results[check.prober] += per_day * days * BYTES_PER_RESULT.get(check.prober, BYTES_PER_RESULT_OTHER)
            icmp_devices += check.prober == "icmp"
    villages = {(d.province, d.commune, d.village) for d in config.devices if d.village}
    fine_per_day = DAY_S / min(bucket_s, HOUR_S)
    fine_days, hourly_days, all_days = (keep.rollups_fine / DAY_S, keep.device_hourly / DAY_S, keep.rollups / DAY_S)
    device_rows = fine_per_day * fine_days + 24 * (hourly_days - fine_days) + (all_days - hourly_days)
    village_rows = fine_per_day * fine_days + 24 * (all_days - fine_days)
    events = (icmp_devices * OUTAGES_PER_DEVICE_DAY * keep.outages / DAY_S * OUTAGE_ROW
              + len(villages) * FLAGS_PER_VILLAGE_DAY * keep.flags / DAY_S * FLAG_ROW)
    return Projection(dict(results), icmp_devices * device_rows * ROLLUP_DEVICE_ROW,
                      len(villages) * village_rows * ROLLUP_VILLAGE_ROW, events)


def human_bytes(n: float) -> str:
    """`1.2 GB`, `340 MB`, `12 kB` (powers of 1000, like `df -H`)."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"
