"""Insight event records: AWS shape, deterministic ids, stable bytes, never NaN/inf."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insights.events import (
    MAX_ATTRIBUTION_VALUES,
    encode_event,
    encode_events_jsonl,
    event_id,
    insight_event,
    round_average,
    shared_event_id,
)
from insights.transition import Attribution, AttributionValue, InsightTransition, InsightType
from tests.schema import assert_insight_shape, key_structure, reference_examples

MINUTE_2024_12_11_16_52 = 28_898_932
ADMIN = "arn:aws:sts::888888888888:assumed-role/Admin"
BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
_NO_VALUES: dict[str, Any] = {"insight": [], "baseline": []}


def _attr(name: str, insight: list[tuple[str, float]], baseline: list[tuple[str, float]]) -> Attribution:
    return Attribution(
        name,
        tuple(AttributionValue(v, a) for v, a in insight),
        tuple(AttributionValue(v, a) for v, a in baseline),
    )


def _details(record: dict[str, object]) -> Any:
    """``insightDetails`` typed loosely, for reading nested fields in tests."""
    return record["insightDetails"]


def _averages(record: dict[str, object]) -> list[float]:
    """Every average in a record: statistics and attribution values."""
    context = _details(record)["insightContext"]
    stats = context["statistics"]
    rows = [row for a in context["attributions"] for side in ("insight", "baseline") for row in a[side]]
    return [stats["baseline"]["average"], stats["insight"]["average"], *(row["average"] for row in rows)]


def _assert_clean_averages(record: dict[str, object]) -> None:
    for x in _averages(record):
        assert isinstance(x, float) and math.isfinite(x) and x >= 0 and math.copysign(1.0, x) == 1.0, x


def error_rate_start(**changes: Any) -> InsightTransition:
    """A transition mirroring AWS's 1.09 error-rate Start example."""
    t = InsightTransition(
        state="Start",
        insight_type="ApiErrorRateInsight",
        account_id="888888888888",
        region="us-east-1",
        event_source="cloudtrail.amazonaws.com",
        event_name="DescribeQuery",
        error_code="QueryIdNotFoundException",
        source_event_category="Management",
        direction="up",
        start_minute=MINUTE_2024_12_11_16_52,
        event_minute=MINUTE_2024_12_11_16_52,
        decided_minute=MINUTE_2024_12_11_16_52 + 1,
        baseline_average=0.0,
        baseline_duration=11092,
        insight_average=1.2,
        insight_duration=5,
        attributions=(
            _attr("userIdentityArn", [(ADMIN, 1.2)], []),
            _attr("userAgent", [(BROWSER, 1.2)], []),
        ),
    )
    return replace(t, **changes)


def call_rate(**changes: Any) -> InsightTransition:
    """A call-rate transition with all three attributions, like AWS's older examples."""
    role = "arn:aws:sts::012345678901:assumed-role/CodeDeployRole"
    t = error_rate_start(
        insight_type="ApiCallRateInsight",
        error_code=None,
        event_source="autoscaling.amazonaws.com",
        event_name="CompleteLifecycleAction",
        baseline_average=8.82145e-05,
        insight_average=0.6,
        attributions=(
            _attr("userIdentityArn", [(f"{role}{i}", 0.2) for i in (1, 2, 3)], [(f"{role}1", 8.82145e-05)]),
            _attr(
                "userAgent", [("codedeploy.amazonaws.com", 0.6)], [("codedeploy.amazonaws.com", 8.82145e-05)]
            ),
            _attr("errorCode", [("null", 0.6)], [("null", 8.82145e-05)]),
        ),
    )
    return replace(t, **changes)


@pytest.mark.parametrize("state", ["Start", "End"])
@pytest.mark.parametrize("make", [error_rate_start, call_rate])
@pytest.mark.parametrize("with_attributions", [True, False])
def test_records_have_the_aws_shape(state: str, make: Any, with_attributions: bool) -> None:
    t = make(state=state)
    if not with_attributions:
        t = replace(t, attributions=())
    record = insight_event(t)
    assert_insight_shape(record)
    assert _details(record)["state"] == state


