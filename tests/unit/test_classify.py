""":func:`classify_parts` against a plain per-record reading of its contract: the context counts
and each row's ``prior`` (the newest minute its own account, region and channel delivered before
it), however records of different sources, minutes, categories and parts interleave."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from insights.classify import NO_MINUTE, Context, classify_parts
from insights.eventtime import event_minute
from insights.record import CloudTrailRecord
from tests.builders import record

ACCOUNTS = ("111111111111", "222222222222")
REGIONS = ("us-east-1", "eu-west-1")
NAMES = ("PutObject", "RunInstances", "Ping")
FIRST_MINUTE = event_minute("2026-12-01T00:00:00Z") or 0


@st.composite
def a_record(draw: st.DrawFn) -> CloudTrailRecord:
    category = draw(st.sampled_from(["Management"] * 6 + ["Data", "NetworkActivity"]))
    return record(
        FIRST_MINUTE + draw(st.integers(0, 6)),
        account=draw(st.sampled_from(ACCOUNTS)),
        region=draw(st.sampled_from(REGIONS)),
        name=draw(st.sampled_from(NAMES)),
        read_only=draw(st.sampled_from([True, False, None])),
        error_code=draw(st.sampled_from([None, None, "AccessDenied"])),
        category=category,
        event_type=draw(st.sampled_from(["AwsApiCall"] * 8 + ["AwsCloudTrailInsight"])),
    )


def reference(
    parts: list[tuple[str, list[CloudTrailRecord]]], data_events: bool
) -> tuple[Counter[Context], list[int]]:
    """Context counts (in first-seen order) and the priors of the rows, one record at a time."""
    newest: dict[tuple[str, str, str], int] = {}
    context: Counter[Context] = Counter()
    priors = []
    for channel, records in parts:
        for r in records:
            counted = r.eventCategory == "Management" or (r.eventCategory == "Data" and data_events)
            if r.eventType == "AwsCloudTrailInsight" or not counted:
                continue
            minute = event_minute(r.eventTime)
            assert minute is not None
            source = (r.recipientAccountId or "", r.awsRegion, channel)
            prior = newest.get(source, NO_MINUTE)
            newest[source] = max(prior, minute)
            context[(minute, *source, prior)] += 1
            if r.readOnly is False or r.eventCategory == "Data" or r.errorCode is not None:
                priors.append(prior)
    return context, priors


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(
        st.tuples(st.sampled_from(["events", "files"]), st.lists(a_record(), max_size=30)), max_size=4
    ),
    data_events=st.booleans(),
)
def test_context_and_priors_are_those_of_one_record_at_a_time(
    parts: list[tuple[str, list[CloudTrailRecord]]], data_events: bool
) -> None:
    batch = classify_parts(parts, data_events, {})
    want_context, want_priors = reference(parts, data_events)
    assert list(batch.context.items()) == list(want_context.items())
    assert batch.columns["prior"].tolist() == want_priors
    assert sum(batch.context.values()) + sum(batch.skipped.values()) == batch.records
