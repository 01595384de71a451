"""Stage one of the semantics: which records can count at all, without any engine state.

Most CloudTrail records are successful reads: they feed no insight, but they do move the
event-time clock and show that an account and region are being observed. This step keeps the
records that can count (writes, errors) as records and folds all others into
``(minute, account, region) -> records`` context, plus skip counts by reason. Being stateless it
can run where decoding runs (``replay --workers``), so the stateful step that follows
(:mod:`insights.normalise`) only sees the records that matter; both paths give the same output.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from insights.eventtime import event_minute
from insights.record import CloudTrailRecord

INSIGHT_EVENT_TYPE = "AwsCloudTrailInsight"
Context = tuple[int, str, str]


@dataclass
class Classified:
    """Records that can count, context of those that cannot, and why others were skipped."""

    countable: list[CloudTrailRecord] = field(default_factory=list)
    context: Counter[Context] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    def extend(self, other: Classified) -> None:
        self.countable += other.countable
        self.context.update(other.context)
        self.skipped.update(other.skipped)


def minute_of(record: CloudTrailRecord, cache: dict[str, int | None]) -> int | None:
    """The record's minute, cached by its ``YYYY-MM-DDTHH:MM`` prefix (the decoder validated it)."""
    prefix = record.eventTime[:16]
    minute = cache.get(prefix, -1)
    if minute == -1:
        if len(cache) > 100_000:
            cache.clear()
        minute = cache[prefix] = event_minute(record.eventTime)
    return minute


def account_of(record: CloudTrailRecord) -> str | None:
    identity = record.userIdentity
    return record.recipientAccountId or (identity.accountId if identity is not None else None)


def classify(
    records: Iterable[CloudTrailRecord], data_events: bool, cache: dict[str, int | None]
) -> Classified:
    """Split ``records`` into countable ones and context (see the module docstring)."""
    out = Classified()
    countable, context, skipped = out.countable, out.context, out.skipped
    for r in records:
        category = r.eventCategory
        if r.eventType == INSIGHT_EVENT_TYPE:
            skipped["insight_event"] += 1
            continue
        if category != "Management" and (category != "Data" or not data_events):
            skipped["data_event" if category == "Data" else "other_category"] += 1
            continue
        if r.readOnly is False or r.errorCode is not None or category == "Data":
            countable.append(r)
            continue
        minute = minute_of(r, cache)
        account = account_of(r)
        if minute is None or account is None:
            skipped["bad_event_time" if minute is None else "no_account"] += 1
            continue
        context[(minute, account, r.awsRegion)] += 1
    return out
