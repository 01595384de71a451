"""Shapes of anomaly, warm-up, and a baseline that does not learn from insights.

Scenarios use a one-day window and a two-hour warm-up to stay fast.
"""

from __future__ import annotations

import numpy as np
import pytest

from insights.config import DetectorParams, EngineConfig
from tests.builders import (
    ARN,
    DAY,
    HOUR,
    NAME,
    START,
    api,
    ends,
    merge,
    poisson_counts,
    run_engine,
    steady_with,
    stream,
)
from tests.pipeline.engine_scenarios import (
    SHORT,
    background,
    checked,
    of,
    one_insight,
    short,
)


# -- shapes of anomaly -------------------------------------------------------------------------------
def test_drop_to_zero_starts_down_then_ends() -> None:
    n = 30 * HOUR
    drop = (27 * HOUR, 27 * HOUR + 30)
    busy = steady_with(20.0, n, 5, {drop: 0})
    config = EngineConfig(window_minutes=2 * DAY, warmup_minutes=6 * HOUR)
    out = checked(run_engine(merge(background(n), stream({api(): busy})), config))
    start, end = one_insight(out, NAME)
    assert start.direction == "down" == end.direction
    assert START + drop[0] <= start.start_minute <= START + drop[0] + 2
    assert start.insight_average == 0.0 and start.baseline_average == pytest.approx(20.0, rel=0.05)
    assert end.event_minute == START + drop[1]
    assert len(out) == 2


def test_sustained_threefold_step_is_flagged() -> None:
    n = 8 * HOUR
    step = (6 * HOUR, 7 * HOUR)
    counts = steady_with(5.0, n, 7, {step: 15.0})
    out = checked(run_engine(merge(background(n), stream({api(): counts})), SHORT))
    mine = of(out, NAME)
    assert mine and mine[0].state == "Start" and mine[0].direction == "up"
    # A sustained start may include a minute or two of chance-high counts just before the step.
    assert START + step[0] - 2 <= mine[0].start_minute <= START + step[0] + 5
    assert all(START + step[0] - 2 <= t.start_minute < START + step[1] for t in mine)
    assert ends(mine)[-1].event_minute <= START + step[1] + 1
    assert len(out) == len(mine)


def test_steady_poisson_over_two_days_gives_nothing() -> None:
    n = 2 * DAY + 6 * HOUR
    series = {
        api("RunInstances"): poisson_counts(5.0, n, 21),
        api("PutObject", source="s3.amazonaws.com"): poisson_counts(40.0, n, 22),
        api("CreateTags"): poisson_counts(0.3, n, 23),
        api("Decrypt", source="kms.amazonaws.com", read_only=True, error_code="AccessDenied"): poisson_counts(
            2.0, n, 24
        ),
    }
    assert run_engine(stream(series), EngineConfig(window_minutes=2 * DAY, warmup_minutes=12 * HOUR)) == []


def test_spike_on_short_window() -> None:
    n = 5 * HOUR
    spike = (4 * HOUR, 4 * HOUR + 3)
    out = checked(
        run_engine(merge(background(n), stream({api(): steady_with(5.0, n, 8, {spike: 50})})), SHORT)
    )
    start, end = one_insight(out, NAME)
    assert start.event_minute == START + spike[0] and end.event_minute == START + spike[1]
    assert end.insight_average == 50.0 > start.baseline_average


def test_window_shorter_than_a_day() -> None:
    """Any ``window_minutes`` is a valid setting; below a day there are simply no same-hour-of-day
    references yet, and a plain spike is still found."""
    n = 5 * HOUR
    spike = (4 * HOUR, 4 * HOUR + 3)
    config = short(window_minutes=6 * HOUR)
    out = checked(
        run_engine(merge(background(n), stream({api(): steady_with(5.0, n, 8, {spike: 50})})), config)
    )
    start, end = one_insight(out, NAME)
    assert start.event_minute == START + spike[0] and end.event_minute == START + spike[1]


def test_attribution_averages_cover_the_insight_period() -> None:
    """Attributions are per-minute averages during the insight: with one caller and no errors, the
    single value of each attribute averages exactly the insight's own average (Start and End)."""
    n = 5 * HOUR
    spike = (4 * HOUR, 4 * HOUR + 5)
    out = checked(
        run_engine(merge(background(n), stream({api(): steady_with(5.0, n, 8, {spike: 60})})), SHORT)
    )
    start, end = one_insight(out, NAME)
    for t in (start, end):
        for a in t.attributions:
            values = {v.value: v.average for v in a.insight}
            expected = {"userIdentityArn": ARN, "errorCode": "null"}.get(a.attribute)
            if expected is not None:
                assert list(values) == [expected], (t.state, a)
            assert sum(values.values()) == pytest.approx(t.insight_average), (t.state, a.attribute, values)


