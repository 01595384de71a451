"""The whole engine in memory: records in minute batches, Insight transitions out.

Most scenarios use a one-day window and a two-hour warm-up to stay fast; one module fixture runs
the default configuration (7-day window, 36 h warm-up) over three days of one-minute traffic.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable

import msgspec
import numpy as np
import pytest

from insights import snapshot as snapshot_module
from insights.config import DetectorParams, EngineConfig, Rule, suppress
from insights.engine import Engine
from insights.events import encode_events_jsonl, insight_event
from insights.snapshot import SnapshotError
from insights.transition import InsightTransition
from tests.builders import (
    ACCOUNT,
    ARN,
    DAY,
    HOUR,
    NAME,
    START,
    RecordsByMinute,
    api,
    ends,
    feed,
    key_of,
    merge,
    poisson_counts,
    record,
    run_engine,
    starts,
    steady_with,
    stream,
)
from tests.schema import assert_insight_shape

SHORT = EngineConfig(window_minutes=DAY, warmup_minutes=2 * HOUR)
BACKGROUND = api("CreateBucket", source="s3.amazonaws.com")


def short(**overrides: object) -> EngineConfig:
    return EngineConfig(**{"window_minutes": DAY, "warmup_minutes": 2 * HOUR, **overrides})  # type: ignore[arg-type]


def background(minutes: int, seed: int = 99, rate: float = 5.0) -> RecordsByMinute:
    """Steady write traffic on another API of the same account and region: it keeps the event-time
    clock moving and the scope warm."""
    return stream({BACKGROUND: poisson_counts(rate, minutes, seed)})


def checked(transitions: list[InsightTransition]) -> list[InsightTransition]:
    """Every record has AWS's shape; per key, Starts and Ends alternate and pair up."""
    shared: dict[tuple[object, ...], InsightTransition] = {}
    for t in transitions:
        record = insight_event(t)
        assert_insight_shape(record)
        k = key_of(t)
        if t.state == "Start":
            assert k not in shared, f"second Start before an End: {t}"
            assert t.event_minute == t.start_minute
            assert t.insight_average > 0 or t.direction == "down"
            shared[k] = t
        else:
            start = shared.pop(k)
            assert t.start_minute == start.start_minute and t.direction == start.direction
            assert t.event_minute > start.event_minute
            assert t.insight_duration == t.event_minute - t.start_minute
            assert record["sharedEventID"] == insight_event(start)["sharedEventID"]
    return transitions


def of(transitions: Iterable[InsightTransition], name: str) -> list[InsightTransition]:
    return [t for t in transitions if t.event_name == name]


def one_insight(
    transitions: list[InsightTransition], name: str
) -> tuple[InsightTransition, InsightTransition]:
    mine = of(transitions, name)
    assert [t.state for t in mine] == ["Start", "End"], mine
    return mine[0], mine[1]


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
    # Announced early (insights.early), while the minutes of the allowed lateness before it were still
    # open: its baseline is every closed minute before the spike.
    assert start.baseline_duration == SPIKE[0] - EngineConfig().allowed_lateness_minutes
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


# -- shapes of anomaly -------------------------------------------------------------------------------
def test_drop_to_zero_starts_down_then_ends() -> None:
    n = 30 * HOUR
    drop = (27 * HOUR, 27 * HOUR + 30)
    busy = steady_with(20.0, n, 5, {drop: 0})
    config = EngineConfig(window_minutes=2 * DAY, warmup_minutes=6 * HOUR)
    out = checked(run_engine(merge(background(n), stream({api(): busy})), config))
    start, end = one_insight(out, NAME)
    assert start.direction == "down" == end.direction
    assert START + drop[0] <= start.start_minute <= START + drop[0] + 2
    assert start.insight_average == 0.0 and start.baseline_average == pytest.approx(20.0, rel=0.05)
    assert end.event_minute == START + drop[1]
    assert len(out) == 2