def test_reference_examples_pass_the_checker() -> None:
    """1.09 examples pass the strict check; older ones only the legacy one, because they lack
    ``sourceEventCategory`` (and sometimes durations/attributions) and use placeholder ids."""
    examples = reference_examples()
    assert {r["eventVersion"] for r in examples} >= {"1.07", "1.08", "1.09"}
    for record in examples:
        if record["eventVersion"] == "1.09":
            assert_insight_shape(record)
        else:
            assert_insight_shape(record, legacy=True)
            with pytest.raises(AssertionError):
                assert_insight_shape(record)


def test_mirror_of_the_aws_error_rate_example_has_its_exact_structure() -> None:
    aws = next(r for r in reference_examples() if r["eventVersion"] == "1.09")
    ours = insight_event(error_rate_start())
    assert key_structure(ours) == key_structure(aws)
    for key in ("eventVersion", "eventTime", "awsRegion", "eventType", "recipientAccountId", "eventCategory"):
        assert ours[key] == aws[key]
    details, aws_details = dict(_details(ours)), dict(aws["insightDetails"])
    assert details.pop("insightContext") == aws_details.pop("insightContext")
    assert details == aws_details


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
def test_no_nan_inf_or_negative_averages(bad: float) -> None:
    t = call_rate(
        baseline_average=bad,
        insight_average=bad,
        attributions=(_attr("userAgent", [("a", bad), ("b", 2.0)], [("c", bad)]),),
    )
    record = insight_event(t)
    assert_insight_shape(record)
    _assert_clean_averages(record)
    blob = encode_event(record)
    for token in (b"NaN", b"Infinity", b"null", b'"average":-'):
        assert token not in blob, token
    stats = _details(record)["insightContext"]["statistics"]
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
    record = insight_event(call_rate(attributions=(_attr("userAgent", rows, [("x", 1.0), ("y", 1.0)]),)))
    assert_insight_shape(record)
    (attribution,) = _details(record)["insightContext"]["attributions"]
    assert [r["value"] for r in attribution["insight"]] == ["v7", "v6", "v5", "v4", "v3"]
    assert len(attribution["insight"]) == MAX_ATTRIBUTION_VALUES
    assert [r["value"] for r in attribution["baseline"]] == ["x", "y"]  # ties keep the given order


def test_error_code_attribution_only_on_call_rate() -> None:
    code = _attr("errorCode", [("QueryIdNotFoundException", 1.2)], [])
    record = insight_event(error_rate_start(attributions=(*error_rate_start().attributions, code)))
    names = [a["attribute"] for a in _details(record)["insightContext"]["attributions"]]
    assert names == ["userIdentityArn", "userAgent"]
    _details(record)["insightContext"]["attributions"].append({"attribute": "errorCode", **_NO_VALUES})
    with pytest.raises(AssertionError, match="errorCode"):
        assert_insight_shape(record)
    call = insight_event(call_rate())
    names = [a["attribute"] for a in _details(call)["insightContext"]["attributions"]]
    assert names == ["userIdentityArn", "userAgent", "errorCode"]
    assert "errorCode" not in _details(call)


def test_malformed_transitions_raise() -> None:
    with pytest.raises(ValueError, match="error_code"):
        insight_event(error_rate_start(error_code=None))
    with pytest.raises(ValueError, match="attribute"):
        insight_event(call_rate(attributions=(_attr("sourceIPAddress", [], []),)))


