"""The Kafka bench's judgement of a run (bench/throughput/outcome.py), on the lines the real daemon and
replay write: a bench that misread them would call a daemon that skips records cheap, or differ for
nothing."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from bench.throughput.outcome import MAX_LATE_SHARE, Comparison, Outcome, compare, from_checkpoint
from bench.throughput.outcome import from_replay_summary as replay_outcome
from consumers.files.replay import ReplaySummary
from consumers.kafka.memory import EOF
from insights.config import EngineConfig
from insights.engine import Engine
from tests.runtime_harness import OUTPUT, SOURCE, Harness, expected_event_ids, traffic


def test_a_daemon_run_is_read_from_its_final_checkpoint_line_and_its_output_topic() -> None:
    harness = Harness()
    harness.cluster.produce(SOURCE, [*traffic(), EOF])
    harness.start().run_to_eof()
    run = from_checkpoint(harness.events("checkpoint")[-1], "run")
    run.take_events(value or b"" for value in harness.cluster.values(OUTPUT))

    assert run.records == sum(len(json.loads(m)["Records"]) for m in traffic())
    assert run.rejected == {}
    assert run.states["Start"] > 0 and run.states["End"] > 0
    assert run.claimed == {"Start": run.states["Start"], "End": run.states["End"]}
    assert run.event_ids == set(expected_event_ids(traffic()))
    assert not any(line.startswith("  warning") for line in run.lines())


def test_rejects_and_skips_of_the_checkpoint_line_are_kept_by_reason() -> None:
    line = {
        "event": "checkpoint",
        "counts": {"records": 2000, "rejected.invalid_json": 3, "insights.start": 1, "messages": 9},
        "skipped": {"late": 1500, "duplicate": 2},
    }
    run = from_checkpoint(line, "run")
    assert (run.records, run.rejected, run.skipped) == (2000, {"invalid_json": 3}, line["skipped"])
    assert run.late_share == 0.75
    assert run.claimed == {"Start": 1, "End": 0}
    assert "  warning: the process counted 1 Start, 0 End" in run.lines()  # none read back


def test_the_replay_summary_line_is_read_back_by_reason() -> None:
    summary = ReplaySummary(
        files=3,
        records=1000,
        rejected=Counter(invalid_json=2),
        skipped=Counter(late=7, other_files=1),
        emitted=Counter({("ApiCallRateInsight", "Start"): 4, ("ApiCallRateInsight", "End"): 3}),
    )
    replay = replay_outcome(summary.line(Engine(EngineConfig())), "replay")
    assert (replay.records, replay.rejected) == (1000, {"invalid_json": 2})
    assert replay.skipped == {"late": 7, "other_files": 1}
    assert replay.late_share == pytest.approx(0.007)
    assert replay.claimed == {"Start": 4, "End": 3}
    with pytest.raises(ValueError, match="not a replay summary"):
        replay_outcome("trailpulse replay: stopped by SIGTERM", "replay")


def event(event_id: str, state: str, minute: str = "2026-01-07T11:15:00Z") -> bytes:
    return json.dumps({"eventID": event_id, "eventTime": minute, "insightDetails": {"state": state}}).encode()


def outcome(late: int, ids: list[tuple[str, str]], closed_through: str | None = None) -> Outcome:
    result = Outcome("x", 100_000, {"late": late}, {}, closed_through=closed_through)
    result.take_events(event(i, s) for i, s in ids)
    return result


def test_insights_differ_by_eventid_and_count_each_side() -> None:
    replay = outcome(0, [("a", "Start"), ("b", "End"), ("c", "Start")])
    run = outcome(0, [("a", "Start"), ("d", "Start"), ("e", "End")])
    comparison = compare(run, replay)
    assert (comparison.only_in_run, comparison.only_in_replay) == (2, 2)
    assert comparison.failures() == ["insights differ: 2 only in the run, 2 only in the replay"]
    assert compare(replay, replay).same_insights
    assert compare(outcome(0, []), outcome(0, [])).failures() == []


def test_replay_events_after_the_runs_last_closed_minute_are_pending_not_missing() -> None:
    replay = outcome(0, [("a", "Start")])
    replay.take_events([event("late-edge", "Start", "2026-01-07T11:16:00Z")])
    assert compare(outcome(0, [("a", "Start")], "2026-01-07T11:15:00Z"), replay).failures() == []
    comparison = compare(outcome(0, [("a", "Start")], "2026-01-07T11:15:00Z"), replay)
    assert (comparison.only_in_replay, comparison.pending_in_run) == (0, 1)
    pending = "pending in the run (closed through 2026-01-07T11:15:00Z): Start 2026-01-07T11:16"
    assert pending in comparison.line()
    judged = compare(outcome(0, [("a", "Start")], "2026-01-07T11:16:00Z"), replay)
    assert (judged.only_in_replay, judged.pending_in_run) == (1, 0)  # its minute was closed: missing
    assert compare(outcome(0, [("a", "Start")]), replay).only_in_replay == 1  # closed minute unknown


def test_the_checkpoint_line_names_the_last_closed_minute() -> None:
    harness = Harness()
    harness.cluster.produce(SOURCE, [*traffic(), EOF])
    harness.start().run_to_eof()
    last = harness.events("checkpoint")[-1]
    run = from_checkpoint(last, "run")
    run.take_events(value or b"" for value in harness.cluster.values(OUTPUT))
    assert run.closed_through is not None and run.closed_through.endswith(":00Z")
    ends = [body["eventTime"] for body in run.bodies.values() if body["insightDetails"]["state"] == "End"]
    assert ends and max(ends) <= run.closed_through  # an End is decided on closed minutes only


def test_a_late_share_above_the_limit_fails_even_with_the_same_insights() -> None:
    at_limit = round(MAX_LATE_SHARE * 100_000)
    assert compare(outcome(at_limit, []), outcome(0, [])).failures() == []
    failed = compare(outcome(at_limit + 1, []), outcome(0, [])).failures()
    assert failed == ["late share of the run 0.101 % > 0.100 %"]
    assert Comparison(0, 0, 0.5, 0.0).failures(max_late_share=0.6) == []


def test_an_eventid_read_twice_is_reported() -> None:
    run = outcome(0, [("a", "Start"), ("a", "Start")])
    assert run.events == 2 and run.event_ids == {"a"}
    assert "  warning: 1 events repeat an eventID" in run.lines()