def test_sustained_threefold_step_is_flagged() -> None:
    n = 8 * HOUR
    step = (6 * HOUR, 7 * HOUR)
    counts = steady_with(5.0, n, 7, {step: 15.0})
    out = checked(run_engine(merge(background(n), stream({api(): counts})), SHORT))
    mine = of(out, NAME)
    assert mine and mine[0].state == "Start" and mine[0].direction == "up"
    # A sustained start may include a minute or two of chance-high counts just before the step.
    assert START + step[0] - 2 <= mine[0].start_minute <= START + step[0] + 5
    assert all(START + step[0] - 2 <= t.start_minute < START + step[1] for t in mine)
    assert ends(mine)[-1].event_minute <= START + step[1] + 1
    assert len(out) == len(mine)


def test_steady_poisson_over_two_days_gives_nothing() -> None:
    n = 2 * DAY + 6 * HOUR
    series = {
        api("RunInstances"): poisson_counts(5.0, n, 21),
        api("PutObject", source="s3.amazonaws.com"): poisson_counts(40.0, n, 22),
        api("CreateTags"): poisson_counts(0.3, n, 23),
        api("Decrypt", source="kms.amazonaws.com", read_only=True, error_code="AccessDenied"): poisson_counts(
            2.0, n, 24
        ),
    }
    assert run_engine(stream(series), EngineConfig(window_minutes=2 * DAY, warmup_minutes=12 * HOUR)) == []


def test_spike_on_short_window() -> None:
    n = 5 * HOUR
    spike = (4 * HOUR, 4 * HOUR + 3)
    out = checked(
        run_engine(merge(background(n), stream({api(): steady_with(5.0, n, 8, {spike: 50})})), SHORT)
    )
    start, end = one_insight(out, NAME)
    assert start.event_minute == START + spike[0] and end.event_minute == START + spike[1]
    assert end.insight_average == 50.0 > start.baseline_average


def test_window_shorter_than_a_day() -> None:
    """Any ``window_minutes`` is a valid setting; below a day there are simply no same-hour-of-day
    references yet, and a plain spike is still found."""
    n = 5 * HOUR
    spike = (4 * HOUR, 4 * HOUR + 3)
    config = short(window_minutes=6 * HOUR)
    out = checked(
        run_engine(merge(background(n), stream({api(): steady_with(5.0, n, 8, {spike: 50})})), config)
    )
    start, end = one_insight(out, NAME)
    assert start.event_minute == START + spike[0] and end.event_minute == START + spike[1]


def test_attribution_averages_cover_the_insight_period() -> None:
    """Attributions are per-minute averages during the insight: with one caller and no errors, the
    single value of each attribute averages exactly the insight's own average (Start and End)."""
    n = 5 * HOUR
    spike = (4 * HOUR, 4 * HOUR + 5)
    out = checked(
        run_engine(merge(background(n), stream({api(): steady_with(5.0, n, 8, {spike: 60})})), SHORT)
    )
    start, end = one_insight(out, NAME)
    for t in (start, end):
        for a in t.attributions:
            values = {v.value: v.average for v in a.insight}
            expected = {"userIdentityArn": ARN, "errorCode": "null"}.get(a.attribute)
            if expected is not None:
                assert list(values) == [expected], (t.state, a)
            assert sum(values.values()) == pytest.approx(t.insight_average), (t.state, a.attribute, values)


def test_permanent_level_shift_is_closed_and_accepted() -> None:
    n = 8 * HOUR
    config = short(detector=DetectorParams(max_insight_minutes=60))
    counts = steady_with(5.0, n, 9, {(3 * HOUR, n): 50.0})
    out = checked(run_engine(merge(background(n), stream({api(): counts})), config))
    start, end = one_insight(out, NAME)
    assert start.event_minute == START + 3 * HOUR
    assert end.insight_duration == 60 and end.insight_average == pytest.approx(50.0, rel=0.05)


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
    assert all(key[4] != "DescribeInstances" for key in engine.track.keys.index)
    assert not [key for key in engine.track.keys.index if len(key) > 5]


