"""Event-time clocks per source: the frontier, silence, waiting and idle inputs, and state."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from insights.classify import classify
from insights.clock import SourceClocks
from insights.config import EngineConfig
from insights.engine import Engine
from tests.builders import record


def test_the_frontier_is_the_oldest_active_source_less_the_lateness() -> None:
    clocks = SourceClocks(lateness=5, idle_minutes=60)
    assert clocks.frontier() is None
    clocks.observe("", "1", "us-east-1", 100)
    clocks.observe("", "2", "us-east-1", 90)
    assert clocks.frontier() == 84
    clocks.observe("", "2", "us-east-1", 120)
    assert clocks.frontier() == 94


def test_a_source_far_behind_its_input_is_silent_once_and_active_again_when_it_speaks() -> None:
    clocks = SourceClocks(lateness=5, idle_minutes=30)
    clocks.observe("", "1", "eu-west-1", 100)
    clocks.observe("", "2", "eu-west-1", 131)
    assert clocks.frontier() == 125
    assert clocks.take_silent() == [("", "", "1", "eu-west-1", 100)]
    clocks.observe("", "2", "eu-west-1", 140)
    clocks.frontier()
    assert clocks.take_silent() == []  # reported once
    clocks.observe("", "1", "eu-west-1", 139)
    assert clocks.frontier() == 133


def test_a_partition_behind_another_is_not_silent() -> None:
    """Silence is measured within an input: a partition read from hours back holds the others."""
    clocks = SourceClocks(lateness=5, idle_minutes=30)
    clocks.observe("t:0", "1", "us-east-1", 600)
    clocks.observe("t:1", "2", "us-east-1", 60)
    assert clocks.frontier() == 54 and clocks.take_silent() == []


def test_each_channel_of_an_account_region_keeps_its_own_clock() -> None:
    """EventBridge events run a quarter of an hour ahead of the same account-region's log files in
    one partition: the files hold the frontier back instead of being late, and a channel that stops
    while another still feeds the partition falls silent like any source."""
    clocks = SourceClocks(lateness=5, idle_minutes=30)
    clocks.observe("t:0", "1", "us-east-1", 200, channel="events")
    clocks.observe("t:0", "1", "us-east-1", 185, channel="files")
    assert clocks.newest(("t:0", "files", "1", "us-east-1")) == 185
    assert clocks.frontier() == 179 and clocks.take_silent() == []
    clocks.observe("t:0", "1", "us-east-1", 240, channel="events")
    assert clocks.frontier() == 234
    assert clocks.take_silent() == [("t:0", "files", "1", "us-east-1", 185)]
    assert clocks.silent_scopes() == frozenset()  # its events still speak for the account-region


def test_waiting_inputs_hold_every_minute_and_idle_ones_hold_none() -> None:
    clocks = SourceClocks(lateness=5, idle_minutes=30)
    clocks.observe("t:0", "1", "us-east-1", 600)
    clocks.observe("t:1", "2", "us-east-1", 60)
    clocks.set_waiting({"t:2"})
    assert clocks.frontier() is None
    clocks.set_waiting(set())
    clocks.set_idle({"t:1"})
    assert clocks.frontier() == 594
    clocks.forget_input("t:0")
    assert clocks.frontier() is None and clocks.input_newest("t:0") is None


def test_state_round_trips() -> None:
    clocks = SourceClocks(lateness=5, idle_minutes=30)
    clocks.observe("t:0", "1", "us-east-1", 600)
    clocks.observe("t:0", "2", "us-east-1", 500)
    clocks.frontier()
    again = SourceClocks(lateness=5, idle_minutes=30)
    again.load_state(clocks.to_state())
    assert again.to_state() == clocks.to_state()
    assert again.frontier() == clocks.frontier() == 594
    assert again.input_newest("t:0") == 600


SOURCES = [("111111111111", "us-east-1"), ("222222222222", "eu-west-1"), ("333333333333", "us-east-1")]


@settings(max_examples=40, deadline=None)
@given(
    per_source=st.lists(st.lists(st.integers(0, 40), min_size=1, max_size=30), min_size=3, max_size=3),
    interleave=st.lists(st.integers(0, 2), max_size=90),
    batch=st.integers(1, 25),
)
def test_which_records_are_late_depends_only_on_each_sources_own_order(
    per_source: list[list[int]], interleave: list[int], batch: int
) -> None:
    """However the sources interleave and however records are batched, a record is late exactly
    when it is more than the lateness older than the newest its own source sent before it. (Each
    source speaks first before the others go on: a source never seen cannot hold minutes open.)"""
    lateness, base = 5, 28_000_000
    queues = [
        [record(base + m, account=a, region=r) for m in minutes]
        for (a, r), minutes in zip(SOURCES, per_source, strict=True)
    ]
    expected_late = 0
    for minutes in per_source:
        newest = -1
        for m in minutes:
            expected_late += newest >= 0 and m < newest - lateness
            newest = max(newest, m)
    order = [queue.pop(0) for queue in queues]
    for pick in interleave + [0, 1, 2] * 30:
        if queues[pick]:
            order.append(queues[pick].pop(0))
    # No source falls silent here (idle beyond the span): only the sources' own order counts.
    engine = Engine(EngineConfig(allowed_lateness_minutes=lateness, source_idle_minutes=10_000))
    for start in range(0, len(order), batch):
        engine.process_classified([classify(order[start : start + batch], False, {})])
    assert engine.normaliser.skipped["late"] == expected_late
