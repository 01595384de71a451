"""Delivery as CloudTrail does it: duplicates, late and out-of-order records, early Starts while a
minute is still open, and records from a clock ahead of time."""

from __future__ import annotations

import random

import pytest

from insights.engine import Engine
from insights.events import insight_event
from tests.builders import (
    DAY,
    HOUR,
    NAME,
    START,
    RecordsByMinute,
    api,
    feed,
    merge,
    poisson_counts,
    record,
    run_engine,
    steady_with,
    stream,
)
from tests.pipeline.engine_scenarios import (
    SHORT,
    background,
    checked,
    ids,
    of,
    short,
)


# -- delivery: duplicates and late records ----------------------------------------------------------
def test_duplicates_count_once() -> None:
    n = 4 * HOUR
    spike_minute = START + 3 * HOUR
    clean = merge(background(n), stream({api(): steady_with(5.0, n, 51, {(3 * HOUR, 3 * HOUR + 2): 40})}))
    expected = checked(run_engine(clean, SHORT))
    assert [t.state for t in expected] == ["Start", "End"] and expected[0].insight_average == 40.0

    dirty = {m: list(records) for m, records in clean.items()}
    dup_count = 0
    for minute in (spike_minute, spike_minute + 1, START + 3 * HOUR - 30):
        originals = [r for r in clean[minute] if r.eventSource == "ec2.amazonaws.com"]
        dirty[minute] = dirty[minute] + originals  # twice in the same batch
        dirty[minute + 3] = dirty[minute + 3] + originals  # again three batches later
        dup_count += 2 * len(originals)
    engine = Engine(SHORT)
    assert run_engine(dirty, engine=engine) == expected
    assert engine.normaliser.skipped["duplicate"] == dup_count


def test_records_delivered_within_lateness_count() -> None:
    n = 4 * HOUR
    spike = 3 * HOUR
    clean = merge(background(n), stream({api(): steady_with(5.0, n, 52, {(spike, spike + 1): 60})}))
    expected = checked(run_engine(clean, SHORT))
    delayed = {m: list(rs) for m, rs in clean.items()}
    delayed[START + spike + 6] = delayed[START + spike + 6] + delayed[START + spike]
    delayed[START + spike] = []
    # Closed minutes do not depend on arrival order; an early Start, announced from the records
    # so far, carries that moment's figures, but the same insights start and end.
    at_close = short(early_starts=False)
    assert run_engine(delayed, at_close) == checked(run_engine(clean, at_close))
    assert ids(run_engine(delayed, SHORT)) == ids(expected)


def test_records_older_than_watermark_minus_lateness_are_late() -> None:
    n = 4 * HOUR
    lateness = SHORT.allowed_lateness_minutes
    base = merge(background(n), stream({api(): poisson_counts(5.0, n, 53)}))
    expected = run_engine(base, SHORT)
    engine = Engine(SHORT)
    out = feed(engine, {m: rs for m, rs in base.items() if m < START + 3 * HOUR})
    now = START + 3 * HOUR - 1  # newest minute seen so far
    late = [record(now - lateness - 1 - k % 20, second=k % 60) for k in range(300)]
    out += engine.process(late)
    out += run_engine({m: rs for m, rs in base.items() if m >= START + 3 * HOUR}, engine=engine)
    assert out == expected == []
    assert engine.normaliser.skipped["late"] == 300


