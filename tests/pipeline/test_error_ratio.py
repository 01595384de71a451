"""Error rises judged against the API's calls (:mod:`insights.ratio`), through the whole engine.

A write API failing with a known code at a steady share of its calls: when its calls rise, its
failures rise with them, and that is its call rate's insight, not a new error insight. The same
failures with the calls flat are an error insight. Each pair differs only in the successful calls,
so a Start in one and none in the other is the ratio test's doing.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from insights.config import DetectorParams, EngineConfig
from insights.transition import CALL_RATE, ERROR_RATE, InsightTransition
from tests.builders import DAY, HOUR, NAME, START, api, merge, run_engine, starts, steady_with, stream
from tests.pipeline.engine_scenarios import background, checked, of

CONFIG = EngineConfig(
    window_minutes=2 * DAY, warmup_minutes=6 * HOUR, detector=DetectorParams(evidence_surprise=6.0)
)
N = 30 * HOUR
FAILING = api(error_code="ThrottlingException")


def _started(transitions: list[InsightTransition]) -> dict[str, list[InsightTransition]]:
    mine = starts(of(checked(transitions), NAME))
    return {kind: [t for t in mine if t.insight_type == kind] for kind in (CALL_RATE, ERROR_RATE)}


def _run(
    successes: np.ndarray, failures: np.ndarray, config: EngineConfig = CONFIG
) -> dict[str, list[InsightTransition]]:
    records = merge(background(N), stream({api(): successes, FAILING: failures}))
    return _started(run_engine(records, config))


def test_failures_tripling_with_their_calls_for_two_hours_start_only_a_call_rate_insight() -> None:
    """1.8 calls a minute succeed and 0.2 fail; for two hours both triple. The failures alone gather
    far more than the evidence needs (0.6 a minute against 0.2), but so do the calls."""
    rise = (26 * HOUR, 28 * HOUR)
    failures = steady_with(0.2, N, 41, {rise: 0.6})
    with_calls = _run(steady_with(1.8, N, 42, {rise: 5.4}), failures)
    assert with_calls[CALL_RATE] and not with_calls[ERROR_RATE], with_calls
    start = with_calls[CALL_RATE][0]
    assert START + rise[0] - 2 <= start.start_minute < START + rise[1]

    calls_flat = _run(steady_with(1.8, N, 42, {rise: 1.4}), failures)
    assert calls_flat[ERROR_RATE] and not calls_flat[CALL_RATE], calls_flat
    assert START + rise[0] - 2 <= calls_flat[ERROR_RATE][0].start_minute < START + rise[1]


@pytest.mark.parametrize("early", [True, False])
def test_a_minute_of_eight_times_the_calls_and_failures_starts_only_a_call_rate_spike(early: bool) -> None:
    """18 calls a minute succeed and 2 fail; in one minute 144 succeed and 16 fail. A Start that goes
    out before its minute closes (``early_starts``) is judged on the calls so far the same way."""
    spike = (26 * HOUR, 26 * HOUR + 1)
    config = dataclasses.replace(CONFIG, early_starts=early)
    failures = steady_with(2.0, N, 43, {spike: 16})
    with_calls = _run(steady_with(18.0, N, 44, {spike: 144}), failures, config)
    assert [t.start_minute for t in with_calls[CALL_RATE]] == [START + spike[0]], with_calls
    assert not with_calls[ERROR_RATE], with_calls

    calls_flat = _run(steady_with(18.0, N, 44, {spike: 4}), failures, config)
    assert [t.start_minute for t in calls_flat[ERROR_RATE]] == [START + spike[0]], calls_flat
    assert not calls_flat[CALL_RATE], calls_flat


def test_a_read_api_has_no_call_rate_so_its_failures_are_judged_on_their_own() -> None:
    """CloudTrail Insights does not count a read API's calls: its failures rising with them start
    an error insight, as before the ratio test."""
    rise = (26 * HOUR, 28 * HOUR)
    reading, failing = api(read_only=True), api(read_only=True, error_code="ThrottlingException")
    series = {
        reading: steady_with(1.8, N, 42, {rise: 5.4}),
        failing: steady_with(0.2, N, 41, {rise: 0.6}),
    }
    started = _started(run_engine(merge(background(N), stream(series)), CONFIG))
    assert started[ERROR_RATE] and not started[CALL_RATE], started
