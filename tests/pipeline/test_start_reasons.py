"""Every Start says why it started (:class:`insights.reason.StartReason`), and truthfully: the rule that
fired, over the minutes the insight covers when it starts, the calls seen there and those its
reference expected, and a surprise past the threshold that rule applies."""

from __future__ import annotations

import dataclasses

import pytest

from insights.config import DetectorParams, EngineConfig
from insights.reason import StartReason
from insights.transition import InsightTransition
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
from tests.pipeline.engine_scenarios import SHORT, background, checked, of

EVIDENCE = EngineConfig(
    window_minutes=2 * DAY, warmup_minutes=6 * HOUR, detector=DetectorParams(evidence_surprise=6.0)
)
LONG = dataclasses.replace(EVIDENCE, detector=DetectorParams())


def _started(
    records: RecordsByMinute, config: EngineConfig, rule: str
) -> tuple[InsightTransition, StartReason]:
    """The first Start of ``NAME`` by ``rule``, with its reason; checks what every reason must say."""
    for t in starts(of(checked(run_engine(records, config)), NAME)):
        reason = t.reason
        assert reason is not None
        if reason.rule == rule:
            assert reason.window_minutes == t.decided_minute - t.start_minute + 1
            assert t.insight_average == pytest.approx(reason.observed / reason.window_minutes)
            assert reason.surprise >= reason.threshold > 0
            assert reason.tail_probability == pytest.approx(10**-reason.surprise)
            return t, reason
    raise AssertionError(f"no {rule} Start")


def test_a_spike_names_its_minute_its_count_and_the_rising_reference() -> None:
    n = 5 * HOUR
    spike = (4 * HOUR, 4 * HOUR + 3)
    records = merge(background(n), stream({api(): steady_with(5.0, n, 8, {spike: 50})}))
    for config, rule in ((SHORT, "early_spike"), (dataclasses.replace(SHORT, early_starts=False), "spike")):
        t, reason = _started(records, config, rule)
        assert t.start_minute == START + spike[0]
        assert (reason.window_minutes, reason.observed) == (1, 50.0)
        assert reason.expected == pytest.approx(5.0, rel=0.2)
        assert reason.reference in ("seasonal", "recent_level")
        assert reason.peak is not None and 5.0 < reason.peak < 50.0 / 1.25
        assert reason.threshold == 7.0


def test_a_sustained_rise_sums_its_streak_against_the_rising_reference() -> None:
    n = 8 * HOUR
    step = (6 * HOUR, 7 * HOUR)
    records = merge(background(n), stream({api(): steady_with(5.0, n, 7, {step: 15.0})}))
    t, reason = _started(records, SHORT, "sustained_rise")
    assert START + step[0] - 2 <= t.start_minute < START + step[1]
    assert reason.window_minutes >= SHORT.detector.sustained_minutes
    assert reason.expected == pytest.approx(5.0 * reason.window_minutes, rel=0.3)
    assert reason.observed > 2 * reason.expected
    assert (reason.reference, reason.peak) == ("rising", None)


def test_a_drop_sums_its_missing_calls_against_the_falling_reference() -> None:
    n = 30 * HOUR
    drop = (27 * HOUR, 27 * HOUR + 30)
    records = merge(background(n), stream({api(): steady_with(20.0, n, 5, {drop: 0})}))
    t, reason = _started(records, LONG, "drop")
    assert t.direction == "down" and t.start_minute == START + drop[0]
    assert reason.observed == 0.0
    assert reason.expected == pytest.approx(20.0 * reason.window_minutes, rel=0.2)
    assert reason.reference == "falling"


def test_windowed_evidence_of_a_rise_names_its_window_and_the_seasonal_mean() -> None:
    n = 30 * HOUR
    rise = (26 * HOUR, 28 * HOUR)
    records = merge(background(n), stream({api(): steady_with(0.4, n, 21, {rise: 1.2})}))
    t, reason = _started(records, EVIDENCE, "evidence_rise")
    assert START + rise[0] - 2 <= t.start_minute and reason.window_minutes >= 10
    assert reason.expected == pytest.approx(0.4 * reason.window_minutes, rel=0.3)
    assert reason.observed >= 2 * reason.expected
    assert (reason.reference, reason.threshold) == ("seasonal_mean", 6.0)
    assert "likelihood ratio" in reason.words()


def test_windowed_evidence_of_a_drop_names_the_falling_reference() -> None:
    n = 30 * HOUR
    drop = (26 * HOUR, 27 * HOUR)
    records = merge(background(n), stream({api(): steady_with(2.0, n, 22, {drop: 0})}))
    t, reason = _started(records, EVIDENCE, "evidence_drop")
    assert t.direction == "down" and reason.observed == 0.0
    assert reason.expected == pytest.approx(2.0 * reason.window_minutes, rel=0.3)
    assert reason.reference == "falling"
