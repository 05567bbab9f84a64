"""Read-only views of analysis results, usable from another process with a readonly Store.

`latest_village_status(store)` feeds the status view; `open_flags(store)` and `flags_since`
feed `netmon report villages` and, once `flags_say_who_is_flagged`, the status view.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from netmon.analysis.db import has_schema
from netmon.store import Store


@dataclass(frozen=True, slots=True)
class Flag:
    """A village marked for follow-up; open while `cleared_ts` is None."""

    id: int
    village_id: str
    province: str
    commune: str
    village: str
    operator: str
    cause: str
    raised_ts: float
    cleared_ts: float | None
    evidence: dict[str, Any]
    updated_ts: float
    lat: float | None = None
    lon: float | None = None

    @property
    def open(self) -> bool:
        """True while the flag has not been cleared."""
        return self.cleared_ts is None


@dataclass(frozen=True, slots=True)
class VillageStatus:
    """The latest evaluation of one village (state and cause from the short window)."""

    village_id: str
    ts: float
    state: str
    cause: str
    flagged: bool
    reason: str
    province: str
    commune: str
    village: str
    operator: str
    windows: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Fields of each window (`1h`, `24h` by default), as in the village_status samples."""


_FLAG_COLUMNS = ("id, village_id, province, commune, village, operator, cause, raised_ts, cleared_ts,"
                 " evidence, updated_ts, lat, lon")


def _flag(row: tuple) -> Flag:
    return Flag(*row[:9], json.loads(row[9]), *row[10:])


def open_flags(store: Store) -> list[Flag]:
    """Flags not cleared yet, oldest first."""
    if not has_schema(store):
        return []
    rows = store.conn.execute(f"SELECT {_FLAG_COLUMNS} FROM flags WHERE cleared_ts IS NULL ORDER BY raised_ts, id")
    return [_flag(r) for r in rows]


def flags_say_who_is_flagged(store: Store) -> bool:
    """True when the `flags` table is the truth about which villages are flagged.

    Every store has the table from its first open (netmon.schema), but it holds the truth only once
    analysis has evaluated a village (village_eval) or raised a flag; before that, readers take
    the flag of each village from its latest village_status result.
    """
    if not has_schema(store):
        return False
    evaluated = store.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'village_eval'").fetchone() \
        and store.conn.execute("SELECT 1 FROM village_eval LIMIT 1").fetchone()
    return bool(evaluated) or store.conn.execute("SELECT 1 FROM flags LIMIT 1").fetchone() is not None


def flags_since(store: Store, since_ts: float) -> list[Flag]:
    """Flags open at any time since `since_ts` (still open, or cleared after it), oldest first."""
    if not has_schema(store):
        return []
    rows = store.conn.execute(
        f"SELECT {_FLAG_COLUMNS} FROM flags WHERE cleared_ts IS NULL OR cleared_ts >= ? ORDER BY raised_ts, id",
        (since_ts,))
    return [_flag(r) for r in rows]


def latest_village_status(store: Store) -> dict[str, VillageStatus]:
    """The latest evaluation of every village, by village id."""
    if not has_schema(store):
        return {}
    out = {}
    for row in store.conn.execute(
            "SELECT village_id, ts, state, cause, flagged, reason, province, commune, village, operator, windows"
            " FROM village_status ORDER BY village_id"):
        out[row[0]] = VillageStatus(row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6], row[7],
                                    row[8], row[9], json.loads(row[10]))
    return out


def flags_outside(store: Store, village_ids: set[str]) -> list[Flag]:
    """Open flags of villages not in `village_ids`: removed or renamed by a config edit."""
    return [f for f in open_flags(store) if f.village_id not in village_ids]
