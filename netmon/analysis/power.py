"""The evidence behind a `power` verdict: which devices of the village booted during the outage.

One device whose host booted while its village was down says "power cut" (rollups marks the
outage). Several devices of the same village booting inside the same outage say it louder: a
link failure does not reboot a router and a CPE at once, a lost mains feed does. The boot times
are the hosts' (hrSystemUptime where the agent has it, see netmon/uptime.py), kept in
`analysis_device_state.boot_ts`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from netmon.analysis.attribution import rebooted_during
from netmon.analysis.catalog import Catalog


def booted_inside(boots: Iterable[tuple[str, float | None]], prev_up_ts: float | None,
                  end_ts: float | None) -> list[tuple[str, float]]:
    """(device, boot) pairs whose boot fell inside the outage [prev_up, end], earliest first."""
    return sorted(((d, b) for d, b in boots if b is not None and rebooted_during(b, prev_up_ts, end_ts)),
                  key=lambda db: db[1])


def sentence(booted: list[tuple[str, float]], name_of: Any = str) -> str:
    """The evidence in words: one device, or several that agree."""
    if not booted:
        return ""
    parts = [f"{name_of(d)} at {time.strftime('%H:%M:%S', time.localtime(b))}" for d, b in booted]
    if len(booted) == 1:
        return f"host rebooted during the outage: {parts[0]}"
    return (f"{len(booted)} devices of the village rebooted during the same outage ({', '.join(parts)}): "
            "a power cut, not one device failing")


def power_evidence(conn: Any, catalog: Catalog, village_id: str, outage_id: int) -> dict[str, Any]:
    """{power_devices, power_note} for one outage of a village, from the stored device state.

    For the flag evidence of a `power` village: `power_devices` counts the devices whose host
    booted inside the outage; 2 or more corroborate the verdict.
    """
    row = conn.execute("SELECT prev_up_ts, end_ts FROM analysis_outages WHERE id = ?", (outage_id,)).fetchone()
    if row is None:
        return {}
    members = [d for d, info in catalog.devices.items() if info.village_id == village_id]
    if not members:
        return {}
    marks = ",".join("?" * len(members))
    boots = conn.execute(f"SELECT device_id, boot_ts FROM analysis_device_state WHERE device_id IN ({marks})",
                         members).fetchall()
    booted = booted_inside(boots, row[0], row[1])
    return {"power_devices": len(booted), "power_note": sentence(booted, _short)} if booted else {}


def _short(device_id: str) -> str:
    return device_id.rsplit("/", 1)[-1]


def village_power_evidence(conn: Any, catalog: Catalog, village_id: str, since_ts: float) -> dict[str, Any]:
    """`power_evidence` of the village's latest `power` outage since `since_ts` ({} when none).

    The one call a `power` flag's evidence needs: `evidence.update(village_power_evidence(...))`.
    """
    row = conn.execute("SELECT id FROM analysis_outages WHERE village_id = ? AND cause = 'power'"
                       " AND (end_ts IS NULL OR end_ts >= ?) ORDER BY start_ts DESC LIMIT 1",
                       (village_id, since_ts)).fetchone()
    return power_evidence(conn, catalog, village_id, row[0]) if row else {}
