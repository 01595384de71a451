"""Which earlier days are like today (insights/alike_days.py), and the steep reference they give a
quiet day: a business-hours error code's Sunday is weighed against its Saturday, not its weekdays."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import example, given, settings
from hypothesis import strategies as st

from insights.alike_days import ALIKE_HOURS, UNLIKE_SURPRISE, alike
from insights.baseline import Baseline, RingLayout
from insights.detector import lower_surprise

WINDOW = ALIKE_HOURS * 60.0


def _brute(today: float, n: float, sums: list[float], days_n: list[float], phi: float) -> list[bool]:
    """Every day's tail computed, none skipped: the definition the fast path must keep."""
    counted = [m >= WINDOW / 2 and n >= WINDOW / 2 for m in days_n]
    unlike = [
        c
        and float(lower_surprise(np.array([today]), np.array([s / max(m, 1) * n]), np.array([phi]))[0])
        >= UNLIKE_SURPRISE
        for c, s, m in zip(counted, sums, days_n, strict=True)
    ]
    if not any(c and not u for c, u in zip(counted, unlike, strict=True)):
        return [True] * len(sums)
    return [not u for u in unlike]


@settings(max_examples=400, deadline=None)
@given(
    today=st.integers(0, 400),
    n=st.sampled_from([0.0, 100.0, 180.0, 300.0, 360.0]),
    sums=st.lists(st.integers(0, 2000), min_size=1, max_size=7),
    phi=st.sampled_from([1.0, 1.5, 3.0, 10.0, 50.0]),
    seed=st.integers(0, 2**16),
)
@example(today=0, n=360.0, sums=[0, 55], phi=10.0, seed=76)  # 2.3 sd: surprising only for phi 10
def test_alike_matches_every_tail_computed(
    today: int, n: float, sums: list[int], phi: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    days_n = [float(rng.choice([0.0, 170.0, 200.0, 360.0])) for _ in sums]
    fast = alike(
        np.array([float(today)]),
        np.array([n]),
        np.array([sums], dtype=np.float64),
        np.array([days_n]),
        np.array([phi]),
    )
    assert fast[0].tolist() == _brute(float(today), n, [float(s) for s in sums], days_n, phi)


def _learnt(counts: npt.NDArray[np.float64]) -> Baseline:
    """A baseline that learnt ``counts`` (minutes x keys) from minute 0, rolling each hour."""
    baseline = Baseline(RingLayout())
    baseline.cols.ensure(counts.shape[1])
    slots = np.arange(counts.shape[1])
    for minute, row in enumerate(counts):
        baseline.learn(slots, row)
        if minute % 60 == 59:
            baseline.roll_hour(minute // 60 + 1, rows=counts.shape[1])
    return baseline


def test_a_quiet_days_steep_reference_comes_from_the_days_like_it() -> None:
    """An error code at 10 an hour through five weekdays' mornings (00:00-09:00, 1 an hour
    after), then a weekend at 1 an hour all day. On Sunday at 07:00 its last six hours were like
    Saturday's, not like any weekday's: its steep reference is Saturday's rate, not ten times it,
    so a surge to a weekday's level is a rise. The rising sum keeps the highest day (a weekly
    pattern's boundary, an account's Monday starting at its own midnight, is no rise)."""
    minute = np.arange((6 * 24 + 7) * 60)
    hour, day = (minute // 60) % 24, minute // 1440
    rate = np.where((day < 5) & (hour < 9), 10.0, 1.0) / 60.0
    counts = np.random.default_rng(3).poisson(rate)[:, None].astype(np.float64)
    baseline = _learnt(counts)
    baseline.refresh(6 * 24 + 7, rows=1)
    assert baseline.cols["ref_steep"][0] < 3.0 / 60.0
    assert baseline.cols["ref_mean"][0] > 8.0 / 60.0


def test_a_weekday_keeps_every_day() -> None:
    """The same code on Friday at 07:00: its last six hours were like every weekday's, and its
    steep reference is the weekday level."""
    minute = np.arange((4 * 24 + 7) * 60)
    hour = (minute // 60) % 24
    rate = np.where(hour < 9, 10.0, 1.0) / 60.0
    counts = np.random.default_rng(4).poisson(rate)[:, None].astype(np.float64)
    baseline = _learnt(counts)
    baseline.refresh(4 * 24 + 7, rows=1)
    assert baseline.cols["ref_steep"][0] > 8.0 / 60.0
