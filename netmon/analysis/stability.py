"""Village state from window metrics: good, degraded, unstable, down, unknown.

Pure functions over numbers already summed from rollups, so they are cheap and easy to test.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netmon.analysis.confidence import DEFAULT_CONFIDENCE, Rate
from netmon.analysis.db import HIST_BUCKETS

if TYPE_CHECKING:  # config models arrive in the bookkeeping process as plain bags (netmon/bags.py)
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
    MAINTENANCE = "maintenance"
    """Shown, never judged: the place is inside a maintenance window (analysis/maintenance.py)."""

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
    PENDING = "pending"
    """Coverage is down (or just came back) and whether it was the link or power is not known yet."""


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


@dataclass(slots=True)
class Judgement:
    """A window's state with the grounds that justify it and the rates that did not convince."""

    state: State
    grounds: list[str]
    """Each crossed threshold, worded with its evidence; every one meets its threshold."""
    doubts: list[str]
    """Rates past a threshold on their face but not at the configured confidence."""


def _rates(m: WindowMetrics, confidence: float) -> tuple[Rate, Rate]:
    """Availability over rounds and loss over packets, with their intervals."""
    return (Rate.of(m.rounds_up, m.rounds, "rounds", confidence),
            Rate.of(m.sent - m.received, m.sent, "packets", confidence))


def _level(m: WindowMetrics, avail: Rate, loss: Rate, level: str, avail_pct: float, loss_pct: float,
           rtt_ms: float, outages: int | None, confidence: float, doubts: list[str]) -> list[str]:
    """The grounds for one level (degraded or unstable); rates past it without evidence go to `doubts`."""
    grounds: list[str] = []
    if avail.surely_below(avail_pct):
        grounds.append(f"{avail.describe('availability')} < {avail_pct:g} %")
    elif avail.n and avail.pct < avail_pct:
        doubts.append(f"{avail.describe('availability')}: not enough evidence for {level}")
    if loss.surely_above(loss_pct):
        grounds.append(f"{loss.describe('loss')} > {loss_pct:g} %")
    elif loss.n and loss.pct > loss_pct:
        doubts.append(f"{loss.describe('loss')}: not enough evidence for {level}")
    if outages is not None and m.outages >= outages:
        grounds.append(f"{m.outages} outages >= {outages}")
    p95 = m.rtt_p95_ms
    if p95 is not None and p95 > rtt_ms:
        grounds.append(f"p95 RTT {p95:.0f} ms > {rtt_ms:g} ms")
    return grounds


def judge(m: WindowMetrics, th: StabilityThresholds, down_after_s: float,
          confidence: float = DEFAULT_CONFIDENCE) -> Judgement:
    """The state of one window with its grounds; `down_after_s`: how long all devices must be down to say down.

    Rates (availability over rounds, loss over packets) count only when their confidence interval
    lies wholly past the threshold; counts (outages) and the RTT percentile count as measured.
    """
    if m.agent_coverage < MIN_AGENT_COVERAGE or m.rounds == 0:
        return Judgement(_UNKNOWN, [], [])
    avail, loss = _rates(m, confidence)
    doubts: list[str] = []
    down = []
    if avail.surely_below(DOWN_AVAILABILITY_PCT):
        down.append(f"{avail.describe('availability')} < {DOWN_AVAILABILITY_PCT:g} %")
    if m.all_down_s >= down_after_s:
        down.append(f"every coverage device down for {m.all_down_s:.0f} s")
    if down:
        return Judgement(_DOWN, down, doubts)
    grounds = _level(m, avail, loss, "unstable", th.unstable_availability_pct, th.unstable_loss_pct,
                     th.unstable_rtt_p95_ms, th.unstable_outages, confidence, doubts)
    if grounds:
        return Judgement(_UNSTABLE, grounds, doubts)
    grounds = _level(m, avail, loss, "degraded", th.degraded_availability_pct, th.degraded_loss_pct,
                     th.degraded_rtt_p95_ms, None, confidence, doubts)
    return Judgement(_DEGRADED if grounds else _GOOD, grounds, doubts)


def classify(m: WindowMetrics, th: StabilityThresholds, down_after_s: float,
             confidence: float = DEFAULT_CONFIDENCE) -> State:
    """The state of one window (see `judge`)."""
    return judge(m, th, down_after_s, confidence).state


def raw_view(m: WindowMetrics) -> WindowMetrics:
    """The same window with excused rounds counted as down: what the village saw, parents included."""
    return WindowMetrics(
        rounds=m.rounds + m.rounds_excused, rounds_up=m.rounds_up, sent=m.sent, received=m.received,
        hist=m.hist, outages=m.outages, longest_outage_s=m.longest_outage_s, agent_coverage=m.agent_coverage)


def attribute(m: WindowMetrics, th: StabilityThresholds, down_after_s: float,
              confidence: float = DEFAULT_CONFIDENCE) -> tuple[Judgement, Cause]:
    """Judgement and cause of one window: own trouble is link or power; trouble only from parents is upstream."""
    own = judge(m, th, down_after_s, confidence)
    if own.state.bad:
        power = m.power_down_s > 0 and m.power_down_s >= m.link_down_s
        return own, Cause.POWER if power else Cause.LINK
    if m.rounds_excused and m.agent_coverage >= MIN_AGENT_COVERAGE:
        raw = judge(raw_view(m), th, down_after_s, confidence)
        if raw.state.bad:
            return raw, Cause.UPSTREAM
    return own, Cause.NONE
