"""Monthly coverage availability per village, commune and operator, with maintenance time apart.

Availability is rounds answered over rounds measured (village rollups); downtime and outages come
from the village outages (upstream ones excluded: they are the commune link's, not the village's).
Time inside a maintenance window (issue 18: config windows and `netmon maintenance add|import`)
is reported in its own column and, by default, left out of availability, downtime and outages:
a planned power cut is not the operator's failure. `include_maintenance=True` counts it.

Rollups are per bucket, so a bucket a window only partly covers is split by time: its rounds in
proportion to the covered share, its failed rounds in proportion to the outage time inside and
outside the window. Windows on whole hours (the usual announcement) split nothing. Buckets older
than `store.retention.rollups_fine` were merged into hours; a row alone in its hour is read so.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from netmon.analysis.catalog import Catalog
from netmon.analysis.db import has_schema
from netmon.analysis.maintenance import (
    Spans,
    Window,
    intersect,
    merge,
    overlap_s,
    specs_of,
    village_spans,
    windows_between,
)
from netmon.analysis.village_report import NO_OPERATOR
from netmon.analysis.windows import agent_coverage, outage_rows
from netmon.store import Store

HOUR_S = 3600.0


@dataclass(slots=True)
class Acc:
    """Sums of one village, or of the villages of a commune or operator (rounds-weighted)."""

    rounds: float = 0.0
    up: float = 0.0
    office_rounds: float = 0.0
    office_up: float = 0.0
    outages: int = 0
    down_s: float = 0.0
    maintenance_s: float = 0.0

    def add(self, other: Acc) -> None:
        """Add another village's sums."""
        for name in ("rounds", "up", "office_rounds", "office_up", "outages", "down_s", "maintenance_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def row(self, level: str, name: str, watched: float) -> dict[str, Any]:
        """The report row (machine values; the ui words the durations)."""
        def pct(a: float, b: float) -> float | None:
            return round(100.0 * a / b, 2) if b > 1e-9 else None
        mttr = self.down_s / self.outages if self.outages else None
        return {"level": level, "name": name, "availability_pct": pct(self.up, self.rounds),
                "office_availability_pct": pct(self.office_up, self.office_rounds), "outages": self.outages,
                "downtime_s": round(self.down_s, 1), "mttr_s": None if mttr is None else round(mttr, 1),
                "maintenance_s": round(self.maintenance_s, 1), "watched_pct": round(100.0 * watched, 1)}


def _widths(starts: list[float], bucket_s: float) -> list[float]:
    """How wide each of a village's buckets (sorted) is: `bucket_s`, or an hour where retention merged
    the fine buckets of that hour into one row at its start (a row on the hour with no other in it)."""
    if bucket_s >= HOUR_S:
        return [bucket_s] * len(starts)
    out = []
    for i, ts in enumerate(starts):
        alone = i + 1 == len(starts) or starts[i + 1] >= ts + HOUR_S
        out.append(HOUR_S if ts % HOUR_S == 0 and alone else bucket_s)
    return out


def _split(acc: Acc, row: tuple[float, float, float, float], lo: float, hi: float, maint: Spans,
           down: Spans) -> None:
    """Remove from `acc` the part of one bucket [lo, hi) that lies inside maintenance."""
    rounds, up, o_rounds, o_up = row
    share = min(1.0, overlap_s(maint, lo, hi) / (hi - lo))
    if share <= 0.0:
        return
    inside = overlap_s(intersect(down, maint), lo, hi)
    outside = overlap_s(down, lo, hi) - inside
    # failed rounds follow the outage time; without outages in the bucket, the covered share
    down_share = inside / (inside + outside) if inside + outside > 0 else share
    for total, ok, r_attr, u_attr in ((rounds, up, "rounds", "up"), (o_rounds, o_up, "office_rounds", "office_up")):
        held = total if share >= 1.0 else total * share
        held_up = ok if share >= 1.0 else min(ok, max(0.0, held - (total - ok) * down_share))
        setattr(acc, r_attr, getattr(acc, r_attr) - held)
        setattr(acc, u_attr, getattr(acc, u_attr) - held_up)


def availability_report(store: Store, catalog: Catalog, start: float, end: float, now: float | None = None, *,
                        settings: Any = None, include_maintenance: bool = False) -> list[dict[str, Any]]:
    """Rows per village, then per commune and per operator, for [start, end).

    With `settings` (an AgentConfig), its maintenance windows and the store's count: their time is
    shown as `maintenance_s` and left out of the figures unless `include_maintenance`. An outage
    still open counts up to now, not to the end of the month: the rest has not happened.
    """
    now = time.time() if now is None else now
    stop = min(end, now)
    windows: list[Window] = windows_between(specs_of(settings), store.conn, start, stop) if settings else []
    bucket_s = settings.analysis.bucket_s if settings else HOUR_S
    per: dict[str, Acc] = defaultdict(Acc)
    maint = {vid: village_spans(windows, v.province, v.commune, v.village, v.devices, start, stop)
             for vid, v in catalog.villages.items()} if windows else {}
    if has_schema(store):
        outages = outage_rows(store, start, end)
        down_spans: dict[str, Spans] = defaultdict(list)
        for vid, o_start, o_end, _cause in outages:
            down_spans[vid].append((o_start, o_end if o_end is not None else now))
        buckets: dict[str, list[tuple[float, tuple[float, float, float, float]]]] = defaultdict(list)
        for vid, bucket_ts, *row in store.conn.execute(
                "SELECT village_id, bucket_ts, rounds, rounds_up, office_rounds, office_up FROM rollup_village"
                " WHERE bucket_ts >= ? AND bucket_ts < ? ORDER BY village_id, bucket_ts", (start, end)):
            buckets[vid].append((bucket_ts, (row[0], row[1], row[2], row[3])))
        for vid, rows in buckets.items():
            acc = per[vid]
            for _ts, (rounds, up, o_rounds, o_up) in rows:
                acc.rounds, acc.up = acc.rounds + rounds, acc.up + up
                acc.office_rounds, acc.office_up = acc.office_rounds + o_rounds, acc.office_up + o_up
            if maint.get(vid) and not include_maintenance:
                down = merge(down_spans[vid])
                widths = _widths([ts for ts, _row in rows], bucket_s)
                for (bucket_ts, row), width in zip(rows, widths, strict=True):
                    _split(acc, row, bucket_ts, bucket_ts + width, maint[vid], down)
        for vid, o_start, o_end, cause in outages:
            if cause == "upstream":
                continue
            lo, hi = max(o_start, start), min(o_end if o_end is not None else now, end)
            counted = max(0.0, hi - lo)
            if maint.get(vid) and not include_maintenance:
                counted -= overlap_s(maint[vid], lo, hi)
            acc = per[vid]
            acc.outages += o_start >= start and counted > 0
            acc.down_s += max(0.0, counted)
    for vid, spans in maint.items():
        per[vid].maintenance_s = sum(b - a for a, b in spans)
    watched = agent_coverage(store, start, stop) if has_schema(store) and now > start else 0.0
    villages, communes, operators = [], defaultdict(Acc), defaultdict(Acc)
    for vid, v in sorted(catalog.villages.items(), key=lambda kv: (kv[1].commune, kv[1].village)):
        acc = per.get(vid, Acc())
        villages.append({**acc.row("village", f"{v.commune} / {v.village}", watched), "id": vid,
                         "operator": v.operator})
        communes[v.commune].add(acc)
        operators[v.operator or NO_OPERATOR].add(acc)
    rows = villages + [a.row("commune", n, watched) for n, a in sorted(communes.items())]
    return rows + [a.row("operator", n, watched) for n, a in sorted(operators.items())]

