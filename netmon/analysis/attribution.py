"""Cause attribution: was a device's failed round its own, or was a parent down at the same time?

A child's down round is *excused* (cause `upstream`, as Nagios/Zabbix host dependencies) when any
ancestor, transitively, had a down round within one round interval of it. A parent with no rounds
at all is unknown, and an unknown parent excuses nothing: we only blame upstream on evidence.
Power is decided later, from SNMP uptime (see `rollups.RollupEngine._snmp`).
"""

from __future__ import annotations

import bisect

from netmon.analysis.catalog import Catalog

HISTORY_S = 3 * 3600.0
"""Rounds kept in memory per device to answer 'was it down around then?'."""
POWER_SLACK_S = 5.0
"""An uptime read a little after the device answered again still counts (probe duration)."""


class RecentRounds:
    """Recent down rounds per device, including not-yet-judged ones, to look up parents.

    Only down rounds are kept: `down_near` asks only whether one lies near a moment. Keeping
    every round (3 h of them, ~180 per device) cost the bookkeeping process ~170 MB per 20,000
    devices once it had run for 3 hours; a healthy network has almost no down rounds.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._rounds: dict[str, list[float]] = {}
        """Timestamps of down rounds, ascending."""
        self._down_since: dict[str, float] = {}
        """Devices persisted as down when the agent restarted, from their `since_ts`."""

    def seed_down(self, device_id: str, since_ts: float) -> None:
        """Remember a device that was down when the state was last saved (restart)."""
        self._down_since[device_id] = since_ts

    def add(self, device_id: str, ts: float, up: bool) -> None:
        """Record one round; out-of-order rounds are inserted in place."""
        if up:
            self._down_since.pop(device_id, None)
            return
        r = self._rounds.setdefault(device_id, [])
        if not r or ts >= r[-1]:
            r.append(ts)
        else:
            bisect.insort(r, ts)

    def prune(self, before_ts: float) -> None:
        """Forget rounds older than `before_ts`."""
        for device_id, r in list(self._rounds.items()):
            if r and r[0] < before_ts:
                del r[:bisect.bisect_left(r, before_ts)]
            if not r:
                del self._rounds[device_id]

    def down_near(self, device_id: str, ts: float) -> bool:
        """True when the device had a down round within one interval of `ts`."""
        since = self._down_since.get(device_id)
        info = self.catalog.devices.get(device_id)
        tol = info.interval_s if info else 60.0
        if since is not None and since <= ts + tol:
            return True
        r = self._rounds.get(device_id)
        if not r:
            return False
        i = bisect.bisect_left(r, ts - tol)
        return i < len(r) and r[i] <= ts + tol

    def excused(self, device_id: str, ts: float) -> bool:
        """True when an ancestor of the device was down around `ts` (the failure is upstream)."""
        return any(self.down_near(a, ts) for a in self.catalog.ancestors(device_id))


def rebooted_during(boot_ts: float, prev_up_ts: float | None, end_ts: float | None) -> bool:
    """True when the device booted after it was last seen up and before it answered again.

    Equivalently: its uptime is shorter than the time since the outage began. An outage with no
    up round before it (the very first rounds failed) cannot be judged and is never power.
    """
    if prev_up_ts is None or boot_ts <= prev_up_ts:
        return False
    return end_ts is None or boot_ts <= end_ts + POWER_SLACK_S
