"""Rates judged with confidence: exact binomial (Clopper-Pearson) bounds over packets and rounds.

A threshold on a rate is crossed only when the whole interval lies beyond it: `loss > 5 %` holds
when the interval's lower bound exceeds 5 %, `availability < 99 %` when its upper bound is below
99 %. So sampling noise never raises a state: a village with 2 % true loss measured at 6 % over a
hundred packets is "not enough evidence", while 25 % loss over the same packets is plain.

Exact rather than Wilson's score interval: Wilson's bounds (even continuity-corrected) let noise
cross a threshold up to twice as often as the confidence promises when a window holds only a
handful of events (3 lost of 100 packets "proves" loss above 1 % although a true 1 % gives that 8 %
of the time). The exact bound keeps the promise for every n: noise alone crosses a threshold with
probability at most (1 - confidence) / 2. The decision needs one regularized incomplete beta
value (`crosses_*`); the bounds themselves, shown to people, are found by bisection only when a
reason is written.
"""

from __future__ import annotations

import math
from functools import lru_cache

DEFAULT_CONFIDENCE = 0.95
_EPS = 1e-14
_TINY = 1e-300


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz; Numerical Recipes 6.4)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < _EPS:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def prob_at_least(k: int, n: int, p: float) -> float:
    """P(K >= k) for K ~ Binomial(n, p)."""
    return 1.0 if k <= 0 else 0.0 if k > n else betainc(k, n - k + 1, p)


def prob_at_most(k: int, n: int, p: float) -> float:
    """P(K <= k) for K ~ Binomial(n, p)."""
    return 1.0 if k >= n else 0.0 if k < 0 else betainc(n - k, k + 1, 1.0 - p)


def _alpha2(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), not {confidence}")
    return (1.0 - confidence) / 2.0


def crosses_above(k: int, n: int, limit: float, confidence: float = DEFAULT_CONFIDENCE) -> bool:
    """The exact lower bound of k/n exceeds `limit` (a fraction): k events are too many for noise."""
    return n > 0 and k > 0 and prob_at_least(k, n, limit) < _alpha2(confidence)


def crosses_below(k: int, n: int, limit: float, confidence: float = DEFAULT_CONFIDENCE) -> bool:
    """The exact upper bound of k/n is under `limit` (a fraction): k events are too few for noise."""
    return n > 0 and k < n and prob_at_most(k, n, limit) < _alpha2(confidence)


def _bisect(f, target: float, increasing: bool) -> float:
    lo, hi = 0.0, 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if (f(mid) < target) == increasing:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@lru_cache(maxsize=4096)
def interval(k: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval (lower, upper), as fractions, of `k` events in `n` trials."""
    if n <= 0:
        return 0.0, 1.0
    k, a2 = min(max(k, 0), n), _alpha2(confidence)
    lo = 0.0 if k == 0 else _bisect(lambda p: prob_at_least(k, n, p), a2, increasing=True)
    hi = 1.0 if k == n else _bisect(lambda p: prob_at_most(k, n, p), a2, increasing=False)
    return lo, hi


class Rate:
    """A measured rate (k events of n) judged against thresholds at a confidence."""

    __slots__ = ("confidence", "k", "n", "unit")

    def __init__(self, k: int, n: int, unit: str, confidence: float = DEFAULT_CONFIDENCE) -> None:
        self.k, self.n, self.unit, self.confidence = max(0, min(k, n)), max(0, n), unit, confidence

    @classmethod
    def of(cls, k: int, n: int, unit: str, confidence: float = DEFAULT_CONFIDENCE) -> Rate:
        """`k` events (lost packets, up rounds) out of `n`."""
        return cls(k, n, unit, confidence)

    @property
    def pct(self) -> float:
        """The measured rate in percent."""
        return 100.0 * self.k / self.n if self.n else 0.0

    def surely_above(self, limit_pct: float) -> bool:
        """The evidence says the rate is above `limit_pct` (the lower bound exceeds it)."""
        return crosses_above(self.k, self.n, limit_pct / 100.0, self.confidence)

    def surely_below(self, limit_pct: float) -> bool:
        """The evidence says the rate is below `limit_pct` (the upper bound is under it)."""
        return crosses_below(self.k, self.n, limit_pct / 100.0, self.confidence)

    def bounds_pct(self) -> tuple[float, float]:
        """The interval in percent."""
        lo, hi = interval(self.k, self.n, self.confidence)
        return 100.0 * lo, 100.0 * hi

    def describe(self, name: str) -> str:
        """`loss 5.4 % (95 %: 2.0-11.3 %) over 112 packets`."""
        lo, hi = self.bounds_pct()
        return f"{name} {self.pct:.1f} % ({self.confidence * 100:g} %: {lo:.1f}-{hi:.1f} %) over {self.n} {self.unit}"
