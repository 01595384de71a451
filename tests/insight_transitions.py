"""Insight transitions for the event tests: AWS's 1.09 error-rate example mirrored, and a call-rate one.

Shared by ``tests/unit/test_events.py`` (the record builder's rules) and
``tests/unit/test_event_schema.py`` (conformance to AWS's schema and examples).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from insights.transition import Attribution, AttributionValue, InsightTransition

MINUTE_2024_12_11_16_52 = 28_898_932
ADMIN = "arn:aws:sts::888888888888:assumed-role/Admin"
BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
NO_VALUES: dict[str, Any] = {"insight": [], "baseline": []}


def attr(name: str, insight: list[tuple[str, float]], baseline: list[tuple[str, float]]) -> Attribution:
    return Attribution(
        name,
        tuple(AttributionValue(v, a) for v, a in insight),
        tuple(AttributionValue(v, a) for v, a in baseline),
    )


def details(record: dict[str, object]) -> Any:
    """``insightDetails`` typed loosely, for reading nested fields in tests."""
    return record["insightDetails"]


def averages(record: dict[str, object]) -> list[float]:
    """Every average in a record: statistics and attribution values."""
    context = details(record)["insightContext"]
    stats = context["statistics"]
    rows = [row for a in context["attributions"] for side in ("insight", "baseline") for row in a[side]]
    return [stats["baseline"]["average"], stats["insight"]["average"], *(row["average"] for row in rows)]


def assert_clean_averages(record: dict[str, object]) -> None:
    for x in averages(record):
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
            attr("userIdentityArn", [(ADMIN, 1.2)], []),
            attr("userAgent", [(BROWSER, 1.2)], []),
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
            attr("userIdentityArn", [(f"{role}{i}", 0.2) for i in (1, 2, 3)], [(f"{role}1", 8.82145e-05)]),
            attr(
                "userAgent", [("codedeploy.amazonaws.com", 0.6)], [("codedeploy.amazonaws.com", 8.82145e-05)]
            ),
            attr("errorCode", [("null", 0.6)], [("null", 8.82145e-05)]),
        ),
    )
    return replace(t, **changes)
