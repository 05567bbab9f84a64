"""Build `store_83cbe8f.db`: a store written by netmon at commit 83cbe8f (before schema versions).

Run with that release on the path, never with the current code:
    git worktree add /tmp/old83 83cbe8f
    cd /tmp/old83 && PYTHONPATH=/tmp/old83 python /path/to/make_store_83cbe8f.py OUT.db
It fills every table that release had: results (icmp + snmp), devices, cursors, agent_state,
agent_runs, counters, dead_letters, rollups, device state, outages (link and power), flags (open
and cleared), village_eval, village_status, analysis_meta. A fixed clock keeps it reproducible.
"""

from __future__ import annotations

import sys
from pathlib import Path

from netmon.sinks.influx import ensure_schema as ensure_dead_letters
from netmon.store import Store
from tests.analysis.helpers import T0, Rig, rounds, router, snmp_uptime, village_device

HOURS = 3


def main(out: Path) -> None:
    """Write the fixture store to `out` (replacing it)."""
    out.unlink(missing_ok=True)
    store = Store.open(out)
    devices = [router(), village_device("ta-phin"), village_device("ban-mu"), village_device("nam-tam")]
    rig = Rig(store, devices)
    end = T0 + HOURS * 3600
    # ta-phin: a link outage (cleared flag); ban-mu: a power cut (reboot inside the outage);
    # nam-tam: down at the end (open flag).
    feeds = {devices[0].id: rounds(devices[0].id, T0, end, seed=1),
             devices[1].id: rounds(devices[1].id, T0, end, down=[(T0 + 3600, T0 + 5400)], seed=2),
             devices[2].id: rounds(devices[2].id, T0, end, down=[(T0 + 1800, T0 + 2700)], seed=3),
             devices[3].id: rounds(devices[3].id, T0, end, loss=0.02, down=[(end - 3000, end)], seed=4)}
    snmp = [snmp_uptime(devices[2].id, T0 + k * 300, 1e6 + k * 300) for k in range(9)]
    snmp += [snmp_uptime(devices[2].id, T0 + 2700 + k * 300, 60 + k * 300) for k in range(30)]
    step = 300.0
    ts = T0
    while ts < end:
        batch = [r for rs in feeds.values() for r in rs if ts <= r.ts < ts + step]
        batch += [r for r in snmp if ts <= r.ts < ts + step]
        rig.feed(sorted(batch, key=lambda r: r.ts), ts + step)
        rig.alive(T0, ts + step)
        rig.evaluate(ts + step)
        ts += step
    store.set_cursor("influxdb", store.max_seq() - 500)
    store.set_cursor("backup", store.max_seq() // 2)
    store.set_state(agent="fixture", heartbeat_ts=end, targets=len(devices))
    store.mark_alive(T0 - 86400, 4242, T0 - 80000)
    store.add_counter("dead_lettered:influxdb", 2)
    store.add_counter("dropped_unsent", 0)
    ensure_dead_letters(store)
    for i in range(2):
        store.conn.execute("INSERT INTO dead_letters (output, seq, line, status, message, created_ts)"
                           " VALUES (?, ?, ?, ?, ?, ?)",
                           ("influxdb", 10 + i, f'ping,device=x\\ y f="bad {i}" 1', 400,
                            "field type conflict", end))
    store.conn.execute("VACUUM")
    store.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
