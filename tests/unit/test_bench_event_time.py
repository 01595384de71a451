"""The event-time bench's comparison of reads (bench/event_time_parts/compare.py, trace.py): it must
see an insight one read lacks, name the fields where shared events differ, and never call the
reads equal when they are not; an Insight event built by the real engine is the material."""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

from bench.event_time_parts.compare import compare_insights, differing_paths
from bench.event_time_parts.reads import Read, failures
from bench.event_time_parts.trace import same_records
from bench.throughput.outcome import Outcome
from insights.decode import Decoder
from insights.engine import Engine
from insights.events import insight_event
from tests.runtime_harness import ENGINE, traffic


def engine_events() -> dict[str, Any]:
    """The Insight events the engine finds in the runtime harness's traffic, by eventID."""
    engine, decoder = Engine(ENGINE), Decoder()
    transitions = [t for m in traffic() for t in engine.process(decoder.decode(m).records)]
    events = [json.loads(json.dumps(insight_event(t))) for t in [*transitions, *engine.finish()]]
    return {e["eventID"]: e for e in events}


def test_identical_reads_share_every_event_id_and_body() -> None:
    events = engine_events()
    assert events, "the harness traffic raises insights"
    result = compare_insights({"a": events, "b": copy.deepcopy(events), "c": copy.deepcopy(events)})
    assert result.same_event_ids
    assert result.common == set(events)
    assert result.differing == {"b": 0, "c": 0}
    assert not result.fields and not result.differing_events


def test_a_missing_insight_and_a_changed_statistic_are_both_reported() -> None:
    events = engine_events()
    dropped, changed = sorted(events)[:2]
    other = copy.deepcopy(events)
    del other[dropped]
    stats = other[changed]["insightDetails"]["insightContext"]["statistics"]
    stats["baseline"]["average"] += 1.0
    reads = [Read("x", "replay", _outcome(events), 1.0), Read("x", "run", _outcome(other), 1.0)]
    result = compare_insights({r.name: r.outcome.bodies for r in reads})

    assert not result.same_event_ids
    assert result.missing("x run") == {dropped} and result.missing("x replay") == set()
    assert result.differing == {"x run": 1}
    assert result.described.keys() == {dropped}
    assert result.described[dropped].startswith(events[dropped]["insightDetails"]["state"])
    path = "insightDetails.insightContext.statistics.baseline.average"
    assert result.fields == Counter({path: 1})
    state = events[changed]["insightDetails"]["state"]
    assert result.differing_events == Counter({state: 1})
    assert result.examples[path][:2] == ("x run", changed)
    assert failures(reads, result, 0.001) == ["x run: 1 eventIDs of other reads missing"]


def test_lists_of_another_length_are_named_whole_and_missing_keys_by_their_path() -> None:
    a = {"s": [1, 2], "k": {"x": 1, "y": 2}}
    b = {"s": [1], "k": {"x": 1}}
    assert differing_paths(a, b) == {"s": ([1, 2], [1]), "k.y": (2, None)}


def test_a_stalled_run_late_shares_above_the_limit_and_no_insight_at_all_fail() -> None:
    quiet = Outcome("q", 10_000, {"late": 11}, {})
    stalled = Read("realistic", "run", Outcome("run", 0, {}, {}), 600.0, "no caught_up within 600 s")
    result = compare_insights({"q": {}})
    assert failures([Read("in-order", "run", quiet, 1.0), stalled], result, 0.001) == [
        "realistic run: no caught_up within 600 s",
        "in-order run: late share 0.110 % > 0.100 %",
        "no Insight event in any read: nothing was compared (give more --days)",
    ]


def test_the_deliveries_must_hold_the_same_records_as_often() -> None:
    assert same_records(Counter({"a": 2, "b": 1}), Counter({"b": 1, "a": 2})) is None
    assert (
        same_records(Counter({"a": 2}), Counter({"a": 1}))
        == "1 record(s) only in the first, 0 only in the second"
    )


def _outcome(bodies: dict[str, Any]) -> Outcome:
    outcome = Outcome("o", 1000, {}, {})
    outcome.take_events(json.dumps(b) for b in bodies.values())
    return outcome
