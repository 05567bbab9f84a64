"""The telecom follow-up list (`netmon report villages`) computed from the open flags.

`village_report(store, timezone, now)` splits the open flags the way the province acts on them:
link problems per operator (sent to the telecom), power, upstream and pending apart. Rows are
machine-stable (dot decimals, English words) for CSV and JSON; netmon.ui.report_villages renders
them for people.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from netmon.analysis.status import Flag, latest_village_status, open_flags
from netmon.i18n import N_
from netmon.store import Store

NO_OPERATOR = N_("(no operator)")


def human_s(seconds: float | None) -> str:
    """`5400` -> `1 h 30 min`; short and unambiguous for a message to an operator."""
    if seconds is None:
        return ""
    s = round(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 2 * 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s / 86400:.1f} days"


@dataclass(slots=True)
class VillagesReport:
    """Open flags split the way the province acts on them."""

    link: dict[str, list[dict[str, Any]]]
    """Sent to the operator: operator -> rows, worst first (link, and pending past `pending_max`)."""
    power: list[dict[str, Any]] = field(default_factory=list)
    upstream: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    """Down now, cause not known yet: not sent to the operator (yet)."""

    @property
    def empty(self) -> bool:
        """Nothing flagged at all."""
        return not (self.link or self.power or self.upstream or self.pending)


def _flag_row(f: Flag, state: str, tz: ZoneInfo) -> dict[str, Any]:
    e = f.evidence
    hours = ", ".join(f"{h:02d}h" for h in e.get("worst_hours") or [])
    return {
        "operator": f.operator or NO_OPERATOR, "province": f.province, "commune": f.commune,
        "village": f.village, "village_id": f.village_id, "cause": f.cause,
        "since": datetime.fromtimestamp(f.raised_ts, tz).strftime("%Y-%m-%d %H:%M"), "state": state,
        "availability_pct": e.get("availability_pct"), "office_availability_pct": e.get("office_availability_pct"),
        "loss_pct": e.get("loss_pct"), "rtt_p95_ms": e.get("rtt_p95_ms"), "outages": e.get("outages"),
        "longest_outage_s": e.get("longest_outage_s"), "longest_outage": human_s(e.get("longest_outage_s")),
        "worst_hours": hours, "window": e.get("window", ""), "lat": f.lat, "lon": f.lon,
        "location": f"{f.lat:.5f}, {f.lon:.5f}" if f.lat is not None and f.lon is not None else "",
        "grounds": "; ".join(e.get("grounds") or []), "note": "",
    }


def _worst_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["availability_pct"] if r["availability_pct"] is not None else 101.0,
                                       -(r["loss_pct"] or 0.0), r["village_id"]))


def village_report(store: Store, timezone: str, now: float | None = None,
                   pending_max_s: float = 7200.0) -> VillagesReport:
    """The follow-up list from the open flags: link by operator; power, upstream and pending apart.

    A `pending` flag (down, link or power not known yet) stays off the operator's list until the
    village has been down for `pending_max_s`; then it goes to the operator labelled "cause unknown".
    """
    tz = ZoneInfo(timezone)
    now = time.time() if now is None else now
    states = latest_village_status(store)
    report = VillagesReport(link={})
    for f in open_flags(store):
        state = states[f.village_id].state if f.village_id in states else ""
        row = _flag_row(f, state, tz)
        if f.cause == "pending":
            down_for = now - float(f.evidence.get("down_since") or f.raised_ts)
            row["down_for_s"] = round(down_for, 1)
            if state == "down" and down_for >= pending_max_s:
                row["note"] = f"down for {human_s(down_for)}, cause unknown"
                report.link.setdefault(row["operator"], []).append(row)
            else:
                row["note"] = f"down for {human_s(down_for)}, cause not known yet" if state == "down" else \
                    "came back; waiting for its uptime to tell link from power"
                report.pending.append(row)
        elif f.cause == "link":
            report.link.setdefault(row["operator"], []).append(row)
        elif f.cause == "power":
            report.power.append(row)
        else:
            report.upstream.append(row)
    report.link = {op: _worst_first(rows) for op, rows in sorted(report.link.items())}
    report.power, report.upstream = _worst_first(report.power), _worst_first(report.upstream)
    report.pending = _worst_first(report.pending)
    return report
