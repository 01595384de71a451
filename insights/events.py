"""Turn a lifecycle transition into an Insight event record in exactly AWS's trail shape.

Why this shape, to the key order: SIEM parsers (Elastic, Splunk, Sentinel) that read CloudTrail
should read ours unchanged (DESIGN §1), so the record mirrors AWS's ``eventVersion`` 1.09 examples.
Why deterministic ids: a restart may emit an insight twice; because ``sharedEventID`` and
``eventID`` derive only from what identifies the insight, downstream dedups it for free.

>>> from insights.transition import InsightTransition
>>> t = InsightTransition(
...     state="Start", insight_type="ApiErrorRateInsight", account_id="123456789012",
...     region="us-east-1", event_source="cloudtrail.amazonaws.com", event_name="DescribeQuery",
...     error_code="QueryIdNotFoundException", source_event_category="Management", direction="up",
...     start_minute=28_898_932, event_minute=28_898_932, decided_minute=28_898_933,
...     baseline_average=0.0, baseline_duration=11092, insight_average=1.2, insight_duration=1,
...     attributions=())
>>> record = insight_event(t)
>>> record["eventTime"]
'2024-12-11T16:52:00Z'
>>> record["sharedEventID"], record["eventID"]
('82417aed-a463-5694-9acf-4297ee1561b6', 'fdbec333-88d5-591f-9252-abab3bc94023')
>>> insight_event(t) == record and encode_event(insight_event(t)) == encode_event(record)
True
>>> from dataclasses import replace
>>> end = insight_event(replace(t, state="End", event_minute=28_898_933))
>>> end["eventTime"], end["sharedEventID"] == record["sharedEventID"], end["eventID"] != record["eventID"]
('2024-12-11T16:53:00Z', True, True)
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

import msgspec

from insights.transition import Attribution, AttributionValue, InsightTransition

__all__ = [
    "EVENT_VERSION",
    "MAX_ATTRIBUTION_VALUES",
    "TRAILPULSE_NAMESPACE",
    "encode_event",
    "encode_events_jsonl",
    "event_id",
    "insight_event",
    "round_average",
    "shared_event_id",
]

EVENT_VERSION = "1.09"
#: AWS lists the top 5 values per attribute and period.
MAX_ATTRIBUTION_VALUES = 5
#: Namespace of every id we derive. Drawn at random once and frozen: changing it would change every
#: id and break deduplication against insights already emitted.
TRAILPULSE_NAMESPACE = uuid.UUID("33e3d766-c9ee-41c2-b19e-17f166e84e0f")

_ATTRIBUTES = frozenset({"userIdentityArn", "userAgent", "errorCode"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SIGNIFICANT_DIGITS = 10
_ENCODER = msgspec.json.Encoder()


def round_average(x: float) -> float:
    """A per-minute average as it goes in the record: finite, ≥ 0, 10 significant digits.

    Rounding makes the output readable and stable across platforms (sums of floats differ in the
    last bits); counts are never negative, and NaN/inf must never reach a parser, so those all
    become 0.0 (``-0.0`` too, so the JSON never shows ``-0.0``).

    >>> round_average(85.42023809523809), round_average(8.82145e-05), round_average(5)
    (85.4202381, 8.82145e-05, 5.0)
    >>> round_average(float("nan")), round_average(float("inf")), round_average(-1.0)
    (0.0, 0.0, 0.0)
    """
    x = float(x)
    if not math.isfinite(x) or x <= 0.0:
        return 0.0
    rounded = float(f"{x:.{_SIGNIFICANT_DIGITS}g}")
    # Rounding up near the largest float overflows to inf; keep the (finite) value unrounded then.
    return rounded if math.isfinite(rounded) else x


def _event_time(minute: int) -> str:
    """``YYYY-MM-DDTHH:MM:00Z`` for a minute counted from the Unix epoch."""
    return (_EPOCH + timedelta(minutes=int(minute))).strftime("%Y-%m-%dT%H:%M:00Z")


def _id_error_code(t: InsightTransition) -> str:
    """The error code that identifies an insight: only error-rate insights are keyed by one."""
    return (t.error_code or "") if t.insight_type == "ApiErrorRateInsight" else ""


def shared_event_id(t: InsightTransition) -> str:
    """The id shared by an insight's Start and End: uuid5 of what identifies the insight.

    The name is the JSON array of (insight type, account, region, eventSource, eventName, error
    code or "", start minute): JSON keeps fields unambiguous (no separator can collide) and ASCII.
    """
    name = json.dumps(
        [
            t.insight_type,
            t.account_id,
            t.region,
            t.event_source,
            t.event_name,
            _id_error_code(t),
            int(t.start_minute),
        ],
        separators=(",", ":"),
    )
    return str(uuid.uuid5(TRAILPULSE_NAMESPACE, name))


def event_id(shared_id: str, state: str) -> str:
    """The id of one record: uuid5 in the namespace of its ``sharedEventID``, named by its state."""
    return str(uuid.uuid5(uuid.UUID(shared_id), state))


def _values(values: Iterable[AttributionValue]) -> list[dict[str, object]]:
    """Top values, highest average first (stable for ties), at most :data:`MAX_ATTRIBUTION_VALUES`."""
    rows = [(str(v.value), round_average(v.average)) for v in values]
    rows.sort(key=lambda row: -row[1])
    return [{"value": value, "average": avg} for value, avg in rows[:MAX_ATTRIBUTION_VALUES]]


def _attributions(t: InsightTransition) -> list[dict[str, object]]:
    """Attributions in the engine's order.

    An ``errorCode`` attribution is dropped on error-rate insights: there it is the one error code
    of the key, and AWS omits it. An unknown attribute is an engine bug, so it raises.
    """
    out: list[dict[str, object]] = []
    for a in t.attributions:
        if a.attribute not in _ATTRIBUTES:
            raise ValueError(f"unknown attribution attribute {a.attribute!r}")
        if a.attribute == "errorCode" and t.insight_type == "ApiErrorRateInsight":
            continue
        out.append(_attribution(a))
    return out


def _attribution(a: Attribution) -> dict[str, object]:
    return {"attribute": a.attribute, "insight": _values(a.insight), "baseline": _values(a.baseline)}


def insight_event(t: InsightTransition, reason: bool = False) -> dict[str, object]:
    """The AWS Insight record for one Start or End, keys in AWS's order.

    Durations are at least 1 minute (as in every AWS record); averages go through
    :func:`round_average`. An error-rate transition without an error code cannot be expressed in
    the AWS shape, so it raises ``ValueError``.

    With ``reason``, a Start that knows why it started gets one more key, last:
    ``"trailpulse": {"reason": {...}}`` (:meth:`~insights.reason.StartReason.as_record`). Off by
    default, so the record keeps AWS's exact shape; the ids never depend on it.
    """
    error_rate = t.insight_type == "ApiErrorRateInsight"
    if error_rate and not t.error_code:
        raise ValueError("an ApiErrorRateInsight transition needs an error_code")
    shared = shared_event_id(t)
    details: dict[str, object] = {
        "state": t.state,
        "eventSource": t.event_source,
        "eventName": t.event_name,
        "insightType": t.insight_type,
    }
    if error_rate:
        details["errorCode"] = t.error_code
    details["sourceEventCategory"] = t.source_event_category
    details["insightContext"] = {
        "statistics": {
            "baseline": {"average": round_average(t.baseline_average)},
            "insight": {"average": round_average(t.insight_average)},
            "insightDuration": max(1, int(t.insight_duration)),
            "baselineDuration": max(1, int(t.baseline_duration)),
        },
        "attributions": _attributions(t),
    }
    record: dict[str, object] = {
        "eventVersion": EVENT_VERSION,
        "eventTime": _event_time(t.event_minute),
        "awsRegion": t.region,
        "eventID": event_id(shared, t.state),
        "eventType": "AwsCloudTrailInsight",
        "recipientAccountId": t.account_id,
        "sharedEventID": shared,
        "insightDetails": details,
        "eventCategory": "Insight",
    }
    if reason and t.state == "Start" and t.reason is not None:
        record["trailpulse"] = {"reason": t.reason.as_record()}
    return record


def encode_event(record: Mapping[str, object]) -> bytes:
    """Compact JSON of one record, key order kept, no trailing newline; same input, same bytes."""
    return _ENCODER.encode(record)


def encode_events_jsonl(records: Iterable[Mapping[str, object]]) -> bytes:
    """JSON lines: one compact record per line, each line newline-terminated (empty input → b"")."""
    return b"".join(encode_event(r) + b"\n" for r in records)
