"""CloudTrail semantics through the whole engine (what counts as a write, an error, an account), and
per-API rules."""

from __future__ import annotations

import numpy as np
import pytest

from insights.config import Rule, suppress
from insights.engine import Engine
from insights.events import insight_event
from tests.builders import (
    ACCOUNT,
    HOUR,
    NAME,
    START,
    api,
    key_of,
    merge,
    poisson_counts,
    run_engine,
    starts,
    steady_with,
    stream,
)
from tests.pipeline.engine_scenarios import (
    SHORT,
    background,
    checked,
    of,
    one_insight,
    short,
)

# -- CloudTrail semantics ---------------------------------------------------------------------------
N_SEM = 4 * HOUR
SEM_SPIKE = (3 * HOUR, 3 * HOUR + 5)


def _spiky(seed: int, rate: float = 5.0, value: int = 100, window: tuple[int, int] = SEM_SPIKE) -> np.ndarray:
    return steady_with(rate, N_SEM, seed, {window: value})


def test_read_only_successes_never_make_call_rate_insights() -> None:
    engine = Engine(SHORT)
    reads = api("DescribeInstances", read_only=True)
    out = run_engine(merge(background(N_SEM), stream({reads: _spiky(31, value=500)})), engine=engine)
    assert out == []
    assert all(key[4] != "DescribeInstances" for key in engine.track.keys.table.index)
    assert not [key for key in engine.track.keys.table.index if len(key) > 5]


def test_missing_read_only_is_not_a_write() -> None:
    engine = Engine(SHORT)
    unknown = api("GetConsoleScreenshot", read_only=None)
    out = run_engine(merge(background(N_SEM), stream({unknown: _spiky(32, value=500)})), engine=engine)
    assert out == []
    assert all(key[4] != "GetConsoleScreenshot" for key in engine.track.keys.table.index)


def test_read_errors_feed_error_rate_per_error_code() -> None:
    denied = api("DescribeInstances", read_only=True, error_code="AccessDenied")
    throttled = api("DescribeInstances", read_only=True, error_code="ThrottlingException")
    later = (3 * HOUR + 30, 3 * HOUR + 33)
    out = checked(
        run_engine(
            merge(
                background(N_SEM),
                stream(
                    {
                        denied: _spiky(33, rate=0.2, value=30),
                        throttled: _spiky(34, rate=0.1, value=40, window=later),
                    }
                ),
            ),
            SHORT,
        )
    )
    assert {t.insight_type for t in out} == {"ApiErrorRateInsight"}
    by_code = {t.error_code: t for t in starts(out)}
    assert set(by_code) == {"AccessDenied", "ThrottlingException"}
    assert key_of(by_code["AccessDenied"]) != key_of(by_code["ThrottlingException"])
    assert by_code["AccessDenied"].event_minute == START + SEM_SPIKE[0]
    assert by_code["ThrottlingException"].event_minute == START + later[0]
    assert by_code["ThrottlingException"].insight_average == 40.0
    for t in out:
        assert insight_event(t)["insightDetails"]["errorCode"] == t.error_code  # type: ignore[index]
    assert len(out) == 4


def test_write_errors_feed_both_tracks() -> None:
    failing = api("RunInstances", error_code="InsufficientInstanceCapacity")
    out = checked(
        run_engine(
            merge(
                background(N_SEM),
                stream({api(): poisson_counts(5.0, N_SEM, 35), failing: _spiky(36, rate=0.1, value=40)}),
            ),
            SHORT,
        )
    )
    types = {t.insight_type: t for t in starts(out)}
    assert set(types) == {"ApiCallRateInsight", "ApiErrorRateInsight"}
    call = types["ApiCallRateInsight"]
    assert (
        call.error_code is None and types["ApiErrorRateInsight"].error_code == "InsufficientInstanceCapacity"
    )
    codes = {v.value for a in call.attributions if a.attribute == "errorCode" for v in a.insight}
    assert "InsufficientInstanceCapacity" in codes


@pytest.mark.parametrize("category", ["Insight", "Management"])
def test_insight_records_are_never_analysed(category: str) -> None:
    engine = Engine(SHORT)
    insight_like = api(NAME, event_type="AwsCloudTrailInsight", category=category)
    out = run_engine(merge(background(N_SEM), stream({insight_like: _spiky(37, value=500)})), engine=engine)
    assert out == []
    assert list(engine.track.keys.table.index) == [
        ("Management", ACCOUNT, "us-east-1", "s3.amazonaws.com", "CreateBucket")
    ]


