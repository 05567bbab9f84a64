"""The last hour of a village's pings in slices, for the status view's sparkline (drawn by the ui)."""

from __future__ import annotations

from collections.abc import Sequence

from netmon.analysis.latest import ids_json
from netmon.analysis.status_view import VillageRow
from netmon.store import Store


def last_hour_rounds(store: Store, rows: Sequence[VillageRow], now: float, buckets: int = 12,
                     window_s: float = 3600.0) -> dict[str, list[tuple[int, int]]]:
    """Per village of `rows`, (pings ok, pings) of its coverage devices in each of `buckets` slices of the last hour.

    The ui draws them as a sparkline; only the rows on screen are asked for.
    """
    tally: dict[str, list[list[int]]] = {r.info.id: [[0, 0] for _ in range(buckets)] for r in rows}
    village_of = {d: r.info.id for r in rows for d in r.info.coverage}
    if village_of:
        since = now - window_s
        width = window_s / buckets
        sql = ("SELECT device_id, ts, status FROM results WHERE device_id IN (SELECT value FROM json_each(?))"
               " AND ts >= ? AND ts <= ? AND prober = 'icmp'")
        for device_id, ts, st in store.conn.execute(sql, (ids_json(village_of), since, now)):
            cell = tally[village_of[device_id]][min(buckets - 1, int((ts - since) / width))]
            cell[0] += st == "ok"
            cell[1] += 1
    return {vid: [(up, total) for up, total in cells] for vid, cells in tally.items()}
