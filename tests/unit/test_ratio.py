"""The ratio test's pieces (:mod:`insights.ratio`): when calls explain an error rise."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from insights.ratio import call_factor, explained

counts = st.integers(min_value=0, max_value=500).map(float)
rates = st.floats(min_value=0.01, max_value=100.0)
factors = st.floats(min_value=1.0, max_value=50.0)
dispersions = st.floats(min_value=1.0, max_value=10.0)
thresholds = st.floats(min_value=1.0, max_value=10.0)


def _explained(observed: float, expected: float, factor: float, phi: float, threshold: float) -> bool:
    one = lambda v: np.array([v])  # noqa: E731
    return bool(explained(one(observed), one(expected), one(factor), one(phi), one(threshold))[0])


@given(counts, rates, dispersions, thresholds)
def test_calls_at_their_reference_explain_nothing(
    observed: float, expected: float, phi: float, h: float
) -> None:
    assert not _explained(observed, expected, 1.0, phi, h)


@given(counts, rates, factors, factors, dispersions, thresholds)
def test_more_calls_explain_at_least_as_much(
    observed: float, expected: float, low: float, high: float, phi: float, h: float
) -> None:
    low, high = sorted((low, high))
    if low > 1.0 and _explained(observed, expected, low, phi, h):
        assert _explained(observed, expected, high, phi, h)


def test_errors_rising_with_their_calls_are_explained_and_beyond_them_are_not() -> None:
    expected, phi, h = np.array([2.0, 2.0]), np.array([1.0, 1.0]), np.array([7.0, 7.0])
    factor = call_factor(np.array([80.0, 80.0]), np.array([10.0, 10.0]), np.array([True, True]))
    assert factor.tolist() == [8.0, 8.0]
    assert explained(np.array([18.0, 60.0]), expected, factor, phi, h).tolist() == [True, False]


def test_calls_below_their_reference_or_not_unusual_leave_the_factor_at_one() -> None:
    factor = call_factor(np.array([5.0, 80.0]), np.array([10.0, 10.0]), np.array([True, False]))
    assert factor.tolist() == [1.0, 1.0]