@pytest.mark.parametrize("read_only", [True, False])
def test_data_events_only_when_switched_on(read_only: bool) -> None:
    data = api("GetObject", source="s3.amazonaws.com", category="Data", read_only=read_only)
    records = merge(background(N_SEM), stream({data: _spiky(38, value=300)}))
    engine = Engine(SHORT)
    assert run_engine(records, engine=engine) == []
    assert engine.normaliser.skipped["data_event"] > 0
    out = checked(run_engine(records, short(analyse_data_events=True)))
    start, _ = one_insight(out, "GetObject")
    assert start.source_event_category == "Data" and start.event_minute == START + SEM_SPIKE[0]
    assert insight_event(start)["insightDetails"]["sourceEventCategory"] == "Data"  # type: ignore[index]


def test_recipient_account_falls_back_to_user_identity() -> None:
    other = "444455556666"
    no_recipient = api(NAME, account=None, identity_account=other)
    neither = api("TerminateInstances", account=None, identity_account=None)
    engine = Engine(SHORT)
    out = checked(
        run_engine(
            merge(background(N_SEM), stream({no_recipient: _spiky(39), neither: _spiky(40)})), engine=engine
        )
    )
    start, _ = one_insight(out, NAME)
    assert start.account_id == other and insight_event(start)["recipientAccountId"] == other
    assert of(out, "TerminateInstances") == []
    assert engine.normaliser.skipped["no_account"] > 0


def test_account_and_region_scope_keys() -> None:
    east, west = api(NAME), api(NAME, region="eu-west-1")
    other_account = api(NAME, account="999988887777")
    series = {east: _spiky(41), west: _spiky(42, value=80), other_account: poisson_counts(5.0, N_SEM, 43)}
    engine = Engine(SHORT)
    out = checked(run_engine(merge(background(N_SEM), stream(series)), engine=engine))
    assert {(t.account_id, t.region) for t in starts(out)} == {(ACCOUNT, "us-east-1"), (ACCOUNT, "eu-west-1")}
    assert len({key_of(t) for t in out}) == 2 and len(out) == 4
    assert len([k for k in engine.track.keys.table.index if k[4] == NAME]) == 3
    by_region = {t.region: t for t in starts(out)}
    assert by_region["us-east-1"].insight_average == 100.0 and by_region["eu-west-1"].insight_average == 80.0


# -- rules ----------------------------------------------------------------------------------------
def test_suppress_rule_silences_one_api() -> None:
    series = {api("RunInstances"): _spiky(71), api("TerminateInstances"): _spiky(72)}
    records = merge(background(N_SEM), stream(series))
    both = checked(run_engine(records, SHORT))
    assert {t.event_name for t in both} == {"RunInstances", "TerminateInstances"}
    out = checked(run_engine(records, short(rules=(suppress(event_name="RunInstances"),))))
    assert {t.event_name for t in out} == {"TerminateInstances"} and len(out) == 2


def test_suppress_rule_by_insight_type() -> None:
    """Calls at 0.5 a minute, failing once in ten; in one minute 60 fail: both insights start (the
    failures rose far beyond the calls' rise, see insights/ratio.py), and the rule silences one."""
    succeeding, failing = api("RunInstances"), api("RunInstances", error_code="InsufficientInstanceCapacity")
    series = {succeeding: poisson_counts(0.45, N_SEM, 74), failing: _spiky(73, rate=0.05, value=60)}
    records = merge(background(N_SEM), stream(series))
    both = checked(run_engine(records, SHORT))
    assert {t.insight_type for t in both} == {"ApiCallRateInsight", "ApiErrorRateInsight"}
    out = checked(run_engine(records, short(rules=(suppress(insight_type="ApiErrorRateInsight"),))))
    assert {t.insight_type for t in out} == {"ApiCallRateInsight"}


def test_per_api_rule_lowers_threshold_for_that_api_only() -> None:
    ones = np.ones(N_SEM, np.int64)
    ones[SEM_SPIKE[0]] = 6
    records = merge(background(N_SEM), stream({api("ApiA"): ones, api("ApiB"): ones}))
    assert run_engine(records, SHORT) == []
    rule = Rule(event_name="ApiA", params={"start_surprise": 2.5, "min_count": 3})
    out = checked(run_engine(records, short(rules=(rule,))))
    start, _ = one_insight(out, "ApiA")
    assert start.event_minute == START + SEM_SPIKE[0] and start.insight_average == 6.0
    assert of(out, "ApiB") == []
