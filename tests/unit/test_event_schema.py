"""Insight event records against AWS's schema: the shape checker, AWS's own examples, any transition."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insights.events import encode_event, insight_event
from insights.transition import InsightTransition, InsightType
from tests.insight_transitions import (
    NO_VALUES,
    assert_clean_averages,
    attr,
    call_rate,
    details,
    error_rate_start,
)
from tests.schema import assert_insight_shape, key_structure, reference_examples


@pytest.mark.parametrize("state", ["Start", "End"])
@pytest.mark.parametrize("make", [error_rate_start, call_rate])
@pytest.mark.parametrize("with_attributions", [True, False])
def test_records_have_the_aws_shape(state: str, make: Any, with_attributions: bool) -> None:
    t = make(state=state)
    if not with_attributions:
        t = replace(t, attributions=())
    record = insight_event(t)
    assert_insight_shape(record)
    assert details(record)["state"] == state


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
    ours_details, aws_details = dict(details(ours)), dict(aws["insightDetails"])
    assert ours_details.pop("insightContext") == aws_details.pop("insightContext")
    assert ours_details == aws_details


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
        lambda r, c: c["attributions"].append({"attribute": "userAgent", **NO_VALUES}),
        lambda r, c: c["attributions"].append({"attribute": "sourceIPAddress", **NO_VALUES}),
    ],
)
def test_the_checker_rejects_spoiled_records(spoil: Any) -> None:
    record = msgspec.json.decode(encode_event(insight_event(call_rate())))
    context = details(record)["insightContext"]
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
).map(lambda rows: tuple(attr(*row) for row in rows))


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
    assert_clean_averages(record)
    end = insight_event(replace(t, state="End" if t.state == "Start" else "Start"))
    assert end["sharedEventID"] == record["sharedEventID"] and end["eventID"] != record["eventID"]
