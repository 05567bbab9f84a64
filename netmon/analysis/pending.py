"""Cause `pending`: a village's coverage is down, or just came back, and link vs power is not known yet.

Whether an outage was a power cut is only known once a device answers SNMP again with its uptime
(`rollups.RollupEngine._snmp`). Until then, calling it `link` would send a power cut to the
telecom operator; so while every coverage device is down, or an outage ended and a device that
can report its uptime has not answered SNMP since (as far as the rollups have read), the cause
is `pending`. A village that already showed the link failing on its own in the same window, with
outages that came back without a reboot, keeps `link`: that evidence does not depend on the open
outage.
"""

from __future__ import annotations

from netmon.analysis.db import meta
from netmon.analysis.rollups import CURSOR_KEY
from netmon.store import Store


def _snmp_ok_between(store: Store, device_id: str, start_ts: float, end_ts: float, max_seq: int) -> bool:
    row = store.conn.execute(
        "SELECT 1 FROM results WHERE device_id = ? AND ts > ? AND ts <= ? AND prober = 'snmp' AND status = 'ok'"
        " AND seq <= ? LIMIT 1", (device_id, start_ts, end_ts, max_seq)).fetchone()
    return row is not None


def undecided_villages(store: Store, all_down: dict[str, float], start_ts: float, now: float,
                       lookback_s: float) -> set[str]:
    """Villages whose current trouble has no decided cause yet (see the module docstring).

    `all_down`: villages whose every coverage device is down now (since when); `start_ts`: start of
    the short window; `lookback_s`: how far before an outage an SNMP answer shows that the device
    can report its uptime at all (a device that never answers SNMP cannot prove a power cut).
    """
    cursor = meta(store, CURSOR_KEY)
    read_upto = int(cursor) if cursor is not None else 0
    confirmed: set[str] = set()
    unconfirmed: set[str] = set()
    for device_id, vid, start, end in store.conn.execute(
            "SELECT device_id, village_id, start_ts, end_ts FROM analysis_outages WHERE village_id != ''"
            " AND cause = 'link' AND end_ts IS NOT NULL AND end_ts >= ? AND end_ts <= ?", (start_ts, now)):
        can_tell = _snmp_ok_between(store, device_id, start - lookback_s, start, read_upto)
        if not can_tell or _snmp_ok_between(store, device_id, end, now, read_upto):
            confirmed.add(vid)  # came back, and its uptime (if it has one) said no reboot
        else:
            unconfirmed.add(vid)
    return (set(all_down) | unconfirmed) - confirmed
