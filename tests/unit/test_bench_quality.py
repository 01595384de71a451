"""The quality bench's scoring (bench/quality_parts) on hand-built labels and transitions: recall by kind
and tier, true and false Starts, decoy trips kept apart, delays from the deciding minute."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from bench.quality import detector_params
from bench.quality_parts.ceiling import (
    anomaly_realised_z,
    earliest_reach,
    reach_z,
    realised_counts,
    realised_minutes,
    within_reach,
)
from bench.quality_parts.report import summary
from bench.quality_parts.score import SLACK, TAIL, TraceScore, score
from bench.trace_anomaly import find_label, key_of
from insights.transition import InsightTransition

API = {"account": "111122223333", "region": "us-east-1", "eventSource": "ec2.amazonaws.com"}


def _anomaly(
    kind: str, tier: str, name: str, start: int, end: int, code: str | None = None
) -> dict[str, Any]:
    insight = "ApiErrorRateInsight" if code else "ApiCallRateInsight"
    return API | {
        "kind": kind,
        "tier": tier,
        "z": 9.0 if tier == "clear" else 5.0,
        "eventName": name,
        "insightType": insight,
        "errorCode": code,
        "start_minute": start,
        "end_minute": end,
        "start": str(start),
    }


def _start(name: str, start: int, decided: int, code: str | None = None) -> InsightTransition:
    return InsightTransition(
        state="Start",
        insight_type="ApiErrorRateInsight" if code else "ApiCallRateInsight",
        account_id=API["account"],
        region=API["region"],
        event_source=API["eventSource"],
        event_name=name,
        error_code=code,
        source_event_category="Management",
        direction="up",
        start_minute=start,
        event_minute=start,
        decided_minute=decided,
        baseline_average=1.0,
        baseline_duration=10080,
        insight_average=5.0,
        insight_duration=1,
        attributions=(),
    )


LABELS: dict[str, Any] = {
    "anomalies": [
        _anomaly("low_rate_rise", "clear", "RunInstances", 1000, 1060),
        _anomaly("low_rate_rise", "edge", "RunInstances", 2000, 2030),
        _anomaly("known_code_surge", "clear", "DescribeVolumes", 1000, 1020, "Throttling"),
        _anomaly("spike", "edge", "CreateTags", 3000, 3002),
    ],
    "decoys": [API | {"kind": "trend", "eventName": "CreateVolume", "start_minute": 500, "end_minute": 4000}],
}


def test_recall_by_kind_and_tier_with_precision_and_decoy_trips() -> None:
    found = [
        _start("RunInstances", 1000 - SLACK, 1003),  # detected, 3 minutes after the start
        _start("RunInstances", 1060 + TAIL - 1, 1080),  # later in the tail: true, not a second detection
        _start("DescribeVolumes", 1005, 1010),  # wrong insight type: true (tail rule), not a detection
        _start("DescribeVolumes", 1005, 1009, "Throttling"),  # detected, delay 9
        _start("CreateVolume", 3999, 4000),  # decoy trip
        _start("CreateTags", 5000, 5001),  # false
    ]
    result = score(LABELS, found)
    assert dict(result.found) == {
        ("low_rate_rise", "clear"): [1, 1],
        ("low_rate_rise", "edge"): [0, 1],
        ("known_code_surge", "clear"): [1, 1],
        ("spike", "edge"): [0, 1],
    }
    assert (result.starts, result.true_starts, len(result.false), len(result.decoy_trips)) == (6, 4, 1, 1)
    assert result.decoy_trips[0].startswith("trend:") and dict(result.delays) == {
        "low_rate_rise": [3],
        "known_code_surge": [9],
    }
    clean = score({"anomalies": [], "decoys": LABELS["decoys"]}, [_start("CreateVolume", 600, 601)])
    figures = summary(result, clean, api_days=100.0, decoys=1)
    assert figures["recall_clear"] == 1.0 and figures["recall_edge"] == 0.0 and figures["recall"] == 0.5
    assert figures["recall_by_kind_tier"]["low_rate_rise/edge"] == "0/1"
    assert figures["precision"] == 0.6667 and figures["decoy_trips"] == 2
    assert figures["false_starts_per_api_day"] == 0.0  # a decoy trip is not a false Start
    assert figures["delay_minutes"] == {"median": 6.0, "p90": 3}


def test_starts_before_the_slack_or_after_the_tail_are_false() -> None:
    found = [_start("RunInstances", 1000 - SLACK - 1, 999), _start("RunInstances", 1060 + TAIL, 1076)]
    result = score(LABELS, found)
    assert (
        result.true_starts == 0
        and len(result.false) == 2
        and result.found["low_rate_rise", "clear"] == [0, 1]
    )


def test_scores_add_up_across_seeds() -> None:
    total = TraceScore()
    for _ in range(2):
        total.add(score(LABELS, [_start("CreateTags", 3000, 3001)]))
    assert total.found["spike", "edge"] == [2, 2] and total.delays["spike"] == [1, 1] and total.starts == 2


def test_detector_knobs_are_set_by_name_and_checked() -> None:
    params = detector_params(6.0, ["evidence_rise_ratio=1.5", "sustained_minutes=7"])
    assert (params.evidence_surprise, params.evidence_rise_ratio, params.sustained_minutes) == (6.0, 1.5, 7)
    with pytest.raises(ValueError, match="not a \\[detector\\] knob"):
        detector_params(6.0, ["rise_ratio=2"])
    with pytest.raises(ValueError):
        detector_params(6.0, ["evidence_rise_ratio=0.5"])  # its bounds: > 1


def test_recall_within_the_ceiling_counts_only_the_anomalies_within_reach() -> None:
    found = [_start("RunInstances", 1000, 1003), _start("CreateTags", 3000, 3001)]
    result = score(LABELS, found, reachable=[True, True, False, False])
    assert dict(result.reachable) == {"clear": [1, 1], "edge": [1, 0]}
    assert result.missed == [
        "low_rate_rise/edge z=5.0:RunInstances:None@2000 (within ceiling)",
        "known_code_surge/clear z=9.0:DescribeVolumes:Throttling@1000 (beyond ceiling)",
    ]
    figures = summary(result, TraceScore(), api_days=1.0, decoys=0)
    assert figures["ceiling_by_tier"] == {"clear": "1/2", "edge": "1/2"}
    assert figures["recall_within_ceiling_by_tier"] == {"clear": "1/1", "edge": "0/1"}


def test_the_delay_is_reported_beside_its_floor_for_the_same_anomalies() -> None:
    """Floors count for every anomaly within the ceiling; the pairs only for those found (the
    spike's floor is 0, it was found a minute later; the edge rise within reach was missed)."""
    found = [_start("RunInstances", 1000, 1003), _start("CreateTags", 3000, 3001)]
    result = score(LABELS, found, reachable=[True, True, False, True], floors=[2, 7, None, 0])
    assert result.paired_delays == [(3, 2), (1, 0)] and result.floors == [2, 7, 0]
    figures = summary(result, TraceScore(), api_days=1.0, decoys=0)
    assert figures["delay_vs_floor_minutes"] == {
        "anomalies": 2,
        "delay": {"median": 2.0, "p90": 1},
        "floor": {"median": 1.0, "p90": 0},
    }
    assert figures["delay_floor_within_ceiling_minutes"] == {"median": 2.0, "p90": 2}


def test_the_delay_floor_is_the_first_minute_the_window_so_far_is_within_reach() -> None:
    """A step of 3 calls a minute over 1 (sd 1 a minute): 9 calls in its first minute are z 8 at
    once; 2, 5, 5, 5 reach z 6.5 only with the fourth minute (12 in three is z 5.2, short of 5.26);
    3 a minute never gets there within the window. A new code failing once a week reaches the
    threshold with its second failure, by the likelihood ratio."""
    step = _anomaly("step", "clear", "RunInstances", 0, 4) | {
        "direction": "up",
        "rate": 3.0,
        "baseline_rate": 1.0,
        "z": 4.0,
    }
    assert [earliest_reach(step, m, 6.0) for m in ([9, 9, 9, 9], [2, 5, 5, 5], [3, 3, 3, 3])] == [0, 3, None]
    new_code = _anomaly("error_new_code", "edge", "RunInstances", 0, 5, "AccessDenied") | {
        "direction": "up",
        "rate": 0.9,
        "baseline_rate": 0.0001,
        "z": 4.5,
    }
    assert earliest_reach(new_code, [0, 1, 0, 1, 0], 6.0) == 3


def _log_file(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))


