"""What the lifecycle hands to the event builder: one Start or End of one insight.

A plain value object, so the step that decides (lifecycle) and the step that formats (events) stay
apart, and tests can build transitions by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from insights.reason import StartReason

InsightType = Literal["ApiCallRateInsight", "ApiErrorRateInsight"]
State = Literal["Start", "End"]
Direction = Literal["up", "down"]
CALL_RATE: InsightType = "ApiCallRateInsight"
ERROR_RATE: InsightType = "ApiErrorRateInsight"


def insight_type_of(key: tuple[str, ...]) -> InsightType:
    """Call-rate keys name an API; error-rate keys name an API and an error code."""
    return ERROR_RATE if len(key) > 5 else CALL_RATE


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
    detection delay honestly. ``reason`` says why a Start started (None on Ends, and on transitions
    built by hand); the AWS record carries it only when asked (:func:`insights.events.insight_event`).
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
    reason: StartReason | None = None

    @property
    def why(self) -> str | None:
        """Why this Start started, in words (:meth:`StartReason.words`, counting errors for error
        rates); None without a reason."""
        if self.reason is None:
            return None
        return self.reason.words("errors" if self.insight_type == ERROR_RATE else "calls")


@dataclass(frozen=True, slots=True)
class InsightFigures:
    """What the lifecycle knows of one insight when a Start or End goes out.

    Minutes are (first unusual minute, the record's event minute, the deciding minute, duration);
    the baseline is (per-minute average, minutes it covers).
    """

    direction: Direction
    minutes: tuple[int, int, int, int]
    baseline: tuple[float, int]
    insight_average: float


def make_transition(
    state: State,
    key: tuple[str, ...],
    figures: InsightFigures,
    attributions: tuple[Attribution, ...],
    reason: StartReason | None = None,
) -> InsightTransition:
    """The transition of the insight of ``key`` (an API key, with an error code for error rates)."""
    start, event_minute, decided, duration = figures.minutes
    return InsightTransition(
        state=state,
        insight_type=insight_type_of(key),
        account_id=key[1],
        region=key[2],
        event_source=key[3],
        event_name=key[4],
        error_code=key[5] if len(key) > 5 else None,
        source_event_category=key[0],
        direction=figures.direction,
        start_minute=start,
        event_minute=event_minute,
        decided_minute=decided,
        baseline_average=figures.baseline[0],
        baseline_duration=figures.baseline[1],
        insight_average=figures.insight_average,
        insight_duration=max(duration, 1),
        attributions=attributions,
        reason=reason,
    )
