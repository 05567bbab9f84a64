"""Village state from window metrics: good, degraded, unstable, down, unknown (DESIGN.md §7).

Pure functions over numbers already summed from rollups, so they are cheap and easy to test.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

from netmon.analysis.db import HIST_BUCKETS
from netmon.config.schema import StabilityThresholds

_HIST_BASE_MS = 1.0
_HIST_FACTOR = 1.5
MIN_AGENT_COVERAGE = 0.5
"""Below this share of the window watched by a running agent, the state is unknown, never down."""
DOWN_AVAILABILITY_PCT = 50.0


class State(enum.StrEnum):
    """A village's coverage state over one window."""

    GOOD = "good"
    DEGRADED = "degraded"
    UNSTABLE = "unstable"
    DOWN = "down"
    UNKNOWN = "unknown"

    @property
    def bad(self) -> bool:
        """Counts towards raising a flag."""
        return self in _BAD


_BAD = frozenset({State.UNSTABLE, State.DOWN})
# Module constants: enum member lookups are slow on 3.11 and classify runs for every village twice.
_GOOD, _DEGRADED, _UNSTABLE, _DOWN, _UNKNOWN = State.GOOD, State.DEGRADED, State.UNSTABLE, State.DOWN, State.UNKNOWN


class Cause(enum.StrEnum):
    """Why a village was unstable or down; only `link` goes to the operator."""

    NONE = "none"
    LINK = "link"
    UPSTREAM = "upstream"
    POWER = "power"


def hist_bucket(rtt_ms: float) -> int:
    """Index of the log-spaced histogram bucket holding `rtt_ms`."""
    if rtt_ms <= _HIST_BASE_MS:
        return 0
    return min(HIST_BUCKETS - 1, int(math.log(rtt_ms / _HIST_BASE_MS, _HIST_FACTOR)) + 1)


def hist_upper_ms(index: int) -> float:
    """Upper edge of a bucket, in ms (what a percentile read from the histogram reports)."""
    return _HIST_BASE_MS * _HIST_FACTOR ** index


def hist_quantile(hist: Sequence[int], q: float) -> float | None:
    """The q-quantile (0..1) of a histogram, interpolated geometrically inside its bucket."""
    total = sum(hist)
    if total <= 0:
        return None
    rank, seen = q * total, 0
    for i, n in enumerate(hist):
        if n and seen + n >= rank:
            lower = hist_upper_ms(i - 1) if i else _HIST_BASE_MS / _HIST_FACTOR
            frac = (rank - seen) / n
            return lower * (hist_upper_ms(i) / lower) ** frac
        seen += n
    return hist_upper_ms(len(hist) - 1)


@dataclass(slots=True)
class WindowMetrics:
    """Sums over one window of a village's rollups plus its outages (non-upstream unless noted)."""

    rounds: int = 0
    rounds_up: int = 0
    rounds_excused: int = 0
    sent: int = 0
    received: int = 0
    office_rounds: int = 0
    office_up: int = 0
    hist: tuple[int, ...] = (0,) * HIST_BUCKETS
    outages: int = 0
    longest_outage_s: float = 0.0
    link_down_s: float = 0.0
    power_down_s: float = 0.0
    agent_coverage: float = 1.0
    all_down_s: float = 0.0
    """How long every coverage device has been down without excuse, as of now (0 if any is up)."""
    _p95: float | None = -1.0

    @property
    def availability_pct(self) -> float | None:
        """Share of rounds with a reply, not counting rounds excused by a down parent."""
        return 100.0 * self.rounds_up / self.rounds if self.rounds else None

    @property
    def raw_availability_pct(self) -> float | None:
        """Availability counting excused rounds as down (what the village actually saw)."""
        total = self.rounds + self.rounds_excused
        return 100.0 * self.rounds_up / total if total else None

    @property
    def office_availability_pct(self) -> float | None:
        """Availability inside office hours, when office hours had rounds."""
        return 100.0 * self.office_up / self.office_rounds if self.office_rounds else None

    @property
    def loss_pct(self) -> float | None:
        """Packet loss over non-excused rounds."""
        return 100.0 * (1.0 - self.received / self.sent) if self.sent else None

    @property
    def rtt_p95_ms(self) -> float | None:
        """95th percentile RTT estimated from the histogram (computed once)."""
        if self._p95 == -1.0:
            self._p95 = hist_quantile(self.hist, 0.95)
        return self._p95


def classify(m: WindowMetrics, th: StabilityThresholds, down_after_s: float) -> State:
    """The state of one window; `down_after_s`: how long all devices must be down to say down."""
    if m.agent_coverage < MIN_AGENT_COVERAGE or m.rounds == 0:
        return _UNKNOWN
    avail = 100.0 * m.rounds_up / m.rounds
    loss = 100.0 * (1.0 - m.received / m.sent) if m.sent else 0.0
    p95 = m.rtt_p95_ms
    if avail < DOWN_AVAILABILITY_PCT or m.all_down_s >= down_after_s:
        return _DOWN
    if (avail < th.unstable_availability_pct or loss > th.unstable_loss_pct
            or m.outages >= th.unstable_outages or (p95 is not None and p95 > th.unstable_rtt_p95_ms)):
        return _UNSTABLE
    if (avail < th.degraded_availability_pct or loss > th.degraded_loss_pct
            or (p95 is not None and p95 > th.degraded_rtt_p95_ms)):
        return _DEGRADED
    return _GOOD


def raw_view(m: WindowMetrics) -> WindowMetrics:
    """The same window with excused rounds counted as down: what the village saw, parents included."""
    return WindowMetrics(
        rounds=m.rounds + m.rounds_excused, rounds_up=m.rounds_up, sent=m.sent, received=m.received,
        hist=m.hist, outages=m.outages, longest_outage_s=m.longest_outage_s, agent_coverage=m.agent_coverage)


def attribute(m: WindowMetrics, th: StabilityThresholds, down_after_s: float) -> tuple[State, Cause]:
    """State and cause of one window: own trouble is link or power; trouble only from parents is upstream."""
    own = classify(m, th, down_after_s)
    if own.bad:
        power = m.power_down_s > 0 and m.power_down_s >= m.link_down_s
        return own, Cause.POWER if power else Cause.LINK
    if m.rounds_excused and m.agent_coverage >= MIN_AGENT_COVERAGE:
        raw = classify(raw_view(m), th, down_after_s)
        if raw.bad:
            return raw, Cause.UPSTREAM
    return own, Cause.NONE