def test_missing_read_only_is_not_a_write() -> None:
    engine = Engine(SHORT)
    unknown = api("GetConsoleScreenshot", read_only=None)
    out = run_engine(merge(background(N_SEM), stream({unknown: _spiky(32, value=500)})), engine=engine)
    assert out == []
    assert all(key[4] != "GetConsoleScreenshot" for key in engine.track.keys.index)


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
    assert list(engine.track.keys.index) == [
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
    assert len([k for k in engine.track.keys.index if k[4] == NAME]) == 3
    by_region = {t.region: t for t in starts(out)}
    assert by_region["us-east-1"].insight_average == 100.0 and by_region["eu-west-1"].insight_average == 80.0


# -- delivery: duplicates and late records ----------------------------------------------------------
def test_duplicates_count_once() -> None:
    n = 4 * HOUR
    spike_minute = START + 3 * HOUR
    clean = merge(background(n), stream({api(): steady_with(5.0, n, 51, {(3 * HOUR, 3 * HOUR + 2): 40})}))
    expected = checked(run_engine(clean, SHORT))
    assert [t.state for t in expected] == ["Start", "End"] and expected[0].insight_average == 40.0

    dirty = {m: list(records) for m, records in clean.items()}
    dup_count = 0
    for minute in (spike_minute, spike_minute + 1, START + 3 * HOUR - 30):
        originals = [r for r in clean[minute] if r.eventSource == "ec2.amazonaws.com"]
        dirty[minute] = dirty[minute] + originals  # twice in the same batch
        dirty[minute + 3] = dirty[minute + 3] + originals  # again three batches later
        dup_count += 2 * len(originals)
    engine = Engine(SHORT)
    assert run_engine(dirty, engine=engine) == expected
    assert engine.normaliser.skipped["duplicate"] == dup_count


def test_records_delivered_within_lateness_count() -> None:
    n = 4 * HOUR
    spike = 3 * HOUR
    clean = merge(background(n), stream({api(): steady_with(5.0, n, 52, {(spike, spike + 1): 60})}))
    expected = checked(run_engine(clean, SHORT))
    delayed = {m: list(rs) for m, rs in clean.items()}
    delayed[START + spike + 6] = delayed[START + spike + 6] + delayed[START + spike]
    delayed[START + spike] = []
    # Closed minutes do not depend on arrival order; an early Start, announced from the records
    # so far, carries that moment's figures, but the same insights start and end.
    at_close = short(early_starts=False)
    assert run_engine(delayed, at_close) == checked(run_engine(clean, at_close))
    assert ids(run_engine(delayed, SHORT)) == ids(expected)


def ids(transitions: list[InsightTransition]) -> list[tuple[str, object]]:
    """What identifies each transition in the AWS record: its state and eventID."""
    return [(t.state, insight_event(t)["eventID"]) for t in transitions]


def test_records_older_than_watermark_minus_lateness_are_late() -> None:
    n = 4 * HOUR
    lateness = SHORT.allowed_lateness_minutes
    base = merge(background(n), stream({api(): poisson_counts(5.0, n, 53)}))
    expected = run_engine(base, SHORT)
    engine = Engine(SHORT)
    out = feed(engine, {m: rs for m, rs in base.items() if m < START + 3 * HOUR})
    now = START + 3 * HOUR - 1  # newest minute seen so far
    late = [record(now - lateness - 1 - k % 20, second=k % 60) for k in range(300)]
    out += engine.process(late)
    out += run_engine({m: rs for m, rs in base.items() if m >= START + 3 * HOUR}, engine=engine)
    assert out == expected == []
    assert engine.normaliser.skipped["late"] == 300


def test_out_of_order_delivery_within_lateness_changes_nothing() -> None:
    """CloudTrail delivers unordered: any order within the allowed lateness gives the same output,
    including when a scope's first minutes arrive after a later minute of it."""
    n = 5 * HOUR
    records = merge(
        background(n),
        stream(
            {
                api(): steady_with(5.0, n, 54, {(4 * HOUR, 4 * HOUR + 5): 60}),
                api(
                    "Decrypt", source="kms.amazonaws.com", read_only=True, error_code="AccessDenied"
                ): steady_with(0.3, n, 55, {(4 * HOUR + 20, 4 * HOUR + 25): 30}),
            }
        ),
    )
    at_close = short(early_starts=False)  # early Starts carry the figures of the moment they go out
    expected = checked(run_engine(records, at_close))
    assert len(expected) == 4
    rng = random.Random(5)
    delayed: RecordsByMinute = {START: list(records[START + 6])}  # minute 6 seen first
    for minute, rs in records.items():
        for r in rs:
            delay = SHORT.allowed_lateness_minutes - 2 if minute < START + 6 else rng.randint(0, 8)
            delayed.setdefault(minute + delay, []).append(r)
    for rs in delayed.values():
        rng.shuffle(rs)
    assert ids(run_engine(delayed, SHORT)) == ids(expected)
    got = run_engine(delayed, at_close)
    summary = [(t.state, t.event_name, t.baseline_duration, round(t.baseline_average, 6)) for t in got]
    assert summary == [
        (t.state, t.event_name, t.baseline_duration, round(t.baseline_average, 6)) for t in expected
    ]
    assert got == expected


# -- warm-up --------------------------------------------------------------------------------------
def test_no_insight_during_warmup_even_for_enormous_spike() -> None:
    n = 6 * HOUR
    config = short(warmup_minutes=4 * HOUR)
    early = steady_with(5.0, n, 61, {(2 * HOUR, 2 * HOUR + 3): 5000})
    assert run_engine(merge(background(n), stream({api(): early})), config) == []
    # The same spike once the scope is warm is an insight: the test above is not vacuous.
    late = steady_with(5.0, n, 61, {(5 * HOUR, 5 * HOUR + 3): 5000})
    out = checked(run_engine(merge(background(n), stream({api(): late})), config))
    assert [t.state for t in of(out, NAME)] == ["Start", "End"]


def test_warmup_is_per_account_and_region() -> None:
    n = 6 * HOUR
    newcomer = np.zeros(n, np.int64)
    newcomer[5 * HOUR : 5 * HOUR + 3] = 500
    out = run_engine(merge(background(n), stream({api(NAME, account="999988887777"): newcomer})), SHORT)
    assert out == []


# -- rules ----------------------------------------------------------------------------------------
def test_suppress_rule_silences_one_api() -> None:
    series = {api("RunInstances"): _spiky(71), api("TerminateInstances"): _spiky(72)}
    records = merge(background(N_SEM), stream(series))
    both = checked(run_engine(records, SHORT))
    assert {t.event_name for t in both} == {"RunInstances", "TerminateInstances"}
    out = checked(run_engine(records, short(rules=(suppress(event_name="RunInstances"),))))
    assert {t.event_name for t in out} == {"TerminateInstances"} and len(out) == 2


def test_suppress_rule_by_insight_type() -> None:
    failing = api("RunInstances", error_code="InsufficientInstanceCapacity")
    records = merge(background(N_SEM), stream({failing: _spiky(73, rate=0.5, value=60)}))
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


# -- the baseline does not learn from insights ------------------------------------------------------
def test_minutes_inside_an_insight_do_not_feed_the_baseline() -> None:
    n = 8 * HOUR
    counts = steady_with(5.0, n, 81, {(3 * HOUR, 3 * HOUR + 20): 80, (6 * HOUR, 6 * HOUR + 3): 100})
    out = checked(run_engine(merge(background(n), stream({api(): counts})), SHORT))
    s1, e1, s2, e2 = of(out, NAME)
    assert e1.baseline_average == s1.baseline_average and e1.baseline_duration == s1.baseline_duration
    assert e2.baseline_average == s2.baseline_average
    # Announced early: the baseline is every minute closed by then (all before the spike).
    assert s1.baseline_duration == 3 * HOUR - SHORT.allowed_lateness_minutes
    assert s1.baseline_average == pytest.approx(counts[: s1.baseline_duration].mean(), rel=1e-9)
    # The second insight's baseline: every minute before it except the first insight's. The
    # minutes that confirmed its end may be left out too (the insight was still open then).
    # Announced early, it covers the minutes closed by then.
    upto = s2.decided_minute - START - SHORT.allowed_lateness_minutes
    learnt = np.ones(upto, dtype=bool)
    learnt[s1.start_minute - START : e1.event_minute - START] = False
    strict = (counts[:upto][learnt].mean(), int(learnt.sum()))
    learnt[e1.event_minute - START : e1.decided_minute - START + 1] = False
    loose = (counts[:upto][learnt].mean(), int(learnt.sum()))
    got = (s2.baseline_average, s2.baseline_duration)
    matches = [got[1] == n and got[0] == pytest.approx(avg, rel=1e-9) for avg, n in (strict, loose)]
    assert any(matches), (got, strict, loose)
    assert s2.baseline_average < 6.0


# -- snapshot and restore --------------------------------------------------------------------------
RICH_START = START + 6 * HOUR  # 06:00: the run crosses noon, where 12-hour attribution epochs turn


def _rich_stream(n: int) -> RecordsByMinute:
    """Both tracks, many callers (more than the attribution sketch has slots), an insight open at
    the cut (``CUT``) and one starting after it, hour rolls and an attribution epoch change."""
    arns = tuple(f"arn:aws:iam::111122223333:user/u{i:02d}" for i in range(14))
    agents = tuple(f"agent/{i}" for i in range(11))
    series = {
        BACKGROUND: poisson_counts(5.0, n, 99),
        api(NAME, arns=arns, agents=agents): steady_with(6.0, n, 91, {(5 * HOUR + 30, 5 * HOUR + 55): 70}),
        api("PutObject", source="s3.amazonaws.com", arns=arns[:5]): poisson_counts(12.0, n, 92),
        api(
            "GetObject", source="s3.amazonaws.com", read_only=True, error_code="NoSuchKey", arns=arns
        ): steady_with(0.5, n, 93, {(5 * HOUR - 5, 5 * HOUR + 10): 25}),
        api("ListUsers", source="iam.amazonaws.com", read_only=True): poisson_counts(3.0, n, 94),
    }
    return stream(series, start=RICH_START)


SNAP = SHORT
CUT = RICH_START + 5 * HOUR + 7  # mid-hour, the error insight open, minutes still buffered


def _halves(records: RecordsByMinute) -> tuple[RecordsByMinute, RecordsByMinute]:
    return {m: rs for m, rs in records.items() if m < CUT}, {m: rs for m, rs in records.items() if m >= CUT}


def test_restored_engine_snapshots_to_the_same_bytes() -> None:
    first, _ = _halves(_rich_stream(8 * HOUR))
    original = Engine(SNAP)
    assert any(t.state == "Start" for t in feed(original, first))
    data = original.snapshot()
    restored = Engine.restore(data, SNAP)
    assert restored.snapshot() == data
    assert original.snapshot() == data  # snapshotting twice in a row changes nothing


def test_snapshot_restore_continues_identically() -> None:
    records = _rich_stream(8 * HOUR)
    first, rest = _halves(records)
    uninterrupted = checked(run_engine(records, SNAP))
    assert {(t.insight_type, t.state) for t in uninterrupted if t.decided_minute > CUT} >= {
        ("ApiCallRateInsight", "Start"),
        ("ApiErrorRateInsight", "End"),
    }
    original = Engine(SNAP)
    before = feed(original, first)
    data = original.snapshot()
    restored = Engine.restore(data, SNAP)
    after_restore = run_engine(rest, engine=restored)
    after_original = run_engine(rest, engine=original)
    assert after_restore == after_original
    assert restored.snapshot() == original.snapshot()
    assert before + after_restore == uninterrupted


def test_snapshot_does_not_change_what_the_engine_does() -> None:
    """Taking a snapshot (e.g. at each checkpoint) must not alter later output."""
    records = _rich_stream(8 * HOUR)
    uninterrupted = run_engine(records, SNAP)
    engine = Engine(SNAP)
    out: list[InsightTransition] = []
    for minute in sorted(records):
        out += engine.process(records[minute])
        if minute % 37 == 0:
            engine.snapshot()
    out += engine.finish()
    assert out == uninterrupted


def test_snapshot_bytes_equal_after_same_history() -> None:
    records = _rich_stream(6 * HOUR)
    a, b = Engine(SNAP), Engine(SNAP)
    feed(a, records)
    feed(b, records)
    assert a.snapshot() == b.snapshot()
    c = Engine.restore(a.snapshot(), SNAP)
    assert c.snapshot() == a.snapshot()
    assert c.finish() == a.finish() and c.snapshot() == a.snapshot()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a snapshot",
        b"\xff\x00\x13garbage",
        msgspec.msgpack.encode([1, 2, 3]),
        msgspec.msgpack.encode({"version": 999, "state": {}}),
        msgspec.msgpack.encode({"version": snapshot_module.FORMAT_VERSION, "state": "x"}),
        msgspec.msgpack.encode({"version": snapshot_module.FORMAT_VERSION, "state": {"closed_through": 3}}),
    ],
)
def test_corrupt_snapshot_raises(data: bytes) -> None:
    with pytest.raises(SnapshotError):
        Engine.restore(data, SHORT)


