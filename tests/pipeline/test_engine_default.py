"""The default configuration (7-day window, 36 h warm-up) over three days of one-minute traffic:
one module fixture runs it once for every test here."""

from __future__ import annotations

import numpy as np
import pytest

from insights.config import EngineConfig
from insights.events import insight_event
from insights.transition import InsightTransition
from tests.builders import (
    ACCOUNT,
    ARN,
    DAY,
    HOUR,
    NAME,
    START,
    api,
    key_of,
    poisson_counts,
    run_engine,
    steady_with,
    stream,
)
from tests.pipeline.engine_scenarios import (
    checked,
    of,
    one_insight,
)

# -- default configuration over three days ---------------------------------------------------------
DEFAULT_DAYS = 3
SPIKE = (2 * DAY + 100, 2 * DAY + 105)
HAMMER = (2 * DAY + 600, 2 * DAY + 610)


@pytest.fixture(scope="module")
def default_run() -> list[InsightTransition]:
    n = DEFAULT_DAYS * DAY
    strays = np.zeros(n, np.int64)
    strays[::DAY] = 1
    strays[DAY + 700] = 1  # plus a stray call at an unusual time
    hammered = strays.copy()
    hammered[HAMMER[0] : HAMMER[1]] = 30
    series = {
        api(NAME, arns=(ARN, "arn:aws:iam::111122223333:role/ci")): steady_with(5.0, n, 1, {SPIKE: 60}),
        api("PutObject", source="s3.amazonaws.com"): poisson_counts(20.0, n, 2),
        api("AuthorizeSecurityGroupIngress"): poisson_counts(1.0, n, 3),
        api("DeleteVpc"): strays,
        api("CreateUser", source="iam.amazonaws.com"): hammered,
        api("DescribeInstances", read_only=True): poisson_counts(30.0, n, 4),
    }
    return checked(run_engine(stream(series), EngineConfig()))


def test_default_window_spike_gives_one_start_and_one_end(default_run: list[InsightTransition]) -> None:
    start, end = one_insight(default_run, NAME)
    assert key_of(start) == key_of(end)
    assert insight_event(start)["sharedEventID"] == insight_event(end)["sharedEventID"]
    assert start.direction == "up" and start.insight_type == "ApiCallRateInsight"
    assert start.event_minute == start.start_minute == START + SPIKE[0]
    assert end.event_minute == START + SPIKE[1]
    assert start.insight_average == 60.0 and end.insight_average == 60.0
    assert end.insight_duration == SPIKE[1] - SPIKE[0]
    assert start.insight_average > start.baseline_average
    assert start.baseline_average == pytest.approx(5.0, rel=0.05)
    # Its baseline is every hour learnt before the spike minute less the lateness, however far the
    # closes had got when it went out (announced early, insights.early, or at the close).
    assert start.baseline_duration == (SPIKE[0] - EngineConfig().allowed_lateness_minutes) // HOUR * HOUR
    assert start.decided_minute == start.start_minute
    assert (start.account_id, start.region, start.event_source) == (ACCOUNT, "us-east-1", "ec2.amazonaws.com")
    attributions = {a.attribute: a for a in start.attributions}
    assert [v.value for v in attributions["errorCode"].insight] == ["null"]
    assert {v.value for v in attributions["userIdentityArn"].insight} == {
        ARN,
        "arn:aws:iam::111122223333:role/ci",
    }
    assert sum(v.average for v in attributions["userIdentityArn"].insight) == pytest.approx(60.0)
    assert sum(v.average for v in attributions["userIdentityArn"].baseline) == pytest.approx(
        start.baseline_average, rel=1e-3
    )


def test_default_window_steady_traffic_gives_no_insight(default_run: list[InsightTransition]) -> None:
    for name in ("PutObject", "AuthorizeSecurityGroupIngress", "DescribeInstances"):
        assert of(default_run, name) == []


def test_default_window_stray_call_on_rare_api_gives_no_insight(default_run: list[InsightTransition]) -> None:
    assert of(default_run, "DeleteVpc") == []


def test_default_window_hammered_rare_api_gives_one_insight(default_run: list[InsightTransition]) -> None:
    start, end = one_insight(default_run, "CreateUser")
    assert start.event_minute == START + HAMMER[0] and end.event_minute == START + HAMMER[1]
    assert start.baseline_average < 0.01 and start.insight_average == 30.0
    assert len(default_run) == 4  # the spike and the hammering, nothing else
