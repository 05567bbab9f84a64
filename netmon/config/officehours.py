"""Office hours (`Mon-Fri 07:30-11:30,13:30-17:00`) in the agent's timezone.

Rollups call `contains` once per round, so the local-time test is cached per minute.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

_DAYS = {d: i for i, d in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))}


def _minutes(hhmm: str) -> int:
    hours, _, minutes = hhmm.strip().partition(":")
    value = int(hours) * 60 + int(minutes or 0)
    if not 0 <= value <= 24 * 60:
        raise ValueError(f"{hhmm!r} is not a time of day; write HH:MM")
    return value


class OfficeHours:
    """Which unix times fall inside office hours, in a timezone."""

    def __init__(self, spec: str, timezone: str) -> None:
        self.spec = spec
        self.tz = ZoneInfo(timezone)
        days, _, spans = spec.strip().partition(" ")
        try:
            first, _, last = days.lower().partition("-")
            lo, hi = _DAYS[first[:3]], _DAYS[(last or first)[:3]]
        except KeyError:
            raise ValueError(f"office hours {spec!r}: days must look like Mon-Fri") from None
        self.days = set(range(lo, hi + 1)) if lo <= hi else set(range(lo, 7)) | set(range(0, hi + 1))
        self.spans = [(_minutes(a), _minutes(b)) for a, _, b in
                      (span.partition("-") for span in spans.split(",") if span.strip())]
        self._cache: dict[int, bool] = {}

    def contains(self, ts: float) -> bool:
        """True when `ts` is inside office hours."""
        minute_key = int(ts // 60)
        hit = self._cache.get(minute_key)
        if hit is None:
            local = datetime.fromtimestamp(minute_key * 60, self.tz)
            minute = local.hour * 60 + local.minute
            hit = local.weekday() in self.days and any(a <= minute < b for a, b in self.spans)
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[minute_key] = hit
        return hit

    def local_hour(self, ts: float) -> int:
        """Hour of day (0-23) of `ts` in the agent's timezone."""
        return datetime.fromtimestamp(ts, self.tz).hour
