"""``score-series`` with the windowed evidence (insights/series.py, insights/series_score.py): its score
ranks sustained rises above ordinary rows, it finds drops of quiet series, heavy-tailed bursts do not
become insights by the dozen, and each row depends only on the rows up to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from insights.config import DetectorParams
from insights.series import SeriesPoint, SeriesScorer, series_params

F64 = npt.NDArray[np.float64]
START = datetime(2026, 1, 5, tzinfo=UTC)
PER_DAY = 288  # 5-minute buckets


def run(values: F64, scorer: SeriesScorer | None = None) -> list[SeriesPoint]:
    scorer = scorer or SeriesScorer()
    step = timedelta(minutes=5)
    return [scorer.score(START + i * step, float(v)) for i, v in enumerate(values)]


def insight_runs(points: list[SeriesPoint], after: int) -> int:
    flags = [p.insight for p in points]
    return sum(flags[i] and not flags[i - 1] for i in range(after, len(flags)))


def test_a_sustained_hour_at_twice_the_rate_outranks_every_ordinary_row() -> None:
    rng = np.random.default_rng(7)
    at = 3 * PER_DAY + 100
    values = rng.poisson(5.0, at + 12).astype(float)
    values[at:] = rng.poisson(10.0, 12)
    points = run(values)
    ordinary = [p.score for p in points[2 * PER_DAY : at]]
    rise = [p.score for p in points[at:]]
    assert np.mean(np.array(ordinary) > 0) > 0.5, "rows are scored outside insights too"
    assert rise[-1] > max(ordinary) and points[-1].direction == 1
    assert min(rise[-4:]) > np.quantile(ordinary, 0.99)


def test_two_silent_hours_of_a_series_at_three_a_bucket_are_a_drop() -> None:
    rng = np.random.default_rng(11)
    at = 3 * PER_DAY + 120
    values = rng.poisson(3.0, at + 24 + 24).astype(float)
    values[at : at + 24] = 0.0
    points = run(values)
    assert not any(p.insight for p in points[:at])
    found = [i for i in range(at, at + 24) if points[i].insight]
    assert found and found[0] < at + 12, found
    assert points[found[0]].direction == -1
    before = run(values, SeriesScorer(series_params(evidence_surprise=0)))
    assert not any(p.insight for p in before), "too quiet for the single-row drop rule"


def bursty(seed: int, days: int) -> F64:
    """Counts around 8 a bucket with a daily rhythm, over-dispersed, and four bursts a day of one bucket
    each, 3 x (Pareto(1.2) + 1) times the level: heavy-tailed, and ordinary for this series."""
    rng = np.random.default_rng(seed)
    hours = np.arange(days * PER_DAY) % PER_DAY / 12
    mean = 8 * (1 + 0.5 * np.sin(2 * np.pi * (hours - 9) / 24))
    for at in rng.choice(len(mean), size=4 * days, replace=False):
        mean[at] *= 1 + 3 * (rng.pareto(1.2) + 1)
    values: F64 = rng.poisson(rng.gamma(5.0, mean / 5.0)).astype(float)
    return values


def test_heavy_tailed_bursts_do_not_become_insights_by_the_dozen() -> None:
    values = bursty(6, days=7)
    after = 2 * PER_DAY  # warm-up over
    assert insight_runs(run(values), after) <= 3
    before = run(values, SeriesScorer(DetectorParams(evidence_surprise=0.0)))  # single-minute rules only
    assert insight_runs(before, after) >= 10


def test_the_output_is_deterministic_and_each_row_depends_only_on_rows_before() -> None:
    rng = np.random.default_rng(5)
    values = rng.poisson(3.0, 3 * PER_DAY + 200).astype(float)
    values[3 * PER_DAY + 120 : 3 * PER_DAY + 150] = 0.0
    whole = run(values)
    assert run(values) == whole
    for cut in (3 * PER_DAY + 125, 3 * PER_DAY + 160):
        assert run(values[:cut]) == whole[:cut]
