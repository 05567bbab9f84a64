"""Office PCs across agents: the latest `pc_health` verdict each agent forwarded, in the local report's rows."""

from __future__ import annotations

from netmon.analysis.aging import PcHealth
from netmon.analysis.pcs import PcRow, sort_rows
from netmon.central.influxql import InfluxQL
from netmon.central.province import AgentBeat, time_range
from netmon.config.slugs import slug
from netmon.model import Device

PC_LOOKBACK_S = 3 * 86400.0
"""pc_health is scored hourly; a PC with no verdict for three days is left out (its agent's line says why)."""
_TEXT = ("reasons", "not_assessed")


def pc_rows_central(client: InfluxQL, now: float, agents: dict[str, AgentBeat] | None = None) -> list[PcRow]:
    """Every PC's newest pc_health in the last three days, worst first; a silent agent's PCs say so."""
    q = (f'SELECT * FROM "pc_health" WHERE {time_range(now - PC_LOOKBACK_S, now)} '
         'GROUP BY "agent", "province", "commune", "village", "device" ORDER BY time DESC LIMIT 1')
    rows = []
    for row in client.rows(q):
        t, v = row.tags, row.values
        province, commune, village, name = (t.get(k, "") for k in ("province", "commune", "village", "device"))
        device_id = "/".join(slug(x) for x in (province, commune, village, name) if x)
        device = Device(device_id, name, str(v.get("kind") or "pc"), "pc", province, commune, village)
        metrics = {k: x for k, x in v.items() if k not in (*_TEXT, "score", "time") and isinstance(x, int | float)}
        reasons = tuple(r for r in str(v.get("reasons") or "").split("; ") if r)
        beat = (agents or {}).get(t.get("agent", ""))
        if beat is not None and beat.silent:
            reasons += (f"agent {beat.name} silent: verdict from before it stopped",)
        not_assessed = tuple(x for x in str(v.get("not_assessed") or "").split(", ") if x)
        rows.append(PcRow(device, PcHealth(device_id, int(v.get("score") or 0), reasons, metrics, not_assessed)))
    return sort_rows(rows)
