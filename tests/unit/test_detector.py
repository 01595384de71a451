"""Detector scores against scipy's own tail probabilities, and their basic shape."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from insights.detector import MIN_RATE, lower_surprise, unit_score, upper_surprise

COUNTS = np.arange(0, 80, dtype=np.float64)
RATES = [0.05, 0.5, 1.0, 3.0, 7.5, 20.0, 45.0]
DISPERSIONS = [1.5, 2.0, 4.0, 12.0]


def _nbinom(mu: float, phi: float) -> stats.rv_discrete:
    """A negative binomial with mean ``mu`` and variance ``phi * mu``, checked by scipy itself."""
    dist = stats.nbinom(mu / (phi - 1.0), 1.0 / phi)
    mean, var = dist.stats(moments="mv")
    assert float(mean) == pytest.approx(mu, rel=1e-9)
    assert float(var) == pytest.approx(phi * mu, rel=1e-9)
    return dist


def _full(value: float) -> np.ndarray:
    return np.full(COUNTS.shape, value)


@pytest.mark.parametrize("mu", RATES)
def test_upper_is_poisson_tail_when_not_dispersed(mu: float) -> None:
    got = upper_surprise(COUNTS, _full(mu), _full(1.0))
    above = mu < COUNTS
    expected = -np.log10(stats.poisson.sf(COUNTS[above] - 1, mu))  # P(X >= count)
    np.testing.assert_allclose(got[above], expected, rtol=1e-9, atol=1e-12)
    assert np.all(got[~above] == 0.0)


@pytest.mark.parametrize("mu", RATES)
def test_lower_is_poisson_tail_when_not_dispersed(mu: float) -> None:
    got = lower_surprise(COUNTS, _full(mu), _full(1.0))
    below = mu > COUNTS
    expected = -np.log10(stats.poisson.cdf(COUNTS[below], mu))  # P(X <= count)
    np.testing.assert_allclose(got[below], expected, rtol=1e-9, atol=1e-12)
    assert np.all(got[~below] == 0.0)


@pytest.mark.parametrize("phi", DISPERSIONS)
@pytest.mark.parametrize("mu", RATES)
def test_upper_is_negative_binomial_tail(mu: float, phi: float) -> None:
    dist = _nbinom(mu, phi)
    got = upper_surprise(COUNTS, _full(mu), _full(phi))
    above = mu < COUNTS
    np.testing.assert_allclose(got[above], -np.log10(dist.sf(COUNTS[above] - 1)), rtol=1e-8, atol=1e-12)
    assert np.all(got[~above] == 0.0)


@pytest.mark.parametrize("phi", DISPERSIONS)
@pytest.mark.parametrize("mu", RATES)
def test_lower_is_negative_binomial_tail(mu: float, phi: float) -> None:
    dist = _nbinom(mu, phi)
    got = lower_surprise(COUNTS, _full(mu), _full(phi))
    below = mu > COUNTS
    np.testing.assert_allclose(got[below], -np.log10(dist.cdf(COUNTS[below])), rtol=1e-8, atol=1e-12)
    assert np.all(got[~below] == 0.0)


def test_mixed_dispersions_in_one_call_match_one_by_one() -> None:
    counts = np.array([12.0, 12.0, 0.0, 30.0, 3.0, 9.0])
    mu = np.array([3.0, 3.0, 8.0, 10.0, 3.0, 2.5])
    phi = np.array([1.0, 3.0, 2.0, 1.0, 1.0, 6.0])
    for fn in (upper_surprise, lower_surprise):
        together = fn(counts, mu, phi)
        alone = [fn(counts[i : i + 1], mu[i : i + 1], phi[i : i + 1])[0] for i in range(len(counts))]
        np.testing.assert_array_equal(together, alone)


def test_tiny_probabilities_are_kept() -> None:
    """Far tails that a plain sf would still represent must not be flattened or become NaN."""
    got = upper_surprise(np.array([40.0, 60.0]), np.array([1.0, 1.0]), np.array([1.0, 1.0]))
    np.testing.assert_allclose(got, -np.log10(stats.poisson.sf([39, 59], 1.0)), rtol=1e-9)
    assert got[1] > got[0] > 40
    huge = upper_surprise(np.array([1e4, 1e6]), np.array([1.0, 1.0]), np.array([1.0, 4.0]))
    assert not np.isnan(huge).any() and np.all(huge > 300)


def test_zero_rate_is_floored() -> None:
    got = upper_surprise(np.array([1.0]), np.array([0.0]), np.array([1.0]))
    assert got[0] == pytest.approx(-np.log10(stats.poisson.sf(0, MIN_RATE)), rel=1e-9)


def test_no_lower_surprise_for_zero_count_at_zero_rate() -> None:
    """0 calls where 0 are expected is not below the rate: the docstring promises exactly 0."""
    assert lower_surprise(np.array([0.0]), np.array([0.0]), np.array([1.0]))[0] == 0.0


def test_poisson_limit_of_negative_binomial() -> None:
    """Just above the Poisson cut-off the negative binomial must agree with the Poisson tail."""
    counts = np.array([6.0, 10.0, 15.0])
    mu = np.full(3, 3.0)
    poisson = upper_surprise(counts, mu, np.ones(3))
    almost = upper_surprise(counts, mu, np.full(3, 1.0 + 1e-4))
    np.testing.assert_allclose(almost, poisson, rtol=1e-3)


_rates = st.floats(min_value=1e-3, max_value=500.0, allow_nan=False)
_phis = st.one_of(st.just(1.0), st.floats(min_value=1.0, max_value=50.0, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(mu=_rates, phi=_phis, counts=st.lists(st.integers(0, 3000), min_size=2, max_size=40))
def test_upper_monotone_in_count(mu: float, phi: float, counts: list[int]) -> None:
    x = np.sort(np.array(counts, dtype=np.float64))
    s = upper_surprise(x, np.full(x.shape, mu), np.full(x.shape, phi))
    assert not np.isnan(s).any()
    assert np.all(s >= 0)
    assert np.all(s[1:] >= s[:-1] - 1e-9), (x, s)
    assert np.all(s[x <= mu] == 0.0)
    assert np.all(s[x > mu] > 0.0)


@settings(max_examples=60, deadline=None)
@given(mu=_rates, phi=_phis, counts=st.lists(st.integers(0, 3000), min_size=2, max_size=40))
def test_lower_monotone_in_count(mu: float, phi: float, counts: list[int]) -> None:
    x = np.sort(np.array(counts, dtype=np.float64))
    s = lower_surprise(x, np.full(x.shape, mu), np.full(x.shape, phi))
    assert not np.isnan(s).any()
    assert np.all(s >= 0)
    assert np.all(s[1:] <= s[:-1] + 1e-9), (x, s)
    assert np.all(s[x >= mu] == 0.0)


@settings(max_examples=80, deadline=None)
@given(
    surprise=st.lists(st.floats(min_value=0.0, max_value=1e6, allow_nan=False), min_size=1, max_size=20),
    threshold=st.floats(min_value=0.1, max_value=100.0, allow_nan=False),
)
def test_unit_score_in_unit_interval_and_monotone(surprise: list[float], threshold: float) -> None:
    s = np.sort(np.array(surprise))
    score = unit_score(s, np.full(s.shape, threshold))
    assert np.all((score >= 0.0) & (score <= 1.0))
    assert np.all(score[1:] >= score[:-1])


@pytest.mark.parametrize("threshold", [0.5, 2.0, 7.0, 12.5])
def test_unit_score_anchors(threshold: float) -> None:
    t = np.array([threshold])
    assert unit_score(t, t)[0] == pytest.approx(0.5)
    assert unit_score(np.array([0.0]), t)[0] == 0.0
    assert unit_score(2 * t, t)[0] == pytest.approx(1.0)
    assert unit_score(np.array([np.inf]), t)[0] == 1.0
