"""The confidence rule against the exact binomial distribution (computed here, independently).

What the rule promises: noise alone crosses a threshold with probability at most
(1 - confidence) / 2. For a true rate p at or below (above) the threshold, the exact probability
that the measured k of n puts the interval's lower (upper) bound past the threshold is summed
from binomial terms with exact integer arithmetic (math.comb, Fraction).
"""

from __future__ import annotations

from fractions import Fraction
from math import comb

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netmon.analysis.confidence import Rate, crosses_above, crosses_below, interval
from netmon.analysis.stability import State, WindowMetrics, classify
from netmon.config.schema import StabilityThresholds


def exact_prob(n: int, p: Fraction, ks) -> Fraction:
    """P(K in ks) for K ~ Binomial(n, p), exactly."""
    return sum((comb(n, k) * p ** k * (1 - p) ** (n - k) for k in ks), Fraction(0))


def exact_upper_tail_pvalue(k: int, n: int, p: Fraction) -> Fraction:
    """P(K >= k) under Binomial(n, p): the exact one-sided test of 'the rate exceeds p'."""
    return exact_prob(n, p, range(k, n + 1))


rates = st.fractions(min_value=Fraction(1, 1000), max_value=Fraction(999, 1000), max_denominator=1000)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 120), threshold=rates, below=st.fractions(0, 1, max_denominator=100),
       confidence=st.sampled_from([0.9, 0.95, 0.99]))
def test_noise_crosses_a_threshold_no_more_often_than_the_confidence_allows(n, threshold, below, confidence):
    p = threshold * below  # a true rate at or under the threshold
    flagged = [k for k in range(n + 1) if crosses_above(k, n, float(threshold), confidence)]
    assert exact_prob(n, p, flagged) <= Fraction(1 - confidence) / 2 + Fraction(1, 10 ** 9)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 120), threshold=rates, confidence=st.sampled_from([0.9, 0.95, 0.99]))
def test_upper_bound_below_threshold_is_as_rare_under_noise(n, threshold, confidence):
    # 'availability < 99 %' needs the upper bound under the threshold; when the true rate is the
    # threshold itself, that happens with probability at most (1 - confidence) / 2.
    flagged = [k for k in range(n + 1) if crosses_below(k, n, float(threshold), confidence)]
    assert exact_prob(n, threshold, flagged) <= Fraction(1 - confidence) / 2 + Fraction(1, 10 ** 9)


def float_tail(n: int, p: float, ks) -> float:
    return sum(comb(n, k) * p ** k * (1 - p) ** (n - k) for k in ks)


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 150), data=st.data(), confidence=st.sampled_from([0.9, 0.95, 0.99]))
def test_interval_bounds_are_where_the_exact_tail_is_alpha_half(n, data, confidence):
    k = data.draw(st.integers(0, n))
    lo, hi = interval(k, n, confidence)
    assert 0.0 <= lo <= k / n <= hi <= 1.0
    a2 = (1 - confidence) / 2
    if k > 0:  # at the lower bound, k or more events are exactly as likely as alpha/2
        assert abs(float_tail(n, lo, range(k, n + 1)) - a2) < 1e-6
    else:
        assert lo == 0.0
    if k < n:
        assert abs(float_tail(n, hi, range(0, k + 1)) - a2) < 1e-6
    else:
        assert hi == 1.0
    # the decision and the bounds agree
    for limit in (0.01, 0.05, 0.2, 0.5, 0.9, 0.99):
        if abs(lo - limit) > 1e-9:
            assert crosses_above(k, n, limit, confidence) == (lo > limit)
        if abs(hi - limit) > 1e-9:
            assert crosses_below(k, n, limit, confidence) == (hi < limit)


@pytest.mark.parametrize("n", [20, 30, 50, 100, 112, 200, 500, 1000, 5000])
def test_two_percent_true_loss_is_never_flagged_at_five(n):
    # Exactly: the chance that a 2 % village is judged above 5 % over n packets, for one window.
    flagged = [k for k in range(n + 1) if crosses_above(k, n, 0.05)]
    assert float(exact_prob(n, Fraction(2, 100), flagged)) < 1e-3


@pytest.mark.parametrize("n", [50, 100, 200, 1000])
def test_twenty_five_percent_loss_is_flagged_at_once(n):
    # The median measurement of a 25 % village clears 5 % with room to spare.
    assert Rate.of(n // 4, n, "packets").surely_above(5.0)
    flagged = [k for k in range(n + 1) if crosses_above(k, n, 0.05)]
    assert float(exact_prob(n, Fraction(1, 4), flagged)) > (0.97 if n < 100 else 0.999)


def test_reason_shows_the_interval():
    rate = Rate.of(6, 112, "packets")
    lo, hi = rate.bounds_pct()
    assert rate.describe("loss") == f"loss 5.4 % (95 %: {lo:.1f}-{hi:.1f} %) over 112 packets"
    assert 1.5 < lo < 5.0 < hi
    m = WindowMetrics(rounds=23, rounds_up=23, sent=112, received=106)
    assert classify(m, StabilityThresholds(), 60) is State.DEGRADED  # 5.4 % is not evidence of > 5 %
