"""Rolling baselines against brute force over the raw minute series.

The ring holds the last ``hours`` complete hours plus the running hour, so after minute ``t`` the
baseline covers the learnt minutes from hour ``(t + 1) // 60 - hours`` onwards (zero minutes
included, minutes not learnt — e.g. inside an insight — excluded).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insights.baseline import Baseline, RingLayout
from insights.decay_kernel import decay
from insights.references import row_medians

BASE = 28_000_000 // 1440 * 1440  # a midnight, as an absolute minute (hour- and day-aligned)
PEAK_HOURS = 24  # the peak reference looks back one day


class Driver:
    """Feeds per-row minute series to a :class:`Baseline` the way a track does."""

    def __init__(self, hours: int, rows: int) -> None:
        layout = RingLayout(blocks=hours, block=60, per_day=24)
        self.baseline = Baseline(layout)
        self.cols = self.baseline.cols
        self.cols.ensure(rows)
        self.hours = hours
        self.rows = rows

    def step(self, minute: int, counts: np.ndarray, learn: np.ndarray) -> None:
        self.baseline.learn(np.flatnonzero(learn), counts[learn].astype(np.float64))
        if (minute + 1) % 60 == 0:
            self.baseline.roll_hour((minute + 1) // 60, self.rows)


def _window_start(minute: int, hours: int) -> int:
    """First minute the baseline covers once ``minute`` has been learnt (and rolled)."""
    return ((minute + 1) // 60 - hours) * 60


def _brute(series: np.ndarray, learnt: np.ndarray, offset: int, hours: int) -> tuple[float, int]:
    """Mean and number of learnt minutes in the trailing window after series index ``offset``."""
    first = max(_window_start(BASE + offset, hours) - BASE, 0)
    mask = learnt[first : offset + 1]
    n = int(mask.sum())
    total = float(series[first : offset + 1][mask].sum())
    return (total / n if n else 0.0), n


def _series(rng: np.random.Generator, length: int, rate: float, sparsity: float) -> np.ndarray:
    counts = rng.poisson(rate, size=length)
    counts[rng.random(length) < sparsity] = 0
    return counts.astype(np.int64)


def _gaps(rng: np.random.Generator, length: int, runs: int) -> np.ndarray:
    """A learn mask with a few unlearnt runs (as minutes inside insights would be)."""
    learnt = np.ones(length, dtype=bool)
    for _ in range(runs):
        a = int(rng.integers(0, length))
        learnt[a : a + int(rng.integers(1, 40))] = False
    return learnt


@settings(max_examples=25, deadline=None)
@given(
    hours=st.integers(4, 24),
    extra=st.integers(1, 8 * 60),
    seed=st.integers(0, 2**32 - 1),
    rate=st.floats(0.0, 40.0),
    sparsity=st.floats(0.0, 0.95),
)
def test_average_and_minutes_match_brute_force(
    hours: int, extra: int, seed: int, rate: float, sparsity: float
) -> None:
    rng = np.random.default_rng(seed)
    length = hours * 60 + extra
    series = np.stack([_series(rng, length, rate, sparsity), _series(rng, length, rate / 3, 0.5)])
    learnt = np.stack([np.ones(length, dtype=bool), _gaps(rng, length, 4)])
    d = Driver(hours, rows=2)
    for i in range(length):
        d.step(BASE + i, series[:, i], learnt[:, i])
        if i % 7 == 0 or i == length - 1 or (i + 1) % 60 == 0:
            averages, minutes = d.baseline.average(slice(0, 2)), d.baseline.minutes(slice(0, 2))
            for row in range(2):
                avg, n = _brute(series[row], learnt[row], i, hours)
                assert int(minutes[row]) == n, (row, i)
                assert float(averages[row]) == pytest.approx(avg, rel=1e-9, abs=1e-12), (row, i)


@settings(max_examples=25, deadline=None)
@given(
    hours=st.integers(4, 24),
    scope_offset=st.integers(0, 200),
    created_after=st.integers(1, 30 * 60),
    extra=st.integers(1, 3 * 60),
    seed=st.integers(0, 2**32 - 1),
)
def test_backfilled_key_counts_zero_minutes(
    hours: int, scope_offset: int, created_after: int, extra: int, seed: int
) -> None:
    """A key created after its scope started: the minutes before it count as zeros."""
    rng = np.random.default_rng(seed)
    created = scope_offset + created_after
    length = created + extra
    series = np.stack([rng.poisson(4.0, size=length), rng.poisson(2.0, size=length)]).astype(np.int64)
    series[1, :created] = 0  # the new key had no calls before it was first seen
    scope = np.arange(length) >= scope_offset
    d = Driver(hours, rows=2)
    for i in range(length):
        if i == created:
            d.baseline.backfill(1, BASE + scope_offset, BASE + i - 1)
        learn = np.array([scope[i], i >= created])
        d.step(BASE + i, series[:, i], learn)
        if i >= created and (i % 5 == 0 or i == length - 1):
            for row in range(2):
                avg, n = _brute(series[row], scope, i, hours)
                assert int(d.baseline.minutes(slice(0, 2))[row]) == n, (row, i)
                assert float(d.baseline.average(slice(0, 2))[row]) == pytest.approx(avg, rel=1e-9, abs=1e-12)
    # The backfilled key has exactly the state of a key that had been there, idle, all along.
    assert int(d.baseline.minutes(slice(0, 2))[1]) == int(d.baseline.minutes(slice(0, 2))[0])


def test_backfill_of_a_key_created_within_the_current_hour() -> None:
    d = Driver(hours=6, rows=1)
    d.baseline.backfill(0, BASE + 10, BASE + 24)
    assert int(d.baseline.minutes(slice(0, 1))[0]) == 15
    assert float(d.baseline.average(slice(0, 1))[0]) == 0.0
    d.step(BASE + 25, np.array([30]), np.array([True]))
    assert float(d.baseline.average(slice(0, 1))[0]) == pytest.approx(30 / 16)


def _robust_means(
    series: np.ndarray, learnt: np.ndarray, hour: int, hours: int, reach: int = 1
) -> list[float]:
    """Robust means (busiest minute left out) of the same hour of day +/- ``reach`` on each earlier
    day of the window, for hours with at least 30 learnt minutes (series index 0 is hour BASE // 60)."""
    values = []
    for day in range(1, hours // 24 + 1):
        for offset in range(-reach, reach + 1):
            h = hour - 24 * day + offset
            if h < hour - hours:
                continue
            i = (h - BASE // 60) * 60
            if i < 0:
                continue
            x = series[i : i + 60][learnt[i : i + 60]]
            if len(x) >= 30:
                values.append(float((x.sum() - x.max()) / (len(x) - 1)))
    return values


@settings(max_examples=12, deadline=None)
@given(
    hours=st.sampled_from([24, 25, 48]),
    first=st.integers(0, 59),
    extra=st.integers(1, 26 * 60),
    seed=st.integers(0, 2**32 - 1),
)
def test_references(hours: int, first: int, extra: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    length = 24 * 60 + extra
    hour_of_day = (np.arange(length) // 60) % 24
    rates = 2.0 + 6.0 * (hour_of_day >= 9) * (hour_of_day < 18)  # office-hours seasonality
    series = rng.poisson(rates).astype(np.int64)
    bursts = rng.random(length) < 0.01
    series[bursts] += rng.integers(5, 60, size=int(bursts.sum()))  # occasional bursts
    learnt = np.arange(length) >= first
    series[~learnt] = 0
    d = Driver(hours, rows=1)
    c = d.cols
    for i in range(length):
        d.step(BASE + i, series[i : i + 1], learnt[i : i + 1])
        if (i + 1) % 60:
            continue
        hour = (BASE + i + 1) // 60
        up, down, peak = float(c["ref_up"][0]), float(c["ref_down"][0]), float(c["ref_peak"][0])
        assert up >= down >= 0.0
        lo = max(i + 1 - min(PEAK_HOURS, hours) * 60, 0)
        assert peak == float(series[lo : i + 1].max()), i
        means = _robust_means(series, learnt, hour, hours)
        if not means:
            assert up == down == 0.0, i
            continue
        # Rises are judged against the highest of them; drops against a typical low one of the
        # hours two either side, never above the rising reference.
        assert up == pytest.approx(max(means), rel=1e-5, abs=1e-6), i
        wider = _robust_means(series, learnt, hour, hours, reach=2)
        assert min(wider) * (1 - 1e-5) - 1e-6 <= down <= up, i


def test_peak_reference_forgets_after_a_day() -> None:
    d = Driver(hours=48, rows=1)
    for i in range(30 * 60):
        d.step(BASE + i, np.array([40 if i == 30 else 1]), np.array([True]))
        if (i + 1) % 60 == 0:
            expected = 40.0 if i < 25 * 60 - 1 else 1.0
            assert float(d.cols["ref_peak"][0]) == expected, i


def _dispersion_after(series: np.ndarray, hours: int = 24) -> float:
    d = Driver(hours, rows=1)
    for i, x in enumerate(series):
        d.step(BASE + i, np.array([x]), np.array([True]))
    return float(d.cols["dispersion"][0])


def test_dispersion_near_one_for_poisson() -> None:
    rng = np.random.default_rng(11)
    for rate in (0.5, 5.0, 40.0):
        phi = _dispersion_after(rng.poisson(rate, size=24 * 60))
        assert 1.0 <= phi < 1.2, (rate, phi)


def test_dispersion_above_one_for_overdispersed() -> None:
    rng = np.random.default_rng(12)
    mu, phi_true = 5.0, 4.0
    x = rng.negative_binomial(mu / (phi_true - 1.0), 1.0 / phi_true, size=24 * 60)
    assert x.var() / x.mean() == pytest.approx(phi_true, rel=0.2)
    phi = _dispersion_after(x)
    assert 2.0 < phi < 6.0, phi


def test_dispersion_forgets_hours_that_left_the_window() -> None:
    rng = np.random.default_rng(13)
    wild = rng.negative_binomial(5.0 / 4.0, 1.0 / 5.0, size=24 * 60)
    calm = rng.poisson(5.0, size=25 * 60)
    assert _dispersion_after(np.concatenate([wild, calm]), hours=24) < 1.3
    assert _dispersion_after(np.concatenate([wild, calm[:60]]), hours=24) > 2.0


# A quiet hourly job's failures: 0-2 errors a run, two thirds of an error a run on average.
RUNS = [1, 0, 2, 0, 1, 0, 0, 1, 2, 0, 1, 0]


def _burst_after(hours: int, minutes_of: list[list[int]]) -> float:
    """The burst reference after ``hours`` hours whose calls fall at ``minutes_of[hour % len]``."""
    d = Driver(hours=48, rows=1)
    for i in range(hours * 60):
        calls = minutes_of[(i // 60) % len(minutes_of)]
        d.step(BASE + i, np.array([calls.count(i % 60)]), np.array([True]))
    return float(d.cols["ref_burst"][0])


def test_a_quiet_jobs_calls_sharing_its_minute_make_it_bursty() -> None:
    """Its busiest minute (2/3 of a call) is no bigger than a trickle's, but its repeat calls all
    land in the job's minute: its runs are its bursts, so a run of 5 is judged against them."""
    job = [[39] * n for n in RUNS]
    assert _burst_after(26, job) == pytest.approx(sum(RUNS) / len(RUNS))


def test_a_trickle_of_the_same_calls_at_different_minutes_is_not_bursty() -> None:
    trickle = [[(39 + 17 * k) % 60 for k in range(n)] for n in RUNS]
    assert _burst_after(26, trickle) == 0.0


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.lists(st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False)), min_size=3, max_size=3),
        min_size=0,
        max_size=8,
    )
)
def testrow_medians_are_numpys_nanmedian(rows: list[list[float | None]]) -> None:
    values = np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=np.float64)
    values = values.reshape(len(rows), 3)
    with warnings.catch_warnings():  # rows of NaN only
        warnings.simplefilter("ignore", RuntimeWarning)
        want = np.nanmedian(values, axis=1) if len(rows) else np.zeros(0)
    np.testing.assert_array_equal(row_medians(values), want)


@settings(max_examples=60, deadline=None)
@given(
    levels=st.lists(st.floats(0.0, 500.0, width=32), min_size=1, max_size=12),
    owed=st.data(),
)
def test_learning_owed_zero_minutes_at_once_gives_the_bits_of_learning_them_one_by_one(
    levels: list[float], owed: st.DataObject
) -> None:
    """The compiled decay (and the same loop uncompiled) against :meth:`Baseline.learn` with a
    count of 0, minute by minute: the recent level is float32, and a step rounded differently
    would drift from what the closes of a hot key compute."""
    debts = owed.draw(st.lists(st.integers(0, 90), min_size=len(levels), max_size=len(levels)))
    start = np.array(levels, dtype=np.float32)
    slots = np.arange(len(levels), dtype=np.int64)
    at_once, by_minute = Baseline(RingLayout()), Baseline(RingLayout())
    for baseline in (at_once, by_minute):
        baseline.cols.ensure(len(levels))
        baseline.cols["ewma"][: len(levels)] = start
    at_once.learn_zeros(slots, np.array(debts, dtype=np.int64))
    for minute in range(max(debts)):
        owing = slots[np.array(debts) > minute]
        by_minute.learn(owing, np.zeros(len(owing)))
    assert at_once.cols["ewma"][: len(levels)].tobytes() == by_minute.cols["ewma"][: len(levels)].tobytes()
    assert (at_once.cols["cur_n"] == by_minute.cols["cur_n"]).all()
    uncompiled = start.copy()
    decay.py_func(uncompiled, slots, np.array(debts, dtype=np.int64), RingLayout().ewma_alpha)  # type: ignore[attr-defined]
    assert uncompiled.tobytes() == at_once.cols["ewma"][: len(levels)].tobytes()