def test_out_of_order_delivery_within_lateness_changes_nothing() -> None:
    """CloudTrail delivers unordered: any order within the allowed lateness gives the same output,
    including when a scope's first minutes arrive after a later minute of it."""
    n = 5 * HOUR
    records = merge(
        background(n),
        stream(
            {
                api(): steady_with(5.0, n, 54, {(4 * HOUR, 4 * HOUR + 5): 60}),
                api(
                    "Decrypt", source="kms.amazonaws.com", read_only=True, error_code="AccessDenied"
                ): steady_with(0.3, n, 55, {(4 * HOUR + 20, 4 * HOUR + 25): 30}),
            }
        ),
    )
    at_close = short(early_starts=False)  # early Starts carry the figures of the moment they go out
    expected = checked(run_engine(records, at_close))
    assert len(expected) == 4
    rng = random.Random(5)
    delayed: RecordsByMinute = {START: list(records[START + 6])}  # minute 6 seen first
    for minute, rs in records.items():
        for r in rs:
            delay = SHORT.allowed_lateness_minutes - 2 if minute < START + 6 else rng.randint(0, 8)
            delayed.setdefault(minute + delay, []).append(r)
    for rs in delayed.values():
        rng.shuffle(rs)
    assert ids(run_engine(delayed, SHORT)) == ids(expected)
    got = run_engine(delayed, at_close)
    summary = [(t.state, t.event_name, t.baseline_duration, round(t.baseline_average, 6)) for t in got]
    assert summary == [
        (t.state, t.event_name, t.baseline_duration, round(t.baseline_average, 6)) for t in expected
    ]
    assert got == expected


# -- early Starts and the future bound ------------------------------------------------------------
def test_spike_starts_while_its_minute_is_open_and_is_not_started_twice() -> None:
    n = 4 * HOUR
    spike = 3 * HOUR
    records = merge(background(n), stream({api(): steady_with(5.0, n, 91, {(spike, spike + 3): 80})}))
    engine = Engine(SHORT)
    out = feed(engine, {m: rs for m, rs in records.items() if m < START + spike})
    assert out == []
    first = [r for r in records[START + spike] if r.eventName == NAME][:40]  # half the spike's calls
    started = engine.process(first)
    assert [(t.state, t.event_name, t.start_minute) for t in started] == [("Start", NAME, START + spike)]
    assert engine.closed_through is not None and engine.closed_through < START + spike  # minute still open
    assert started[0].insight_average == 40.0 and started[0].decided_minute == START + spike
    rest = {m: [r for r in rs if r not in first] for m, rs in records.items() if m >= START + spike}
    later = checked(started + feed(engine, rest) + engine.finish())
    mine = of(later, NAME)
    assert [t.state for t in mine] == ["Start", "End"]  # closing the minute sent no second Start
    assert insight_event(mine[0])["sharedEventID"] == insight_event(mine[1])["sharedEventID"]
    assert mine[1].insight_average == pytest.approx(80.0)
    assert mine[1].baseline_average == mine[0].baseline_average
    # The same stream with Starts decided at close gives the same insights.
    assert ids(later) == ids(checked(run_engine(records, short(early_starts=False))))


def test_records_dated_after_the_latest_minute_are_dropped_as_future() -> None:
    n = 3 * HOUR
    records = merge(background(n), stream({api(): poisson_counts(5.0, n, 92)}))
    engine = Engine(SHORT)
    for minute in sorted(records):
        engine.process_classified([engine.classify(records[minute], latest_minute=minute + 2)])
        if minute == START + 2 * HOUR:  # a record from a clock a day ahead
            engine.process_classified([engine.classify([record(minute + DAY)], latest_minute=minute + 2)])
    assert engine.normaliser.skipped["future"] == 1
    assert engine.clocks.newest_overall() == START + n - 1
    assert engine.closed_through == START + n - 1 - SHORT.allowed_lateness_minutes - 1


def test_a_rising_spike_delivered_in_one_batch_starts_once() -> None:
    """Two open minutes of one spike arrive together, the second busier than the first: both pass
    the spike rule, but the key is already announcing an insight after the first, so it starts once
    and that Start gets its End."""
    n = 4 * HOUR
    spike = 3 * HOUR
    counts = steady_with(5.0, n, 97, {(spike, spike + 1): 40, (spike + 1, spike + 3): 90})
    records = merge(background(n), stream({api(): counts}))
    engine = Engine(SHORT)
    out = feed(engine, {m: rs for m, rs in records.items() if m < START + spike})
    together = records[START + spike] + records[START + spike + 1]
    out += engine.process(together)
    out += feed(engine, {m: rs for m, rs in records.items() if m > START + spike + 1}) + engine.finish()
    mine = of(checked(out), NAME)
    assert [(t.state, t.start_minute) for t in mine] == [("Start", START + spike), ("End", START + spike)]