def test_permanent_level_shift_is_closed_and_accepted() -> None:
    n = 8 * HOUR
    config = short(detector=DetectorParams(max_insight_minutes=60))
    counts = steady_with(5.0, n, 9, {(3 * HOUR, n): 50.0})
    out = checked(run_engine(merge(background(n), stream({api(): counts})), config))
    start, end = one_insight(out, NAME)
    assert start.event_minute == START + 3 * HOUR
    assert end.insight_duration == 60 and end.insight_average == pytest.approx(50.0, rel=0.05)


def test_a_quiet_jobs_run_of_five_failures_is_no_spike_but_five_in_a_trickle_are() -> None:
    """An hourly job fails with a code 0-2 times a run (2/3 on average); one run fails 5 times.
    Against the near-zero mean of the minutes between runs that is a spike, but the job's failures
    always share its minute (its runs are bursts) and 5 is within what runs of 2/3 give. The same
    failures spread over the hour, then 5 in one minute, are a spike."""
    n, runs = 30 * HOUR, [1, 0, 2, 0, 1, 0, 0, 1, 2, 0, 1, 0]
    job, trickle = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for hour in range(n // HOUR):
        calls = 5 if hour == 28 else runs[hour % len(runs)]
        job[hour * HOUR + 39] = calls
        for k in range(calls):
            trickle[hour * HOUR + (39 if hour == 28 else (39 + 17 * k) % 60)] += 1
    code = "Client.InvalidInstanceID.NotFound"
    series = {
        api("DescribeAddresses", read_only=True, error_code=code): job,
        api("DescribeVolumes", read_only=True, error_code=code): trickle,
    }
    config = EngineConfig(window_minutes=2 * DAY, warmup_minutes=6 * HOUR)
    out = checked(run_engine(merge(background(n), stream(series)), config))
    assert not of(out, "DescribeAddresses")
    start, _ = one_insight(out, "DescribeVolumes")
    assert start.start_minute == START + 28 * HOUR + 39


# -- warm-up --------------------------------------------------------------------------------------
def test_no_insight_during_warmup_even_for_enormous_spike() -> None:
    n = 6 * HOUR
    config = short(warmup_minutes=4 * HOUR)
    early = steady_with(5.0, n, 61, {(2 * HOUR, 2 * HOUR + 3): 5000})
    assert run_engine(merge(background(n), stream({api(): early})), config) == []
    # The same spike once the scope is warm is an insight: the test above is not vacuous.
    late = steady_with(5.0, n, 61, {(5 * HOUR, 5 * HOUR + 3): 5000})
    out = checked(run_engine(merge(background(n), stream({api(): late})), config))
    assert [t.state for t in of(out, NAME)] == ["Start", "End"]


def test_warmup_is_per_account_and_region() -> None:
    n = 6 * HOUR
    newcomer = np.zeros(n, np.int64)
    newcomer[5 * HOUR : 5 * HOUR + 3] = 500
    out = run_engine(merge(background(n), stream({api(NAME, account="999988887777"): newcomer})), SHORT)
    assert out == []


# -- the baseline does not learn from insights ------------------------------------------------------
def test_minutes_inside_an_insight_do_not_feed_the_baseline() -> None:
    n = 8 * HOUR
    counts = steady_with(5.0, n, 81, {(3 * HOUR, 3 * HOUR + 20): 80, (6 * HOUR, 6 * HOUR + 3): 100})
    out = checked(run_engine(merge(background(n), stream({api(): counts})), SHORT))
    s1, e1, s2, e2 = of(out, NAME)
    assert e1.baseline_average == s1.baseline_average and e1.baseline_duration == s1.baseline_duration
    assert e2.baseline_average == s2.baseline_average
    # The baseline is every hour learnt before the spike minute less the lateness, however far the
    # closes had got when the Start went out (insights.baseline.Baseline.settled).
    assert s1.baseline_duration == (3 * HOUR - SHORT.allowed_lateness_minutes) // HOUR * HOUR
    assert s1.baseline_average == pytest.approx(counts[: s1.baseline_duration].mean(), rel=1e-9)
    # The second insight's baseline: every minute before it except the first insight's. The
    # minutes that confirmed its end may be left out too (the insight was still open then).
    # It covers the hours learnt before its minute less the lateness.
    upto = (s2.decided_minute - START - SHORT.allowed_lateness_minutes) // HOUR * HOUR
    learnt = np.ones(upto, dtype=bool)
    learnt[s1.start_minute - START : e1.event_minute - START] = False
    strict = (counts[:upto][learnt].mean(), int(learnt.sum()))
    learnt[e1.event_minute - START : e1.decided_minute - START + 1] = False
    loose = (counts[:upto][learnt].mean(), int(learnt.sum()))
    got = (s2.baseline_average, s2.baseline_duration)
    matches = [got[1] == n and got[0] == pytest.approx(avg, rel=1e-9) for avg, n in (strict, loose)]
    assert any(matches), (got, strict, loose)
    assert s2.baseline_average < 6.0
