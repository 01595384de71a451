"""What the lifecycle hands to the event builder: one Start or End of one insight.

A plain value object, so the step that decides (lifecycle) and the step that formats (events) stay
apart, and tests can build transitions by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

InsightType = Literal["ApiCallRateInsight", "ApiErrorRateInsight"]
State = Literal["Start", "End"]
Direction = Literal["up", "down"]


@dataclass(frozen=True, slots=True)
class AttributionValue:
    """One attribute value with its per-minute average over a period."""

    value: str
    average: float


@dataclass(frozen=True, slots=True)
class Attribution:
    """Top values of one attribute (``userIdentityArn``, ``userAgent`` or ``errorCode``)."""

    attribute: str
    insight: tuple[AttributionValue, ...]
    baseline: tuple[AttributionValue, ...]


@dataclass(frozen=True, slots=True)
class InsightTransition:
    """A Start or an End, with everything the AWS Insight record needs.

    Minutes are integers counted from the Unix epoch (``seconds // 60``).

    ``event_minute`` becomes the record's ``eventTime``: for a Start, the first unusual minute; for an
    End, the first minute after the insight. ``decided_minute`` is the minute whose close (or early
    evaluation) made the decision; it is not part of the AWS record but lets benchmarks measure
    detection delay honestly.
    """

    state: State
    insight_type: InsightType
    account_id: str
    region: str
    event_source: str
    event_name: str
    error_code: str | None
    source_event_category: str
    direction: Direction
    start_minute: int
    event_minute: int
    decided_minute: int
    baseline_average: float
    baseline_duration: int
    insight_average: float
    insight_duration: int
    attributions: tuple[Attribution, ...]