def _record(name: str, minute_of_day: int, code: str | None = None) -> dict[str, Any]:
    return {
        "eventTime": f"2026-01-05T{minute_of_day // 60:02d}:{minute_of_day % 60:02d}:30Z",
        "recipientAccountId": API["account"],
        "awsRegion": API["region"],
        "eventSource": API["eventSource"],
        "eventName": name,
        "errorCode": code,
    }


def test_realised_counts_and_z_read_the_anomalys_window_from_the_trace(tmp_path: Path) -> None:
    day = 29_459_520  # 2026-01-05T00:00Z in epoch minutes
    place = tmp_path / "AWSLogs" / API["account"] / "CloudTrail" / API["region"] / "2026" / "01" / "05"
    inside = [_record("RunInstances", 600 + i % 10) for i in range(30)]
    around = [_record("RunInstances", 599), _record("RunInstances", 610), _record("StopInstances", 605)]
    failures = [_record("RunInstances", 605, "Throttling"), _record("RunInstances", 606, "AccessDenied")]
    _log_file(place / "a.json.gz", inside[:20] + around)
    _log_file(place / "b.json.gz", inside[20:] + failures)
    rise = _anomaly("step", "clear", "RunInstances", day + 600, day + 610) | {
        "direction": "up",
        "rate": 3.0,
        "baseline_rate": 1.0,
        "z": 5.0,
    }
    surge = _anomaly("known_code_surge", "clear", "RunInstances", day + 600, day + 610, "Throttling")
    counts = realised_counts(tmp_path, [rise, surge])
    assert counts == [32, 1]  # every call in the window, failures too; only that code's failures
    # minute by minute: 3 calls in each minute of 600-609 (30 spread over ten), 1 more at 605, 606, 610
    assert realised_minutes(tmp_path, [rise, surge]) == [
        [3, 3, 3, 3, 3, 4, 4, 3, 3, 3],
        [0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
    ]
    # 20 extra calls expected in a standard deviation of 4; the trace holds 22.
    assert anomaly_realised_z(rise, counts[0]) == pytest.approx(5.5)
    assert anomaly_realised_z(rise | {"direction": "down"}, counts[0]) == pytest.approx(-5.5)
    assert reach_z(6.0) < anomaly_realised_z(rise, counts[0])


def test_within_reach_by_either_reading_of_the_count() -> None:
    """A step's 22 extra calls in a standard deviation of 4 reach the threshold by their z (5.5); a
    code failing once a week that fails twice in five minutes has a z of 2 (the window z's floor of
    one count) and is a one-in-ten-million event, within reach by its likelihood ratio; 4 extra
    calls in that step are in neither."""
    step = _anomaly("step", "clear", "RunInstances", 0, 10) | {
        "direction": "up",
        "rate": 3.0,
        "baseline_rate": 1.0,
        "z": 5.0,
    }
    new_code = _anomaly("error_new_code", "edge", "RunInstances", 0, 5, "AccessDenied") | {
        "direction": "up",
        "rate": 0.9,
        "baseline_rate": 0.0001,
        "z": 4.5,
    }
    assert within_reach(step, 32, 6.0) and not within_reach(step, 14, 6.0)
    assert anomaly_realised_z(new_code, 2) == pytest.approx(2.0, abs=0.01)
    assert within_reach(new_code, 2, 6.0) and not within_reach(new_code, 0, 6.0)


def test_the_anomaly_tracer_finds_a_label_by_id_or_as_verbose_prints_it_and_names_its_key() -> None:
    surge = _anomaly("known_code_surge", "clear", "DescribeVolumes", 1000, 1020, "Throttling") | {
        "id": "a001",
        "start": "2026-01-07T03:57:00Z",
    }
    labels = {"anomalies": [LABELS["anomalies"][0] | {"id": "a000", "start": "x"}, surge]}
    assert find_label(labels, "a001") is surge
    assert find_label(labels, "DescribeVolumes@2026-01-07T03:57:00Z") is surge
    with pytest.raises(SystemExit):
        find_label(labels, "a002")
    api = (API["account"], API["region"], API["eventSource"], "DescribeVolumes")
    assert key_of(surge) == (*api, "Throttling")
    assert key_of(LABELS["anomalies"][0]) == (*api[:3], "RunInstances")
