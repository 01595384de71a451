"""The windowed evidence (``evidence_surprise``) in the whole engine: a rise of a quiet key and a
drop of a key below ``drop_min_level``, which the single-minute rules cannot see, start and end one
insight each, dated from their first minutes; with the evidence off (``evidence_surprise = 0``) they
start nothing.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from insights import evidence
from insights.config import DetectorParams, EngineConfig
from tests.builders import (
    DAY,
    HOUR,
    NAME,
    START,
    RecordsByMinute,
    api,
    merge,
    run_engine,
    starts,
    steady_with,
    stream,
)
from tests.pipeline.engine_scenarios import background, checked, of, one_insight

ON = EngineConfig(
    window_minutes=2 * DAY, warmup_minutes=6 * HOUR, detector=DetectorParams(evidence_surprise=6.0)
)
OFF = dataclasses.replace(ON, detector=DetectorParams(evidence_surprise=0.0))
N = 30 * HOUR


def test_a_quiet_key_tripling_for_two_hours_starts_one_insight_from_its_first_minutes() -> None:
    rise = (26 * HOUR, 28 * HOUR)
    records = merge(background(N), stream({api(): steady_with(0.4, N, 21, {rise: 1.2})}))
    start, end = one_insight(checked(run_engine(records, ON)), NAME)
    assert start.direction == "up" and start.decided_minute < START + rise[1]
    assert START + rise[0] - 2 <= start.start_minute <= START + rise[0] + 30, start.start_minute - START
    assert START + rise[1] - 5 <= end.event_minute <= START + rise[1] + 3 * HOUR
    assert not of(run_engine(records, OFF), NAME)


def test_a_key_at_two_calls_a_minute_going_silent_for_an_hour_starts_a_drop_within_minutes() -> None:
    drop = (26 * HOUR, 27 * HOUR)
    records = merge(background(N), stream({api(): steady_with(2.0, N, 22, {drop: 0})}))
    start, end = one_insight(checked(run_engine(records, ON)), NAME)
    assert start.direction == "down" == end.direction
    assert START + drop[0] <= start.start_minute <= START + drop[0] + 2
    assert start.decided_minute <= START + drop[0] + 15
    assert START + drop[1] <= end.event_minute <= START + drop[1] + 10
    assert not of(run_engine(records, OFF), NAME)


def test_steady_quiet_keys_start_nothing() -> None:
    quiet = {api(f"Api{i}"): steady_with(rate, N, 30 + i) for i, rate in enumerate((0.05, 0.3, 1.0, 4.0))}
    assert checked(run_engine(merge(background(N), stream(quiet)), ON)) == []


def test_an_api_first_called_at_a_steady_trickle_starts_nothing_in_its_first_day() -> None:
    """Its baseline counts the minutes before its first call as zeros, so every seasonal reference
    of its first day is 0 and the trickle would look like a rise from nothing (and start again each
    time ``max_insight_minutes`` closed the last one)."""
    born = 10 * HOUR
    trickle = steady_with(0.3, N, 23, {(0, born): 0})
    transitions = checked(run_engine(merge(background(N), stream({api(): trickle})), ON))
    assert not of(transitions, NAME)


def test_a_known_error_code_surging_seventeen_fold_for_two_hours_starts_one_insight() -> None:
    """A code the API fails with once in two hours, failing 19 times in two hours: the rise sum
    (x1.5) gathers too little from so few calls, the steep one (x8) finds it."""
    surge = (26 * HOUR, 28 * HOUR)
    failing, minutes = api(error_code="AccessDenied"), N + 3 * HOUR
    series = {api(): steady_with(2.0, minutes, 24), failing: steady_with(0.0095, minutes, 25, {surge: 0.16})}
    records = merge(background(minutes), stream(series))
    transitions = checked(run_engine(records, ON))
    errors = [t for t in of(transitions, NAME) if t.error_code == "AccessDenied"]
    assert [t.state for t in errors] == ["Start", "End"], errors
    start, end = errors
    assert START + surge[0] <= start.start_minute < START + surge[1]
    assert start.decided_minute < START + surge[1]
    assert end.event_minute <= START + surge[1] + 3 * HOUR
    gentle = dataclasses.replace(
        ON, detector=DetectorParams(evidence_surprise=6.0, evidence_steep_ratio=1.5, evidence_steep_rate=0.0)
    )
    assert not [t for t in of(run_engine(records, gentle), NAME) if t.error_code]


def test_a_code_failing_once_an_hour_surging_sixteen_fold_for_an_hour_starts_a_steep_rise() -> None:
    """A code at 0.012 errors a minute for three days, then 0.2 a minute for an hour (12 errors
    against 0.7): the highest of its 35 hourly means is three to five times its rate, against which
    the surge gathers too little; the five hours pooled, day by day, leave it plain."""
    surge = (3 * DAY + 10 * HOUR, 3 * DAY + 11 * HOUR)
    failing, minutes = api(error_code="AccessDenied"), 3 * DAY + 14 * HOUR
    series = {api(): steady_with(2.0, minutes, 24), failing: steady_with(0.012, minutes, 25, {surge: 0.2})}
    records = merge(background(minutes), stream(series))
    week = dataclasses.replace(ON, window_minutes=7 * DAY)
    transitions = checked(run_engine(records, week))
    errors = [t for t in of(transitions, NAME) if t.error_code == "AccessDenied"]
    assert [t.state for t in errors] == ["Start", "End"], errors
    start = errors[0]
    assert START + surge[0] <= start.start_minute < START + surge[1]
    assert start.reason is not None and start.reason.rule == "evidence_steep_rise"
    assert start.reason.reference == "window_mean"


def test_a_code_the_api_never_failed_with_failing_five_times_in_seven_minutes_starts_a_steep_rise() -> None:
    """One failure a minute in six of ten minutes, of a code never seen: weighed at eight times
    its (floored) reference each failure adds ln 8 and six gather 12.5 nats, short of the
    threshold's 13.8; weighed at ``evidence_steep_rate`` (0.1 a minute, sixty times it) each adds
    ln 60, and the fifth starts the insight. Two calls' evidence (8.2 nats) is more than one minute
    may add (6.9), so the excursion is counted from one call's evidence on, the second failure, and
    ``evidence_steep_min_count`` (3) calls more than expected take four counted (a little is always
    expected). At 4 it takes the sixth, at 5 there is none."""
    burst = 26 * HOUR + np.array([0, 1, 3, 4, 6, 8])
    failing = np.zeros(N, dtype=np.int64)
    failing[burst] = 1
    series = {api(): steady_with(2.0, N, 24), api(error_code="ValidationException"): failing}
    records = merge(background(N), stream(series))

    def error_starts(**knobs: float) -> list[int]:
        config = dataclasses.replace(ON, detector=dataclasses.replace(ON.detector, **knobs))
        transitions = checked(run_engine(records, config))
        return [t.decided_minute - START for t in starts(of(transitions, NAME)) if t.error_code]

    assert error_starts() == [int(burst[4])]
    assert error_starts(evidence_steep_min_count=4.0) == [int(burst[5])]
    assert error_starts(evidence_steep_min_count=5.0) == []
    assert error_starts(evidence_steep_rate=0.0) == []


def test_a_new_code_failing_three_times_in_its_first_minute_is_dated_from_it() -> None:
    """A code never seen fails 3 times in a minute, twice two minutes later and once two after
    that (a new error code of the quality bench, seed 0 at scale 0.1). Its first minute adds all
    one minute may (6.9 nats, half the threshold), short of two calls' evidence (8.2): the
    excursion must count from it, one call's evidence, or the calls after it fall short of
    ``evidence_steep_min_count`` and the sum, past the threshold, starts nothing. The Start is
    decided at the sixth failure and dated from the first minute."""
    first = 26 * HOUR
    failing = np.zeros(N, dtype=np.int64)
    failing[[first, first + 2, first + 4]] = [3, 2, 1]
    series = {api(): steady_with(2.0, N, 24), api(error_code="RepositoryNotFoundException"): failing}
    transitions = checked(run_engine(merge(background(N), stream(series)), ON))
    errors = [t for t in starts(of(transitions, NAME)) if t.error_code]

    assert [(t.start_minute - START, t.decided_minute - START) for t in errors] == [(first, first + 4)]


def decided_minutes(records: RecordsByMinute, config: EngineConfig) -> list[int]:
    """The minutes (from the stream's first) whose close decided a Start of the API under test."""
    return [t.decided_minute - START for t in starts(of(checked(run_engine(records, config)), NAME))]


def test_a_burst_of_two_minutes_on_a_quiet_key_starts_a_rise_at_its_second_minute() -> None:
    """Six calls in each of two minutes of a key at half a call a minute: the steep sum (eight
    times the reference) would gather 8 nats a minute; capped at half the threshold each, the two
    reach it together, and the rise starts at the second minute. No single-minute rule starts it
    (six calls against about 0.6 is a tail of 1e-4), and at a third of the threshold a minute the
    two hold 9.2 of the 13.8 nats."""
    burst = (26 * HOUR, 26 * HOUR + 2)
    records = merge(background(N), stream({api(): steady_with(0.5, N, 27, {burst: 6})}))

    at_a_third = dataclasses.replace(
        ON, detector=dataclasses.replace(ON.detector, evidence_minute_share=1 / 3)
    )
    assert decided_minutes(records, ON) == [burst[1] - 1]
    assert decided_minutes(records, at_a_third) == []


def test_a_bigger_run_of_an_hourly_job_starts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A job running three minutes every hour (4, 1 and 1 calls), then once 12, 12 and 1: a bursty
    key (its busiest minute far above what its others predict), whose minutes add at most a third
    of the threshold each, about 10 of the 13.8 nats; at half, as a steady key's, the two big
    minutes alone would reach it."""
    job = np.zeros(N, dtype=np.int64)
    for minute, calls in ((10, 4), (11, 1), (12, 1)):
        job[np.arange(N) % HOUR == minute] = calls
    job[26 * HOUR + 10 : 26 * HOUR + 13] = [12, 12, 1]
    records = merge(background(N), stream({api(): job}))

    assert decided_minutes(records, ON) == []
    monkeypatch.setattr(evidence, "BURSTY_MINUTE_SHARE", 1 / 2)
    assert decided_minutes(records, ON) in (
        [26 * HOUR + 11],
        [26 * HOUR + 12],
    )  # two at the cap reach it to the bit


def business_day(days: int, shift_from_day: int, shift_minutes: int) -> list[int]:
    """30 calls a minute from 09:00 to 17:00 UTC, falling to 2 over 17:00-18:30 and 2 all night;
    from ``shift_from_day`` on the whole schedule runs ``shift_minutes`` later (daylight saving)."""
    minute_of_day = np.arange(DAY)
    ramp = np.clip((18 * 60 + 30 - minute_of_day) / 90, 0, 1)
    day_rate = np.where(minute_of_day < 9 * 60, 2.0, np.where(minute_of_day < 17 * 60, 30.0, 2 + 28 * ramp))
    rates = np.concatenate(
        [np.roll(day_rate, shift_minutes if day >= shift_from_day else 0) for day in range(days)]
    )
    counts: list[int] = np.random.default_rng(26).poisson(rates).tolist()
    return counts


def test_a_business_day_moving_an_hour_later_starts_nothing_in_its_evening() -> None:
    """The busy start of the ramp now falls after 18:00, whose hourly mean on earlier days
    (ramping down) is well below it: the rise reference reaches two hours either side. (The first
    mornings start insights: the schedule is new then.)"""
    counts = business_day(3, 2, 60)
    records = merge(background(len(counts)), stream({api(): counts}))
    evening = range(START + 2 * DAY + 17 * HOUR, START + 2 * DAY + 22 * HOUR)
    started = [t.start_minute for t in starts(checked(run_engine(records, ON))) if t.event_name == NAME]
    assert started and not [minute for minute in started if minute in evening]


def test_building_an_engine_compiles_the_evidence_for_the_types_its_closes_pass() -> None:
    """``evidence_kernel.load`` (an engine's lifecycle calls it) compiles both functions for the
    argument types of a close: a close that started or ended insights on evidence needs no other
    specialisation, which would compile (two seconds) in the middle of live traffic."""
    from insights import evidence_kernel

    evidence_kernel.load()
    compiled = {f: set(f.signatures) for f in (evidence_kernel.step_keys, evidence_kernel.pick_starts)}  # type: ignore[attr-defined]
    drop = (26 * HOUR, 27 * HOUR)
    records = merge(background(N), stream({api(): steady_with(2.0, N, 22, {drop: 0})}))
    assert one_insight(checked(run_engine(records, ON)), NAME)
    for function, before in compiled.items():
        assert set(function.signatures) == before, function  # type: ignore[attr-defined]


def test_a_rare_apis_calls_in_an_afternoon_it_was_quiet_on_the_day_before_start_nothing() -> None:
    """A write API called about once an hour (the hours of a generated anomaly-free trace): on its
    first day twelve calls between 05:00 and 18:00 and none after, on its second day four in the
    19:00 hour and two in each of the three hours after. Against the first day's evening (one call
    in five hours, a rate that two or three calls would fit as well) that was a "surprise" of 1e6; the
    steep sum's reference counts half a call more a day (``STEEP_PRIOR_CALLS``), and it is none."""
    calls = np.zeros(2 * DAY, dtype=np.int64)
    first_day = {5: 1, 7: 1, 8: 1, 9: 2, 10: 1, 13: 2, 15: 1, 16: 1, 17: 2}
    second_day = {6: 2, 7: 1, 13: 1, 15: 2, 19: 4, 21: 2, 22: 2, 23: 2}
    for day, hours in enumerate((first_day, second_day)):
        for hour, n in hours.items():
            minutes = day * DAY + hour * HOUR + np.linspace(7, 52, n).astype(np.int64)
            calls[minutes] += 1
    config = dataclasses.replace(ON, warmup_minutes=20 * HOUR)
    records = merge(background(2 * DAY), stream({api(): calls}))
    assert not of(checked(run_engine(records, config)), NAME)
