"""The series quality bench's figures (bench/series_quality_parts/measure.py) on hand-built series."""

from __future__ import annotations

import numpy as np
import pytest

from bench.series_quality_parts.measure import Tally, average_precision, roc_auc, runs, threshold_insights
from bench.series_quality_parts.synth import EVAL_DAY, Labelled


def test_auc_and_average_precision_of_known_rankings() -> None:
    assert roc_auc(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 1.0
    assert roc_auc(np.array([1.0]), np.array([1.0, 2.0])) == 0.25  # a tie counts half
    assert average_precision(np.array([3.0, 1.0]), np.array([2.0])) == pytest.approx((1 + 2 / 3) / 2)


def test_runs_merge_when_close() -> None:
    flags = np.array([0, 1, 1, 0, 0, 1, 0, 0, 0, 1], bool)
    assert runs(flags) == [(1, 3), (5, 6), (9, 10)]
    assert runs(flags, merge=3) == [(1, 6), (9, 10)]
    assert threshold_insights(np.array([0.0, 8.0, 0.0, 8.0]), 7.0).tolist() == [False, True, True, True]


def test_found_false_and_windows_of_one_series() -> None:
    per_day = 24  # hourly: an hour's margin is one bucket
    days = EVAL_DAY + 2
    label = (EVAL_DAY * per_day + 5, EVAL_DAY * per_day + 9, "rise")
    series = Labelled("test", 60, np.zeros(days * per_day), [label])
    score = np.zeros(days * per_day)
    score[label[0] + 1] = 0.9
    insight = np.zeros(days * per_day, bool)
    insight[label[1]] = True  # in the hour after the anomaly: found, not false
    insight[EVAL_DAY * per_day + 30] = True  # false
    tally = Tally()
    tally.add(series, score, insight)
    figures = tally.figures()
    assert (figures["found"], figures["insights"], figures["false_per_day"]) == (1, 2, 0.5)
    assert tally.positives == [0.9] and len(tally.negatives) == (2 * per_day - 5) // 4
    assert figures["roc_auc"] == 1.0