def test_durations_are_at_least_one_minute() -> None:
    record = insight_event(call_rate(insight_duration=0, baseline_duration=-4))
    assert_insight_shape(record)
    stats = _details(record)["insightContext"]["statistics"]
    assert (stats["insightDuration"], stats["baselineDuration"]) == (1, 1)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda r, c: r.update(eventVersion="1.08"),
        lambda r, c: r.update(eventID="EXAMPLE8-9621-4d00-b913-beca2EXAMPLE"),
        lambda r, c: r.update(eventTime="2024-12-11T16:52:30Z"),
        lambda r, c: r.pop("awsRegion"),
        lambda r, c: r.update(extra=1),
        lambda r, c: r["insightDetails"].pop("sourceEventCategory"),
        lambda r, c: r["insightDetails"].update(state="Ongoing"),
        lambda r, c: r["insightDetails"].update(errorCode="AccessDenied"),
        lambda r, c: c["statistics"].update(insightDuration=0),
        lambda r, c: c["statistics"]["insight"].update(average=math.nan),
        lambda r, c: c["attributions"][0]["insight"].reverse(),
        lambda r, c: c["attributions"][0]["baseline"].extend([{"value": "x", "average": 0.0}] * 5),
        lambda r, c: c["attributions"][0].pop("baseline"),
        lambda r, c: c["attributions"].append({"attribute": "userAgent", **_NO_VALUES}),
        lambda r, c: c["attributions"].append({"attribute": "sourceIPAddress", **_NO_VALUES}),
    ],
)
def test_the_checker_rejects_spoiled_records(spoil: Any) -> None:
    record = msgspec.json.decode(encode_event(insight_event(call_rate())))
    context = _details(record)["insightContext"]
    context["attributions"][0]["insight"][0]["average"] = 0.3  # make the reversal below unsorted
    assert_insight_shape(record)
    spoil(record, context)
    with pytest.raises(AssertionError):
        assert_insight_shape(record)


_names = st.text(min_size=1, max_size=40)
_floats = (
    st.floats(allow_nan=True, allow_infinity=True) | st.floats(0, 1e-3) | st.integers(0, 10**6).map(float)
)
_values = st.lists(st.tuples(st.text(max_size=20), _floats), max_size=8)
_attributions = st.lists(
    st.tuples(st.sampled_from(["userIdentityArn", "userAgent", "errorCode"]), _values, _values),
    max_size=3,
    unique_by=lambda a: a[0],
).map(lambda rows: tuple(_attr(*row) for row in rows))


@st.composite
def transitions(draw: st.DrawFn) -> InsightTransition:
    types: tuple[InsightType, ...] = ("ApiCallRateInsight", "ApiErrorRateInsight")
    insight_type = draw(st.sampled_from(types))
    start = draw(st.integers(0, 60_000_000))
    return InsightTransition(
        state=draw(st.sampled_from(["Start", "End"])),
        insight_type=insight_type,
        account_id=draw(_names),
        region=draw(_names),
        event_source=draw(_names),
        event_name=draw(_names),
        error_code=draw(_names) if insight_type == "ApiErrorRateInsight" else None,
        source_event_category=draw(st.sampled_from(["Management", "Data"])),
        direction=draw(st.sampled_from(["up", "down"])),
        start_minute=start,
        event_minute=start + draw(st.integers(0, 10_000)),
        decided_minute=start + draw(st.integers(0, 10_000)),
        baseline_average=draw(_floats),
        baseline_duration=draw(st.integers(-1, 100_000)),
        insight_average=draw(_floats),
        insight_duration=draw(st.integers(-1, 10_000)),
        attributions=draw(_attributions),
    )


@settings(max_examples=300, deadline=None)
@given(transitions())
def test_any_transition_gives_a_valid_stable_record(t: InsightTransition) -> None:
    record = insight_event(t)
    assert_insight_shape(record)
    blob = encode_event(record)
    assert blob == encode_event(insight_event(t))
    assert msgspec.json.decode(blob) == record
    _assert_clean_averages(record)
    end = insight_event(replace(t, state="End" if t.state == "Start" else "Start"))
    assert end["sharedEventID"] == record["sharedEventID"] and end["eventID"] != record["eventID"]
