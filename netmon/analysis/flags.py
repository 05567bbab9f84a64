"""Flags with hysteresis: raise after N consecutive unstable/down evaluations, clear after M that are not.

A flag stands for "unstable or down"; an evaluation that no longer meets that (good or degraded)
counts towards clearing it, so a village that settles at degraded does not keep its flag forever.
Unknown (no data, agent not running) changes nothing, so an agent restart neither raises nor
clears a flag.
"""

from __future__ import annotations

import enum
import json
import logging
from dataclasses import dataclass
from typing import Any

from netmon.analysis.catalog import VillageInfo
from netmon.analysis.stability import Cause, State

log = logging.getLogger(__name__)


class Action(enum.StrEnum):
    """What one evaluation does to a village's flag."""

    NONE = "none"
    RAISE = "raise"
    CLEAR = "clear"


@dataclass(slots=True)
class Streaks:
    """Consecutive bad evaluations and ones no longer bad (good or degraded) of one village, and its open flag."""

    bad: int = 0
    good: int = 0
    """Consecutive evaluations that do not meet the flag's condition (good or degraded)."""
    flag_id: int | None = None


def step(s: Streaks, state: State, raise_after: int, clear_after: int) -> Action:
    """Advance the streaks by one evaluation; say whether to raise or clear the flag."""
    if state is State.UNKNOWN:
        return Action.NONE
    if state.bad:
        s.bad, s.good = s.bad + 1, 0
        return Action.RAISE if s.flag_id is None and s.bad >= raise_after else Action.NONE
    s.good, s.bad = s.good + 1, 0
    return Action.CLEAR if s.flag_id is not None and s.good >= clear_after else Action.NONE


def load_streaks(conn) -> dict[str, Streaks]:
    """Every village's persisted streaks."""
    return {v: Streaks(b, g, f) for v, b, g, f in
            conn.execute("SELECT village_id, bad_streak, good_streak, flag_id FROM village_eval")}


def save_streaks(conn, streaks: dict[str, Streaks]) -> None:
    """Persist streaks (inside the evaluation's transaction)."""
    conn.executemany(
        "INSERT INTO village_eval VALUES (?,?,?,?) ON CONFLICT(village_id) DO UPDATE SET"
        " bad_streak=excluded.bad_streak, good_streak=excluded.good_streak, flag_id=excluded.flag_id",
        [(v, s.bad, s.good, s.flag_id) for v, s in streaks.items()])


def raise_flag(conn, v: VillageInfo, cause: Cause, evidence: dict[str, Any], now: float) -> int:
    """Insert an open flag and log it once (warning)."""
    cur = conn.execute(
        "INSERT INTO flags (village_id, province, commune, village, operator, cause, raised_ts, cleared_ts,"
        " evidence, updated_ts, lat, lon) VALUES (?,?,?,?,?,?,?,NULL,?,?,?,?)",
        (v.id, v.province, v.commune, v.village, v.operator, cause.value, now, json.dumps(evidence), now,
         v.lat, v.lon))
    log.warning("flag raised: %s / %s (%s): %s, availability %s%%, loss %s%%, %s outage(s)",
                v.commune, v.village, v.operator or "no operator", cause.value,
                evidence.get("availability_pct"), evidence.get("loss_pct"), evidence.get("outages"))
    return int(cur.lastrowid)


def flag_cause(conn, flag_id: int) -> Cause | None:
    """The stored cause of a flag."""
    row = conn.execute("SELECT cause FROM flags WHERE id = ?", (flag_id,)).fetchone()
    return Cause(row[0]) if row else None


def settle_cause(conn, flag_id: int, cause: Cause, now: float) -> None:
    """Replace a `pending` cause once the outage is decided; the evidence stays the one that raised the flag."""
    conn.execute("UPDATE flags SET cause = ?, updated_ts = ? WHERE id = ? AND cause = ?",
                 (cause.value, now, flag_id, Cause.PENDING.value))


def update_flag(conn, flag_id: int, cause: Cause, evidence: dict[str, Any], now: float) -> None:
    """Refresh an open flag's evidence, and its cause only where that makes it more specific.

    A flag raised as `pending` or `link` becomes `upstream` or `power` once the evidence arrives (a
    rebooted device's uptime is read only after it answers again). The reverse never happens: the
    residual loss of a link coming back after an upstream outage or a power cut (ARP, radio
    attach) must not turn that flag into a telecom complaint; a real link problem afterwards
    raises its own flag once this one has cleared.
    """
    current = flag_cause(conn, flag_id) or cause
    if current in (Cause.UPSTREAM, Cause.POWER) and cause in (Cause.LINK, Cause.NONE, Cause.PENDING):
        cause = current
    elif current is Cause.LINK and cause in (Cause.NONE, Cause.PENDING):
        # A link flag whose village then goes fully down stays a link flag: the evidence that
        # raised it was the link's; the new outage's cause is decided on its own.
        cause = current
    conn.execute("UPDATE flags SET cause = ?, evidence = ?, updated_ts = ? WHERE id = ?",
                 (cause.value, json.dumps(evidence), now, flag_id))


def clear_flag(conn, v: VillageInfo, flag_id: int, now: float) -> None:
    """Close a flag and log it once (info)."""
    row = conn.execute("SELECT raised_ts FROM flags WHERE id = ?", (flag_id,)).fetchone()
    conn.execute("UPDATE flags SET cleared_ts = ?, updated_ts = ? WHERE id = ?", (now, now, flag_id))
    minutes = (now - row[0]) / 60 if row else 0.0
    lasted = f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"
    log.info("flag cleared: %s / %s (%s) after %s", v.commune, v.village, v.operator or "no operator", lasted)


REMOVED = "no longer in the inventory"


def close_removed(conn, village_ids: set[str], now: float) -> list[tuple[str, str, str]]:
    """Close open flags of villages the inventory no longer has (removed or renamed); log each once.

    Their streaks and latest status go too, so neither the follow-up list nor the live view keeps
    a village nobody probes any more. Returns (village_id, commune, village) of each flag closed.
    """
    rows = conn.execute("SELECT id, village_id, commune, village, evidence FROM flags WHERE cleared_ts IS NULL"
                        ).fetchall()
    closed = []
    for flag_id, vid, commune, village, evidence in rows:
        if vid in village_ids:
            continue
        e = json.loads(evidence or "{}")
        e["cleared_reason"] = REMOVED
        conn.execute("UPDATE flags SET cleared_ts = ?, updated_ts = ?, evidence = ? WHERE id = ?",
                     (now, now, json.dumps(e), flag_id))
        log.info("flag closed: %s / %s: %s", commune, village, REMOVED)
        closed.append((vid, commune, village))
    gone = [(vid,) for (vid,) in conn.execute("SELECT village_id FROM village_eval") if vid not in village_ids]
    conn.executemany("DELETE FROM village_eval WHERE village_id = ?", gone)
    conn.executemany("DELETE FROM village_status WHERE village_id = ?", gone)
    return closed