def test_truncated_or_tampered_snapshot_raises() -> None:
    engine = Engine(SHORT)
    feed(engine, merge(background(3 * HOUR), stream({api(): poisson_counts(5.0, 3 * HOUR, 95)})))
    data = engine.snapshot()
    for bad in (data[: len(data) // 2], data[:-1]):
        with pytest.raises(SnapshotError):
            Engine.restore(bad, SHORT)
    tree = msgspec.msgpack.decode(data)
    tree["state"]["track"]["columns"]["ewma"]["data"] = b"\x00\x01\x02"  # wrong length for its shape
    with pytest.raises(SnapshotError):
        Engine.restore(msgspec.msgpack.encode(tree), SHORT)
    del tree["state"]["track"]
    with pytest.raises(SnapshotError):
        Engine.restore(msgspec.msgpack.encode(tree), SHORT)


# -- bounded keys ---------------------------------------------------------------------------------
def _flood(minutes: range, per_minute: int, prefix: str) -> RecordsByMinute:
    rng = np.random.default_rng(7)
    return {
        START + m: [
            record(START + m, second=i % 60, name=f"{prefix}{rng.integers(1 << 40):x}")
            for i in range(per_minute)
        ]
        for m in minutes
    }


def test_key_cap_bounds_tracked_keys_and_idle_keys_make_room() -> None:
    cap = 12
    n = 4 * HOUR
    config = short(max_keys=cap)  # hourly idle eviction only after 7 days: not involved
    flood = _flood(range(30, 36), 200, "Fuzz")
    late_names = [f"LateApi{i}" for i in range(5)]
    late = {
        START + 3 * HOUR + i: [record(START + 3 * HOUR + i, name=name) for name in late_names]
        for i in range(3)
    }
    spike = stream({api(): steady_with(5.0, n, 96, {(3 * HOUR + 30, 3 * HOUR + 33): 80})})
    records = merge(background(n), spike, flood, late)
    engine = Engine(config)
    out: list[InsightTransition] = []
    for minute in sorted(records):
        out += engine.process(records[minute])
        assert len(engine.track.keys) <= cap and engine.track.keys.high_water <= cap
    out += engine.finish()
    assert engine.track.dropped_full == 6 * 200 - (cap - 2)  # two slots taken by steady APIs
    assert len(engine.track.cols) <= max(64, 2 * cap)
    tracked = {k[4] for k in engine.track.keys.index}
    assert set(late_names) <= tracked and {"CreateBucket", NAME} <= tracked
    # Detection on the keys that were there before the flood still works.
    start, _ = one_insight(checked(out), NAME)
    assert start.event_minute == START + 3 * HOUR + 30
    assert not [t for t in out if t.event_name.startswith("Fuzz")]


def test_eviction_never_moves_counts_between_keys() -> None:
    """A full table evicts an idle key to make room: calls of that key arriving in the same batch,
    before the newcomer, must stay with their own key, not be counted for the newcomer."""
    n = 4 * HOUR
    quiet_then_busy = np.zeros(n, np.int64)
    quiet_then_busy[:30] = 1
    records = merge(background(n), stream({api(): quiet_then_busy}))
    minute = START + 3 * HOUR
    records[minute] = records[minute] + [record(minute, second=i % 60) for i in range(50)]
    records[minute] = records[minute] + [record(minute, name="NewApi")]
    engine = Engine(short(max_keys=2))
    out = checked(run_engine(records, engine=engine))
    assert [t for t in out if t.event_name == "NewApi"] == [], "counts of another key reported as NewApi"
    start, _ = one_insight(out, NAME)
    assert start.insight_average == 50.0


def test_idle_keys_are_evicted_hourly() -> None:
    n = 4 * HOUR
    config = short(max_keys=50, idle_evict_minutes=90)
    engine = Engine(config)
    run_engine(merge(background(n), _flood(range(10, 12), 30, "Idle")), engine=engine)
    assert {k[4] for k in engine.track.keys.index} == {"CreateBucket"}
    assert engine.track.dropped_full == 60 - 49


# -- determinism ----------------------------------------------------------------------------------
def test_same_input_gives_identical_bytes() -> None:
    records = _rich_stream(7 * HOUR)
    outputs = [encode_events_jsonl(insight_event(t) for t in run_engine(records, SNAP)) for _ in range(2)]
    assert outputs[0] and outputs[0] == outputs[1]
    rebuilt = encode_events_jsonl(insight_event(t) for t in run_engine(_rich_stream(7 * HOUR), SNAP))
    assert rebuilt == outputs[0]


def test_counts_by_state_and_type_are_balanced() -> None:
    out = checked(run_engine(_rich_stream(8 * HOUR), SNAP))
    tally = Counter((t.insight_type, t.state) for t in out)
    for kind in ("ApiCallRateInsight", "ApiErrorRateInsight"):
        assert tally[(kind, "Start")] == tally[(kind, "End")] >= 1


# -- early Starts and the future bound ------------------------------------------------------------
def test_spike_starts_while_its_minute_is_open_and_is_not_started_twice() -> None:
    n = 4 * HOUR
    spike = 3 * HOUR
    records = merge(background(n), stream({api(): steady_with(5.0, n, 91, {(spike, spike + 3): 80})}))
    engine = Engine(SHORT)
    out = feed(engine, {m: rs for m, rs in records.items() if m < START + spike})
    assert out == []
    first = [r for r in records[START + spike] if r.eventName == NAME][:40]  # half the spike's calls
    started = engine.process(first)
    assert [(t.state, t.event_name, t.start_minute) for t in started] == [("Start", NAME, START + spike)]
    assert engine.closed_through is not None and engine.closed_through < START + spike  # minute still open
    assert started[0].insight_average == 40.0 and started[0].decided_minute == START + spike
    rest = {m: [r for r in rs if r not in first] for m, rs in records.items() if m >= START + spike}
    later = checked(started + feed(engine, rest) + engine.finish())
    mine = of(later, NAME)
    assert [t.state for t in mine] == ["Start", "End"]  # closing the minute sent no second Start
    assert insight_event(mine[0])["sharedEventID"] == insight_event(mine[1])["sharedEventID"]
    assert mine[1].insight_average == pytest.approx(80.0)
    assert mine[1].baseline_average == mine[0].baseline_average
    # The same stream with Starts decided at close gives the same insights.
    assert ids(later) == ids(checked(run_engine(records, short(early_starts=False))))


def test_records_dated_after_the_latest_minute_are_dropped_as_future() -> None:
    n = 3 * HOUR
    records = merge(background(n), stream({api(): poisson_counts(5.0, n, 92)}))
    engine = Engine(SHORT)
    for minute in sorted(records):
        engine.process_classified([engine.classify(records[minute], latest_minute=minute + 2)])
        if minute == START + 2 * HOUR:  # a record from a clock a day ahead
            engine.process_classified([engine.classify([record(minute + DAY)], latest_minute=minute + 2)])
    assert engine.normaliser.skipped["future"] == 1
    assert engine.normaliser.max_minute == START + n - 1
    assert engine.closed_through == START + n - 1 - SHORT.allowed_lateness_minutes - 1
