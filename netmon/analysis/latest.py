"""The newest result of many devices in one query, each an index seek (`results (device_id, ts)`).

Readers of the store (the status view, reports) ask for the latest result of thousands of devices
per redraw; one statement seeking each id stays fast however much history the store keeps.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from netmon.store import Store


def ids_json(ids: Iterable[str]) -> str:
    """Ids as one JSON array: a single parameter that `json_each` turns back into rows."""
    return json.dumps(list(ids), ensure_ascii=False)


def latest_by_device(store: Store, ids: Sequence[str], check: str | None = None,
                     prober: str | None = None) -> dict[str, tuple[float, str, str, str]]:
    """Newest (ts, status, reason, samples JSON) per device id: one index seek per id, one query."""
    if not ids:
        return {}
    cond, args = "", []
    if check is not None:
        cond, args = " AND check_name = ?", [check]
    elif prober is not None:
        cond, args = " AND prober = ?", [prober]
    sql = ("SELECT r.device_id, r.ts, r.status, r.reason, r.samples FROM json_each(?) AS v"
           " JOIN results AS r ON r.seq = (SELECT seq FROM results WHERE device_id = v.value"
           f"{cond} ORDER BY ts DESC LIMIT 1)")
    rows = store.conn.execute(sql, [ids_json(ids), *args]).fetchall()
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


def latest_pairs(store: Store, pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Newest status of each (device id, check) pair, in one query."""
    if not pairs:
        return {}
    sql = ("SELECT json_extract(v.value, '$[0]'), (SELECT status FROM results WHERE"
           " device_id = json_extract(v.value, '$[0]') AND check_name = json_extract(v.value, '$[1]')"
           " ORDER BY ts DESC LIMIT 1) FROM json_each(?) AS v")
    rows = store.conn.execute(sql, (json.dumps([list(p) for p in pairs], ensure_ascii=False),))
    return {device_id: status for device_id, status in rows if status is not None}
