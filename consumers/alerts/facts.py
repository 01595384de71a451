"""What every alert format says about one Insight, read once: :class:`AlertFacts`.

Why a separate value: Alertmanager, Slack, PagerDuty and the like each want the same few facts
(which API, where, how far from its baseline, who called) in a different shape. Reading them here,
from the AWS record the output topic carries, keeps the numbers an alert shows identical to the
record's (rounded the same way) and keeps each format a small pure function.

>>> from consumers.sinks.base import Insight
>>> from insights.transition import InsightTransition
>>> t = InsightTransition(
...     state="Start", insight_type="ApiCallRateInsight", account_id="123456789012",
...     region="us-east-1", event_source="ec2.amazonaws.com", event_name="RunInstances",
...     error_code=None, source_event_category="Management", direction="up",
...     start_minute=28_898_932, event_minute=28_898_932, decided_minute=28_898_933,
...     baseline_average=26.0, baseline_duration=10080, insight_average=116.0, insight_duration=1,
...     attributions=())
>>> facts = AlertFacts.of(Insight.of(t))
>>> print(facts.summary)  # doctest: +NORMALIZE_WHITESPACE
ApiCallRateInsight on ec2.amazonaws.com RunInstances in 123456789012/us-east-1:
116.0 calls/min against a baseline of 26.0
>>> print(facts.reason)  # doctest: +NORMALIZE_WHITESPACE
Calls went up: 116.0 calls/min in the first unusual minute, 4.5x the baseline average of
26.0 calls/min over the previous 7.0 days.
>>> facts.start_time, facts.end_time
('2024-12-11T16:52:00Z', None)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from consumers.sinks.base import Insight
from insights.eventtime import minute_to_iso
from insights.transition import Direction, InsightType, State

__all__ = ["MAX_TOP_VALUES", "AlertFacts", "TopValue", "TopValues", "clip", "duration", "number"]

#: Values per attribute an alert shows; the record keeps AWS's five.
MAX_TOP_VALUES = 3


@dataclass(frozen=True, slots=True)
class TopValue:
    """One attribute value with its per-minute average during the insight."""

    value: str
    average: float


@dataclass(frozen=True, slots=True)
class TopValues:
    """The top values of one attribute (``userIdentityArn``, ``userAgent``, ``errorCode``)."""

    attribute: str
    values: tuple[TopValue, ...]


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """The facts of one Start or End, as alert formats show them.

    Times are ``YYYY-MM-DDTHH:MM:00Z`` text: ``start_time`` is the first unusual minute (the Start's
    ``eventTime``), ``end_time`` the End's ``eventTime`` (the first minute after the insight), None
    on a Start. Averages are per minute, as in the record; durations are in minutes.
    """

    state: State
    insight_type: InsightType
    error_code: str | None
    direction: Direction
    event_source: str
    event_name: str
    account_id: str
    region: str
    baseline_average: float
    insight_average: float
    baseline_duration: int
    insight_duration: int
    start_time: str
    end_time: str | None
    event_id: str
    shared_event_id: str
    attributions: tuple[TopValues, ...]
    why: str | None = None

    @classmethod
    def of(cls, insight: Insight) -> AlertFacts:
        """The facts of ``insight``: figures from its record, direction and start from its transition."""
        t, record = insight.transition, insight.record
        details: Mapping[str, Any] = _mapping(record["insightDetails"])
        context = _mapping(details["insightContext"])
        stats = _mapping(context["statistics"])
        return cls(
            state=t.state,
            insight_type=t.insight_type,
            error_code=details.get("errorCode"),
            direction=t.direction,
            event_source=str(details["eventSource"]),
            event_name=str(details["eventName"]),
            account_id=str(record["recipientAccountId"]),
            region=str(record["awsRegion"]),
            baseline_average=float(stats["baseline"]["average"]),
            insight_average=float(stats["insight"]["average"]),
            baseline_duration=int(stats["baselineDuration"]),
            insight_duration=int(stats["insightDuration"]),
            start_time=minute_to_iso(t.start_minute),
            end_time=str(record["eventTime"]) if t.state == "End" else None,
            event_id=insight.event_id,
            shared_event_id=insight.shared_event_id,
            attributions=tuple(_top_values(_mapping(a)) for a in context["attributions"]),
            why=t.why if t.state == "Start" else None,
        )

    @property
    def unit(self) -> str:
        """What the averages count: calls (call rate) or errors (error rate), per minute."""
        return "errors/min" if self.insight_type == "ApiErrorRateInsight" else "calls/min"

    @property
    def api(self) -> str:
        """``eventSource eventName``, with the error code in parentheses for error-rate insights."""
        code = f" ({self.error_code})" if self.error_code else ""
        return f"{self.event_source} {self.event_name}{code}"

    @property
    def ratio(self) -> float | None:
        """Insight average over baseline average; None when the baseline is zero (no ratio exists)."""
        return self.insight_average / self.baseline_average if self.baseline_average > 0 else None

    @property
    def summary(self) -> str:
        """One readable line naming the insight, where it is, and how far it is from its baseline."""
        where = f"{self.insight_type} on {self.api} in {self.account_id}/{self.region}"
        base = f"against a baseline of {number(self.baseline_average)}"
        if self.state == "Start":
            return f"{where}: {number(self.insight_average)} {self.unit} {base}"
        return (
            f"{where} ended after {duration(self.insight_duration)}: "
            f"{number(self.insight_average)} {self.unit} on average {base}"
        )

    @property
    def reason(self) -> str:
        """Why it fired: the statistics of the record (the ratio to the baseline, the direction and
        the durations, which a reader can check against the record), then for a Start the rule that
        fired and its figures (:class:`~insights.reason.StartReason`)."""
        what = "Errors" if self.insight_type == "ApiErrorRateInsight" else "Calls"
        ratio, previous = self.ratio, f"the previous {duration(self.baseline_duration)}"
        if ratio is None:
            baseline = f"where {previous} had none"
        else:
            base = f"{number(self.baseline_average)} {self.unit}"
            baseline = f"{number(ratio)}x the baseline average of {base} over {previous}"
        if self.state == "Start":
            level = f"{number(self.insight_average)} {self.unit} in the first unusual minute"
            rule = "" if self.why is None else f" It started on a {self.why}."
            return f"{what} went {self.direction}: {level}, {baseline}.{rule}"
        level = f"{number(self.insight_average)} {self.unit} on average"
        return f"{what} went {self.direction} for {duration(self.insight_duration)}: {level}, {baseline}."


def number(x: float) -> str:
    """A per-minute figure for people: one decimal from 1 up, two significant digits below.

    >>> number(116.0), number(4.4615), number(0.6), number(8.82145e-05), number(0.0)
    ('116.0', '4.5', '0.6', '8.8e-05', '0.0')
    """
    if x == 0:
        return "0.0"
    return f"{x:.1f}" if abs(x) >= 1 else f"{x:.2g}"


def duration(minutes: int) -> str:
    """Minutes for people: minutes up to two hours, then hours up to two days, then days.

    >>> duration(1), duration(180), duration(10080)
    ('1 min', '3.0 h', '7.0 days')
    """
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 2880:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, an ellipsis marking the cut.

    >>> clip("abcdef", 4), clip("abc", 4)
    ('abc…', 'abc')
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mapping(x: object) -> Mapping[str, Any]:
    if not isinstance(x, Mapping):
        raise TypeError(f"expected a mapping in the Insight record, got {type(x).__name__}")
    return x


def _top_values(attribution: Mapping[str, Any]) -> TopValues:
    """The insight side of one record attribution, already sorted highest first, cut to
    :data:`MAX_TOP_VALUES`."""
    rows = attribution["insight"][:MAX_TOP_VALUES]
    values = tuple(TopValue(str(row["value"]), float(row["average"])) for row in rows)
    return TopValues(str(attribution["attribute"]), values)
