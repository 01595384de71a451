"""The windowed evidence (``evidence_surprise``) in the whole engine: a rise of a quiet key and a
drop of a key below ``drop_min_level``, which the single-minute rules cannot see, start and end one
insight each, dated from their first minutes; with the evidence off (the default) they start nothing.
"""

from __future__ import annotations

import dataclasses

from insights.config import DetectorParams, EngineConfig
from tests.builders import DAY, HOUR, NAME, START, api, merge, run_engine, steady_with, stream
from tests.pipeline.engine_scenarios import background, checked, of, one_insight

ON = EngineConfig(
    window_minutes=2 * DAY, warmup_minutes=6 * HOUR, detector=DetectorParams(evidence_surprise=6.0)
)
OFF = dataclasses.replace(ON, detector=DetectorParams())
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
