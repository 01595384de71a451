"""The false-alarm bound (insights/calibration.py) against the evidence it bounds: Poisson traffic at
its exact reference, judged every minute by all three sums, crosses no more often than the bound
says; and the target-to-threshold inverse is the bound's inverse."""

from __future__ import annotations

import numpy as np
import pytest

from insights.calibration import MINUTES_PER_DAY, evidence_surprise_for, false_starts_bound
from insights.columns import Columns
from insights.evidence import EVIDENCE_FIELDS, LN10, accumulate, judged, reset


def _crossings_per_key_day(surprise: float, rate: float, keys: int, days: int, seed: int) -> float:
    """False Starts per key-day of the three evidence sums (rise x2, steep x8, drop x0.1) on Poisson
    counts at ``rate``, the reference exact; a key's sums restart after it crosses (an insight
    opened and was judged on fresh sums)."""
    cols = Columns(EVIDENCE_FIELDS)
    cols.ensure(keys)
    slots = np.arange(keys)
    on = np.ones(keys, dtype=bool)
    mu, phi = np.full(keys, rate), np.ones(keys)
    longest, most = np.full(keys, 480.0), np.full(keys, np.inf)
    h = surprise * LN10
    rng = np.random.default_rng(seed)
    crossings = 0
    for minute in range(days * MINUTES_PER_DAY):
        counts = rng.poisson(rate, keys).astype(np.float64)
        fired = np.zeros(keys, dtype=bool)
        for side, rho in (("up", 2.0), ("ux", 8.0), ("dn", 0.1)):
            fired |= (
                accumulate(
                    cols, side, slots, minute, counts, mu, phi, np.full(keys, rho), on, longest, most
                ).sum
                >= h
            )
        judged(cols, slots, minute)
        crossings += int(fired.sum())
        reset(cols, slots[fired])
    return crossings / (keys * days)


@pytest.mark.parametrize("rate", [0.3, 3.0])
def test_exact_references_cross_no_more_often_than_the_bound(rate: float) -> None:
    """At a low threshold (2.5: false Starts are common enough to count) on 400 key-days."""
    surprise = 2.5
    bound = false_starts_bound(surprise, start_surprise=np.inf)
    measured = _crossings_per_key_day(surprise, rate, keys=200, days=2, seed=11)
    assert 0 < measured <= bound


def test_the_threshold_for_a_target_gives_the_target_back() -> None:
    surprise = evidence_surprise_for(0.01, start_surprise=7.0)
    assert false_starts_bound(surprise, start_surprise=7.0) == pytest.approx(0.01)
    with pytest.raises(ValueError):
        evidence_surprise_for(0.0001, start_surprise=5.0)
