"""Insight event records: deterministic ids, stable bytes, never NaN/inf, attributions as AWS cuts them.

Conformance to AWS's schema and published examples is in ``test_event_schema.py``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import msgspec
import pytest

from insights.events import (
    MAX_ATTRIBUTION_VALUES,
    encode_event,
    encode_events_jsonl,
    event_id,
    insight_event,
    round_average,
    shared_event_id,
)
from insights.reason import StartReason
from tests.insight_transitions import (
    MINUTE_2024_12_11_16_52,
    NO_VALUES,
    assert_clean_averages,
    attr,
    call_rate,
    details,
    error_rate_start,
)
from tests.schema import assert_insight_shape


def test_ids_are_deterministic_and_distinguish_what_they_should() -> None:
    start, end = error_rate_start(), error_rate_start(state="End", event_minute=MINUTE_2024_12_11_16_52 + 6)
    a, b = insight_event(start), insight_event(end)
    assert insight_event(start) == a and shared_event_id(start) == a["sharedEventID"]
    assert a["sharedEventID"] == b["sharedEventID"]
    assert a["eventID"] != b["eventID"]
    assert a["eventID"] == event_id(shared_event_id(start), "Start")
    others = [
        replace(start, insight_type="ApiCallRateInsight", error_code=None),
        replace(start, account_id="111111111111"),
        replace(start, region="eu-west-1"),
        replace(start, event_source="s3.amazonaws.com"),
        replace(start, event_name="GetQueryResults"),
        replace(start, error_code="AccessDenied"),
        replace(start, start_minute=start.start_minute + 1, event_minute=start.event_minute + 1),
    ]
    ids = {shared_event_id(t) for t in [start, *others]}
    assert len(ids) == len(others) + 1
    # Things that do not identify the insight leave the id alone.
    same = replace(start, insight_average=99.0, decided_minute=start.decided_minute + 3, attributions=())
    assert shared_event_id(same) == shared_event_id(start)


def test_fields_cannot_run_into_each_other_in_the_id() -> None:
    one = call_rate(event_source="a.amazonaws.com", event_name="bc")
    two = call_rate(event_source="a.amazonaws.comb", event_name="c")
    assert shared_event_id(one) != shared_event_id(two)


def test_encoding_is_byte_identical_and_round_trips() -> None:
    records = [insight_event(error_rate_start()), insight_event(call_rate(state="End"))]
    blob = encode_event(records[0])
    assert blob == encode_event(insight_event(error_rate_start())) and not blob.endswith(b"\n")
    assert blob.startswith(b'{"eventVersion":"1.09","eventTime":"2024-12-11T16:52:00Z"')
    assert msgspec.json.decode(blob) == records[0]
    lines = encode_events_jsonl(records)
    assert lines == encode_events_jsonl(records) and lines.endswith(b"\n")
    assert lines.split(b"\n") == [encode_event(records[0]), encode_event(records[1]), b""]
    assert encode_events_jsonl([]) == b""


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -3.0, -0.0])
def test_no_nan_inf_or_negativeaverages(bad: float) -> None:
    t = call_rate(
        baseline_average=bad,
        insight_average=bad,
        attributions=(attr("userAgent", [("a", bad), ("b", 2.0)], [("c", bad)]),),
    )
    record = insight_event(t)
    assert_insight_shape(record)
    assert_clean_averages(record)
    blob = encode_event(record)
    for token in (b"NaN", b"Infinity", b"null", b'"average":-'):
        assert token not in blob, token
    stats = details(record)["insightContext"]["statistics"]
    assert stats["baseline"]["average"] == 0.0 and stats["insight"]["average"] == 0.0


def test_round_average_is_ten_significant_digits_and_finite() -> None:
    assert round_average(85.42023809523809) == 85.4202381
    assert round_average(8.82145e-05) == 8.82145e-05
    assert round_average(1 / 3) == 0.3333333333
    assert round_average(5) == 5.0 and isinstance(round_average(5), float)
    assert round_average(1.7976931348623157e308) == 1.7976931348623157e308  # rounding would overflow
    assert round_average(5e-324) > 0


def test_attribution_values_are_sorted_and_cut_to_five() -> None:
    rows = [(f"v{i}", float(i)) for i in range(8)]
    record = insight_event(call_rate(attributions=(attr("userAgent", rows, [("x", 1.0), ("y", 1.0)]),)))
    assert_insight_shape(record)
    (attribution,) = details(record)["insightContext"]["attributions"]
    assert [r["value"] for r in attribution["insight"]] == ["v7", "v6", "v5", "v4", "v3"]
    assert len(attribution["insight"]) == MAX_ATTRIBUTION_VALUES
    assert [r["value"] for r in attribution["baseline"]] == ["x", "y"]  # ties keep the given order


def test_error_code_attribution_only_on_call_rate() -> None:
    code = attr("errorCode", [("QueryIdNotFoundException", 1.2)], [])
    record = insight_event(error_rate_start(attributions=(*error_rate_start().attributions, code)))
    names = [a["attribute"] for a in details(record)["insightContext"]["attributions"]]
    assert names == ["userIdentityArn", "userAgent"]
    details(record)["insightContext"]["attributions"].append({"attribute": "errorCode", **NO_VALUES})
    with pytest.raises(AssertionError, match="errorCode"):
        assert_insight_shape(record)
    call = insight_event(call_rate())
    names = [a["attribute"] for a in details(call)["insightContext"]["attributions"]]
    assert names == ["userIdentityArn", "userAgent", "errorCode"]
    assert "errorCode" not in details(call)


def test_malformed_transitions_raise() -> None:
    with pytest.raises(ValueError, match="error_code"):
        insight_event(error_rate_start(error_code=None))
    with pytest.raises(ValueError, match="attribute"):
        insight_event(call_rate(attributions=(attr("sourceIPAddress", [], []),)))


def test_durations_are_at_least_one_minute() -> None:
    record = insight_event(call_rate(insight_duration=0, baseline_duration=-4))
    assert_insight_shape(record)
    stats = details(record)["insightContext"]["statistics"]
    assert (stats["insightDuration"], stats["baselineDuration"]) == (1, 1)


REASON = StartReason("sustained_rise", 45, 310.0, 96.0, 11.52, 7.0, "rising")


def test_the_reason_is_left_out_unless_asked_for_and_never_changes_an_id() -> None:
    start = call_rate(reason=REASON)
    plain = insight_event(start)
    assert encode_event(plain) == encode_event(insight_event(replace(start, reason=None)))
    assert "trailpulse" not in plain
    assert_insight_shape(plain)
    explained = insight_event(start, reason=True)
    assert list(explained)[-1] == "trailpulse" and list(explained)[:-1] == list(plain)
    assert {k: v for k, v in explained.items() if k != "trailpulse"} == plain
    assert explained["trailpulse"] == {
        "reason": {
            "rule": "sustained_rise",
            "windowMinutes": 45,
            "observed": 310.0,
            "expected": 96.0,
            "reference": "rising",
            "surprise": 11.52,
            "tailProbability": 3.02e-12,
            "threshold": 7.0,
        }
    }
    assert msgspec.json.decode(encode_event(explained)) == explained


def test_only_a_start_with_a_reason_carries_one() -> None:
    end = call_rate(state="End", event_minute=MINUTE_2024_12_11_16_52 + 5, reason=REASON)
    assert "trailpulse" not in insight_event(end, reason=True)
    assert "trailpulse" not in insight_event(call_rate(), reason=True)
    spike = replace(REASON, rule="spike", window_minutes=1, reference="burst", peak=40.0)
    record: Any = insight_event(call_rate(reason=spike), reason=True)
    assert record["trailpulse"]["reason"]["peak"] == 40.0
