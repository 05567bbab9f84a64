"""Agent trouble worth a message: no results for a while, an output that stopped advancing, a full disk.

The notifier runs inside the daemon, so "no results" means the daemon is alive but its schedule is
not producing (a stuck prober, a full disk refusing writes). Each problem gets one key per
occurrence (when it started) and a matching `up` event when it ends.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from netmon.config.notify_schema import NotifySettings
from netmon.notify.db import get_meta, set_meta
from netmon.notify.events import Event


def _event(key: str, action: str, severity: str, ts: float, province: str, device: str, **payload: Any) -> Event:
    return Event(key, "agent", action, severity, ts, province, "", "", "", device, payload)


def agent_events(conn: sqlite3.Connection, settings: NotifySettings, agent: str, province: str,
                 state_dir: Path, now: float) -> Iterator[Event]:
    """Start and end of each agent problem; open problems live in notify_meta `agent_open`."""
    open_: dict[str, list[Any]] = json.loads(get_meta(conn, "agent_open") or "{}")
    seen: dict[str, tuple[float, dict[str, Any]]] = {}
    last = conn.execute("SELECT max(ts) FROM results").fetchone()[0]
    if last is not None and now - last > settings.no_results_after:
        seen["stalled"] = (last, {"evidence": f"{agent}", "since_ts": last})
    for name, seq, updated in conn.execute("SELECT output, seq, updated_ts FROM cursors").fetchall():
        behind = conn.execute("SELECT count(*) FROM results WHERE seq > ?", (seq,)).fetchone()[0]
        if behind and now - updated > settings.output_stalled_after:
            seen[f"output:{name}"] = (updated, {"output": name, "since_ts": updated,
                                                "evidence": f"{behind} result(s) waiting"})
    try:
        usage = shutil.disk_usage(state_dir)
        free_pct = 100.0 * usage.free / usage.total
        if free_pct < settings.disk_free_below_pct:
            seen["disk"] = (now, {"free_pct": round(free_pct, 1), "since_ts": now,
                                  "evidence": f"{state_dir}: {usage.free // 2**20} MB free ({free_pct:.1f}%)"})
    except OSError:
        pass
    for what, (since, payload) in seen.items():
        if what not in open_:
            open_[what] = [since, payload]
            kind = what.split(":", 1)[0]
            yield _event(f"agent:{what}:{since!r}:down", kind, "critical", now, province, agent, **payload)
    for what in [w for w in open_ if w not in seen]:
        since, payload = open_.pop(what)
        kind = what.split(":", 1)[0]
        yield _event(f"agent:{what}:{since!r}:up", f"{kind}.up", "critical", now, province, agent, **payload)
    set_meta(conn, "agent_open", json.dumps(open_))
