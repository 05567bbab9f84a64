"""Office hours in the agent's timezone: weekly spans, minus public holidays.

Two ways to write them under `agent:`:

    office_hours: "Mon-Fri 07:30-11:30,13:30-17:00"      # the old one-line form, still accepted
    office_hours:                                         # structured: one entry per span
      - {days: Mon-Fri, from: "07:30", to: "11:30"}
      - {days: Mon-Fri, from: "13:30", to: "17:00"}
      - {days: Sat, from: "07:30", to: "11:30"}           # one-stop offices open Saturday mornings
    public_holidays: [2026-01-01, 2026-02-16, 2026-02-17, 2026-04-26, 2026-04-30, 2026-05-01, 2026-09-02]
                     # Vietnam: New Year, Tết, Hùng Kings, Reunification, Labour, National Day (dates move yearly)

A span must end after it starts (one that crosses midnight is two spans), and two spans of one
day must not overlap; both are refused with the fix. Rollups call `contains` once per round, so
the local-time test is cached per minute.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from netmon.i18n import _

_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAYS = {d: i for i, d in enumerate(_NAMES)}


def _minutes(hhmm: str) -> int:
    hours, _sep, minutes = str(hhmm).strip().partition(":")
    try:
        value = int(hours) * 60 + int(minutes or 0)
    except ValueError:
        raise ValueError(_("{value} is not a time of day; write HH:MM").format(value=repr(hhmm))) from None
    if not 0 <= value <= 24 * 60 or not 0 <= int(minutes or 0) < 60:
        raise ValueError(_("{value} is not a time of day; write HH:MM").format(value=repr(hhmm)))
    return value


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_days(text: Any) -> set[int]:
    """`Mon-Fri`, `Sat`, `Fri-Mon` or a list of those -> weekday numbers (Monday = 0)."""
    if isinstance(text, list | tuple):
        return set().union(*(parse_days(t) for t in text)) if text else set()
    first, _sep, last = str(text).strip().lower().partition("-")
    try:
        lo, hi = _DAYS[first[:3]], _DAYS[(last or first)[:3]]
    except KeyError:
        raise ValueError(_("days {days}: write e.g. Mon-Fri, Sat or [Mon, Wed]").format(days=repr(text))) from None
    return set(range(lo, hi + 1)) if lo <= hi else set(range(lo, 7)) | set(range(0, hi + 1))


def _from_text(spec: str) -> list[tuple[set[int], int, int]]:
    days, _sep, spans = spec.strip().partition(" ")
    try:
        weekdays = parse_days(days)
    except ValueError:
        raise ValueError(_("office hours {spec}: days must look like Mon-Fri").format(spec=repr(spec))) from None
    return [(weekdays, _minutes(a), _minutes(b)) for a, _sep, b in
            (span.partition("-") for span in spans.split(",") if span.strip())]


def _from_entries(entries: Iterable[Any]) -> list[tuple[set[int], int, int]]:
    out = []
    for entry in entries:
        if isinstance(entry, Mapping):  # raw YAML
            days, start, end = entry.get("days"), entry.get("from"), entry.get("to")
        else:  # config.schema.OfficeSpan
            days, start, end = entry.days, entry.start, entry.end
        out.append((parse_days(days), _minutes(start), _minutes(end)))
    return out


def check_spans(spans: list[tuple[set[int], int, int]]) -> None:
    """Refuse reversed and overlapping spans, saying how to write them instead."""
    for _days, start, end in spans:
        if start >= end:
            raise ValueError(_("span {start}-{end} ends before it starts; a span cannot cross midnight: write "
                               "{start}-24:00 and 00:00-{end} as two spans, or swap the times").format(
                                   start=_hhmm(start), end=_hhmm(end)))
    for i, (days_a, a0, a1) in enumerate(spans):
        for days_b, b0, b1 in spans[i + 1:]:
            shared = sorted(days_a & days_b)
            if shared and a0 < b1 and b0 < a1:
                raise ValueError(_("spans {a} and {b} overlap on {day}; merge them into {merged}").format(
                    a=f"{_hhmm(a0)}-{_hhmm(a1)}", b=f"{_hhmm(b0)}-{_hhmm(b1)}", day=_NAMES[shared[0]].title(),
                    merged=f"{_hhmm(min(a0, b0))}-{_hhmm(max(a1, b1))}"))


class OfficeHours:
    """Which unix times fall inside office hours, in a timezone, holidays excluded."""

    def __init__(self, spec: Any, timezone: str, holidays: Iterable[date | str] = ()) -> None:
        self.spec = spec
        self.tz = ZoneInfo(timezone)
        self.periods = _from_text(spec) if isinstance(spec, str) else _from_entries(spec)
        check_spans(self.periods)
        self.holidays = {h if isinstance(h, date) else date.fromisoformat(str(h)) for h in holidays}
        self.days = set().union(*(d for d, _a, _b in self.periods)) if self.periods else set()
        self.spans = sorted({(a, b) for _d, a, b in self.periods})
        self._cache: dict[int, bool] = {}

    def contains(self, ts: float) -> bool:
        """True when `ts` is inside office hours."""
        minute_key = int(ts // 60)
        hit = self._cache.get(minute_key)
        if hit is None:
            local = datetime.fromtimestamp(minute_key * 60, self.tz)
            minute, weekday = local.hour * 60 + local.minute, local.weekday()
            hit = local.date() not in self.holidays and any(
                weekday in days and a <= minute < b for days, a, b in self.periods)
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[minute_key] = hit
        return hit

    def local_hour(self, ts: float) -> int:
        """Hour of day (0-23) of `ts` in the agent's timezone."""
        return datetime.fromtimestamp(ts, self.tz).hour
