"""The windowed evidence (insights/evidence.py): what it accumulates, that judging a key only when it
has calls gives the sums of judging it every minute, and that it stays quiet at the reference."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insights.baseline import Baseline, RingLayout
from insights.columns import Columns
from insights.config import EngineConfig
from insights.evidence import (
    EVIDENCE_FIELDS,
    EVIDENCE_SIDES,
    LN10,
    NOT_STARTED,
    SIDE,
    Excursion,
    accumulate,
    advance,
    back_to_normal,
    excursion,
    judged,
)
from insights.evidence_kernel import pick_starts, step_keys
from insights.keyspace import KeySpace
from insights.lifecycle import SINCE_EVIDENCE, Lifecycle
from insights.snapshot import pack_array

F64 = npt.NDArray[np.float64]
ONE_KEY = np.array([0])
H_AT_6 = 6 * LN10


def one(value: float) -> F64:
    return np.array([float(value)])


def fresh() -> Columns:
    cols = Columns(EVIDENCE_FIELDS)
    cols.ensure(1)
    return cols


def judge(
    cols: Columns, side: str, minute: int, count: float, mu: float, rho: float, longest: float = 1e9
) -> Excursion:
    out = accumulate(
        cols,
        side,
        ONE_KEY,
        minute,
        one(count),
        one(mu),
        one(1.0),
        one(rho),
        np.array([True]),
        one(longest),
        one(1e9),
    )
    judged(cols, ONE_KEY, minute)
    return out


def as_tuple(e: Excursion) -> tuple[float, int, float, float]:
    return (
        round(float(e.sum[0]), 6),
        int(e.first[0]),
        round(float(e.observed[0]), 6),
        round(float(e.expected[0]), 6),
    )


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.sampled_from([0, 0, 0, 1, 2, 5]), min_size=1, max_size=120),
    mu=st.sampled_from([0.0, 0.05, 0.4, 2.0]),
    side=st.sampled_from([("up", 1.5), ("dn", 0.1)]),
)
def test_judging_only_minutes_with_calls_gives_the_sums_of_judging_every_minute(
    counts: list[int], mu: float, side: tuple[str, float]
) -> None:
    """The engine judges an idle key when it next has calls; the silent minutes in between are
    applied in one step. The first and last minutes are judged in both (a key is judged from the
    minute it is first seen; the last stands for a close with calls)."""
    name, rho = side
    every, lazy = fresh(), fresh()
    for minute, count in enumerate(counts, start=1000):
        expect = judge(every, name, minute, count, mu, rho)
        if count or minute in (1000, 999 + len(counts)):
            got = judge(lazy, name, minute, count, mu, rho)
    assert as_tuple(got) == pytest.approx(as_tuple(expect), rel=1e-5, abs=1e-5)


def test_two_hours_at_three_times_a_quiet_reference_is_found_and_dated_from_its_first_minute() -> None:
    cols = fresh()
    rng = np.random.default_rng(3)
    fired_at = None
    for minute in range(0, 600):
        rate = 1.2 if 300 <= minute < 420 else 0.4
        e = judge(cols, "up", minute, float(rng.poisson(rate)), 0.4, 1.5)
        if fired_at is None and e.sum[0] >= H_AT_6:
            fired_at, first = minute, int(e.first[0])
    assert fired_at is not None and 300 < fired_at < 420, fired_at
    assert 295 <= first <= 330, first  # the excursion starts within minutes of the rise


def test_traffic_at_its_reference_never_comes_near_the_threshold() -> None:
    """100 k minutes (69 days) of Poisson calls at the reference: no false alarm at 1e-6 scale in
    either direction, and the sums return to zero (no drift)."""
    rng = np.random.default_rng(11)
    for rho, name in ((1.5, "up"), (0.1, "dn")):
        for rate in (0.1, 0.5, 3.0, 50.0):
            cols = fresh()
            highest = 0.0
            counts = rng.poisson(rate, 100_000)
            for minute, count in enumerate(counts.tolist()):
                highest = max(highest, float(judge(cols, name, minute, count, rate, rho).sum[0]))
            assert highest < H_AT_6, (name, rate, highest)


def test_a_drop_to_nothing_of_two_calls_a_minute_fires_within_ten_minutes() -> None:
    cols = fresh()
    for minute in range(100):
        judge(cols, "dn", minute, 2.0, 2.0, 0.1)
    fired = [m for m in range(100, 130) if judge(cols, "dn", m, 0.0, 2.0, 0.1).sum[0] >= H_AT_6]
    assert fired and fired[0] <= 109
    assert int(cols["ev_first"][0, SIDE["dn"]]) == 100


def test_an_excursion_longer_than_the_longest_restarts_with_the_minute() -> None:
    cols = fresh()
    for minute in range(10):
        e = judge(cols, "up", minute, 1.0, 0.1, 1.5, longest=5)
    # one call over 0.1 adds 0.36 and a rise holds two units (0.81) from its first minute: minute 2
    # starts the excursion, 7 ends it (its sum restarts from that minute's call), 9 starts the next
    assert int(e.first[0]) == 9 and float(e.observed[0]) == 1.0


def test_keys_not_on_forget_their_evidence() -> None:
    cols = fresh()
    judge(cols, "up", 0, 9.0, 1.0, 1.5)
    off = accumulate(
        cols, "up", ONE_KEY, 1, one(9.0), one(1.0), one(1.0), one(1.5), np.array([False]), one(480), one(1e9)
    )
    assert as_tuple(off) == (0.0, NOT_STARTED, 0.0, 0.0)


def test_back_to_normal_grows_while_calls_are_at_the_reference_and_resets_while_raised() -> None:
    at_reference = back_to_normal(one(0.0), one(2.0), one(2.0), one(1.0), one(0.1))
    assert float(at_reference[0]) > 2  # a drop to 0.1 of 2 calls a minute: one ordinary minute says a lot
    still_low = back_to_normal(one(1.5), one(0.0), one(2.0), one(1.0), one(0.1))
    assert float(still_low[0]) == 0.0  # a silent minute takes 1.8 away


def test_a_lifecycle_state_saved_before_the_evidence_restores_with_none_accumulated() -> None:
    saved = Lifecycle()
    saved.cols.ensure(2)
    saved.cols["open_dir"][1] = 1
    state = {k: v for k, v in saved.to_state(2).items() if k not in SINCE_EVIDENCE}
    restored = Lifecycle()
    restored.load_state(state, 2)
    assert restored.direction(1) == 1
    assert restored.cols["ev_first"][:2].tolist() == [[NOT_STARTED] * len(EVIDENCE_SIDES)] * 2
    assert restored.cols["ev_at"][:2].tolist() == [NOT_STARTED, NOT_STARTED]
    del state["open_dir"]
    with pytest.raises(KeyError):  # only the evidence's columns may be missing
        Lifecycle().load_state(state, 2)


def test_a_lifecycle_state_saved_with_a_column_per_side_restores_into_the_shared_columns() -> None:
    saved = Lifecycle()
    saved.cols.ensure(2)
    for side, (total, first) in zip(EVIDENCE_SIDES, ((1.5, 10), (0.0, NOT_STARTED), (7.25, 30)), strict=True):
        saved.cols["ev_sum"][1, SIDE[side]] = total
        saved.cols["ev_first"][1, SIDE[side]] = first
        saved.cols["ev_obs"][1, SIDE[side]] = total * 2
        saved.cols["ev_exp"][1, SIDE[side]] = total / 2
    state = saved.to_state(2)
    per_side = {k: v for k, v in state.items() if k not in {"ev_sum", "ev_first", "ev_obs", "ev_exp"}}
    for side in EVIDENCE_SIDES:  # as states were written before the sides shared their columns
        for name, part in (("ev_sum", ""), ("ev_first", "_first"), ("ev_obs", "_obs"), ("ev_exp", "_exp")):
            per_side[f"ev_{side}{part}"] = pack_array(saved.cols[name][:2, SIDE[side]])
    restored = Lifecycle()
    restored.load_state(per_side, 2)
    for name in ("ev_sum", "ev_first", "ev_obs", "ev_exp"):
        assert restored.cols[name][:2].tolist() == saved.cols[name][:2].tolist(), name


def test_weighing_one_side_alone_gives_that_side_of_weighing_all_three() -> None:
    rng = np.random.default_rng(5)
    slots = np.arange(4)
    together, alone = fresh(), {side: fresh() for side in EVIDENCE_SIDES}
    for cols in (together, *alone.values()):
        cols.ensure(4)
    rhos = {"up": 2.0, "ux": 8.0, "dn": 0.1}
    for minute in range(200):
        counts = rng.poisson([0.5, 2.0, 0.1, 5.0]).astype(np.float64) * (minute < 120)
        mu, on, rest = np.array([0.5, 2.0, 0.1, 5.0]), np.ones(4, bool), (np.full(4, 480.0), np.full(4, 9.0))
        rho = np.stack([np.full(4, rhos[s]) for s in EVIDENCE_SIDES])
        all_sides = advance(together, slots, minute, counts, np.stack([mu] * 3), np.ones(4), rho, on, *rest)
        judged(together, slots, minute)
        for i, side in enumerate(EVIDENCE_SIDES):
            one_side = accumulate(
                alone[side], side, slots, minute, counts, mu, np.ones(4), np.full(4, rhos[side]), on, *rest
            )
            judged(alone[side], slots, minute)
            assert as_tuple_all(one_side) == as_tuple_all(excursion(all_sides[:, i])), (minute, side)
            assert (
                alone[side]["ev_sum"][:4, SIDE[side]].tolist() == together["ev_sum"][:4, SIDE[side]].tolist()
            )


def as_tuple_all(e: Excursion) -> tuple[list[float], list[int], list[float], list[float]]:
    return e.sum.tolist(), e.first.tolist(), e.observed.tolist(), e.expected.tolist()


@pytest.mark.parametrize(
    ("missing", "restored_from"),
    [
        (("ref_mean",), {"ref_mean": "ref_up"}),  # saved before the windowed evidence
        (("ref_steep",), {"ref_steep": "ref_mean"}),  # saved before the steep sum had its own
        (("ref_mean", "ref_steep"), {"ref_mean": "ref_up", "ref_steep": "ref_up"}),
    ],
)
def test_a_baseline_saved_before_a_reference_existed_restores_it_from_the_one_it_refines(
    missing: tuple[str, ...], restored_from: dict[str, str]
) -> None:
    saved = Baseline(RingLayout())
    saved.cols.ensure(2)
    saved.cols["ref_up"][:2] = [0.5, 3.0]
    saved.cols["ref_mean"][:2] = [0.25, 4.0]
    state = {k: v for k, v in saved.to_state(2).items() if k not in missing}
    restored = Baseline(RingLayout())
    restored.load_state(state, 2)
    for column, source in restored_from.items():
        assert restored.cols[column][:2].tolist() == saved.cols[source][:2].tolist()


def test_a_call_rate_key_is_known_from_its_first_call_and_an_error_key_from_its_scope() -> None:
    keys = KeySpace(EngineConfig())
    api = ("Management", "1", "us-east-1", "s3.amazonaws.com", "PutObject")
    calls = keys.add(api, 900, 0, lambda: False)
    errors = keys.add((*api, "AccessDenied"), 900, 0, lambda: False)
    slots = np.array([calls, errors])
    keys.touch(slots, np.array([880, 880]))  # an earlier record, delivered later
    assert keys.known_for(880 + 1440, 1440, slots).tolist() == [True, True]
    assert keys.known_for(880 + 1439, 1440, slots).tolist() == [False, True]


def test_keys_saved_before_known_since_count_as_known_since_their_scope() -> None:
    keys = KeySpace(EngineConfig())
    keys.add(("Management", "1", "us-east-1", "s3.amazonaws.com", "PutObject"), 900, 10, lambda: False)
    state = keys.to_state()
    del state["columns"]["known_since"]
    restored = KeySpace(EngineConfig())
    restored.load_state(state)
    assert restored.cols["known_since"][:1].tolist() == [10]


def test_the_rise_reference_never_falls_below_the_last_three_hours_up_to_half_as_much_again() -> None:
    """A key grown by a quarter since yesterday is judged against its level now; one that tripled in
    the last three hours is judged against at most 1.5 times yesterday's (it may be a surge)."""
    baseline = Baseline(RingLayout())
    baseline.cols.ensure(2)
    both = np.array([0, 1])
    for minute in range(27 * 60):
        baseline.learn(both, np.array([1.0, 1.0]) if minute < 24 * 60 else np.array([1.25, 3.0]))
        if minute % 60 == 59:
            baseline.roll_hour(minute // 60 + 1, rows=2)
    refs = baseline.references(both, evidence=True)
    assert refs.evidence_up is not None
    assert refs.evidence_up.tolist() == [1.25, 1.5]


def _learnt(counts: npt.NDArray[np.float64]) -> Baseline:
    """A baseline that learnt ``counts`` (minutes x keys) from minute 0, rolling each hour."""
    baseline = Baseline(RingLayout())
    keys = counts.shape[1]
    baseline.cols.ensure(keys)
    slots = np.arange(keys)
    for minute, row in enumerate(counts):
        baseline.learn(slots, row.astype(np.float64))
        if minute % 60 == 59:
            baseline.roll_hour(minute // 60 + 1, rows=keys)
    return baseline


def test_the_references_of_a_rare_code_are_near_its_rate_not_its_noisiest_hour() -> None:
    """A code failing once in 100 minutes: the highest of its 35 hourly means over a week is its
    noise, several times its rate. Its hours differ by chance alone, so the rise's reference draws
    them to each day's five hours pooled, as the steep sum's reference pools them."""
    rate, minutes, keys = 0.01, 7 * 24 * 60 + 600, 16
    counts = np.random.default_rng(7).poisson(rate, size=(minutes, keys)).astype(np.float64)
    noisiest = counts[: minutes // 60 * 60].reshape(-1, 60, keys).mean(axis=1).max(axis=0)
    assert np.median(noisiest) >= 5 * rate
    refs = _learnt(counts).references(np.arange(keys), evidence=True)
    assert refs.evidence_up is not None and refs.evidence_steep is not None
    assert (refs.evidence_steep > 0).all() and (refs.evidence_up > 0).all()
    assert np.median(refs.evidence_up) <= 2.5 * rate and np.median(refs.evidence_steep) <= 2.5 * rate


def test_the_rise_reference_keeps_a_business_days_ramp() -> None:
    """Hours that truly differ (a ramp from 1 to 9 calls a minute over five hours) keep their own
    means: drawing them to the day's mean would put the busy hour's reference below its level."""
    minutes = 7 * 24 * 60 + 600
    hour_of_day = (np.arange(minutes) // 60) % 24
    rate = np.where((hour_of_day >= 8) & (hour_of_day < 13), 1.0 + 2.0 * (hour_of_day - 8), 0.2)
    counts = np.random.default_rng(8).poisson(rate[:, None], size=(minutes, 4)).astype(np.float64)
    baseline = _learnt(counts)
    hour = minutes // 60
    while hour % 24 != 12:  # the references of the busiest hour, 12:00, on the day after the data
        hour += 1
        baseline.roll_hour(hour, rows=4)
    refs = baseline.references(np.arange(4), evidence=True)
    assert refs.evidence_up is not None
    assert (refs.evidence_up >= 8.5).all(), refs.evidence_up


def test_the_steep_reference_keeps_a_daily_jobs_hour() -> None:
    """A job failing 60 times in one hour a day, nothing else: pooling five hours would dilute it to
    a fifth and its next run would look like a surge; the same hour's median over days is kept."""
    day = np.zeros(24 * 60)
    day[9 * 60 : 10 * 60] = 1.0
    baseline = _learnt(np.tile(day, 2)[:, None])
    baseline.refresh(2 * 24 + 9, rows=1)  # the references for hour 09:00 of the third day
    refs = baseline.references(np.array([0]), evidence=True)
    assert refs.evidence_steep is not None
    assert refs.evidence_steep[0] == pytest.approx(1.0)


def test_a_drop_is_dated_after_the_last_minute_at_its_reference() -> None:
    """A key at one call a minute, silent for five minutes by chance, one call, then silent for good:
    the drop sum stays up through the call, but the drop began after it."""
    cols = fresh()
    counts = [1] * 60 + [0] * 5 + [1] + [0] * 30
    excursion = None
    for minute, count in enumerate(counts):
        excursion = judge(cols, "dn", minute, count, 1.0, 0.1)
    assert excursion is not None and excursion.sum[0] >= 20
    assert int(excursion.first[0]) == 66
    assert float(excursion.observed[0]) == 0.0 and float(excursion.expected[0]) == 30.0


def test_the_steep_sum_forgets_a_call_of_a_key_with_no_reference() -> None:
    """The steep sum counts a reference of zero as MIN_RATE, as the rise sum does: each silent
    minute takes 7e-3 away, so one stray call of a key never seen at this hour (2.1 nats) is
    forgotten in about five hours, not kept until ``evidence_max_minutes`` ends the excursion."""
    cols = fresh()
    judge(cols, "ux", 0, 1.0, 0.0, 8.0, 480)
    assert as_tuple(judge(cols, "ux", 400, 0.0, 0.0, 8.0, 480)) == (0.0, NOT_STARTED, 0.0, 0.0)


def test_the_compiled_step_gives_the_sums_of_the_same_step_run_as_python() -> None:
    """Compiling the step (insights/evidence_kernel.py) changes nothing: over keys judged now and
    then (silent minutes between), some not free to start, at rates from 0 to 5 calls a minute
    rising, dropping and back, every sum, first minute and count is the same bit for bit, and so
    is which of them start."""
    rng = np.random.default_rng(3)
    keys, sides = 24, np.arange(len(EVIDENCE_SIDES), dtype=np.int64)
    compiled, interpreted = fresh(), fresh()
    for cols in (compiled, interpreted):
        cols.ensure(keys)
    rate = rng.choice([0.0, 0.01, 0.3, 1.0, 5.0], keys)
    rho = np.array([[2.0] * keys, [8.0] * keys, [0.1] * keys])
    started = np.zeros(3, dtype=bool)
    for minute in range(29_000_000, 29_000_600):
        slots = np.flatnonzero(rng.random(keys) < 0.4).astype(np.int64)
        shift = rng.choice([0.0, 0.1, 3.0, 10.0], len(slots)) if (minute // 100) % 3 == 1 else 1.0
        counts = rng.poisson(rate[slots] * shift).astype(np.float64)
        mu = np.stack([rate[slots], rate[slots] * 0.7, rate[slots]])
        args = (
            slots, sides, minute, counts, mu, rng.choice([0.5, 1.0, 2.0], len(slots)), rho[:, : len(slots)],
            rng.random(len(slots)) < 0.95, np.full(len(slots), 240.0), np.full(len(slots), 4.6),
        )  # fmt: skip
        outs = []
        for cols, run in ((compiled, step_keys), (interpreted, step_keys.py_func)):  # type: ignore[attr-defined]
            out = np.empty((4, len(sides), len(slots)))
            columns = (cols["ev_sum"], cols["ev_first"], cols["ev_obs"], cols["ev_exp"], cols["ev_at"])
            run(columns, *args, out)
            judged(cols, slots, minute)
            outs.append(out)
        assert np.array_equal(outs[0], outs[1]), minute
        on, keys_now = args[7], len(slots)
        surprise, least, ratio, least_steep = (np.full(keys_now, v) for v in (4.0, 2.0, 1.5, 1.0))
        picked = []
        for run in (pick_starts, pick_starts.py_func):  # type: ignore[attr-defined]
            starts, rising = np.empty((3, keys_now), dtype=bool), np.empty((4, keys_now))
            run(outs[0], on, surprise, least, ratio, least_steep, 0.6, starts, rising)
            picked.append((starts, rising))
        assert np.array_equal(picked[0][0], picked[1][0]) and np.array_equal(picked[0][1], picked[1][1])
        started |= picked[0][0].any(axis=1)
    for name in ("ev_sum", "ev_first", "ev_obs", "ev_exp"):
        assert np.array_equal(compiled[name], interpreted[name]), name
    assert compiled["ev_sum"].any()  # the traffic did build up evidence
    assert started.all()  # and started rises, steep rises and drops


def test_the_falling_reference_reaches_two_hours_for_a_ramp_that_daylight_saving_moves() -> None:
    """12 calls a minute from 06:00, ramping down over 09:30-10:00 to 3 a minute. Moved an hour
    earlier in UTC, the ramp runs through the end of the 08:00 hour: its falling reference must be
    the quiet level two hours on (10:00), not the 09:00 hour's mean with its busy first half. The
    rising reference still looks one hour either side (its busiest, 12)."""
    minute_of_day = np.arange((2 * 24 + 8) * 60) % (24 * 60)
    ramp = np.clip((600 - minute_of_day) / 30, 0.0, 1.0)
    rate = np.where(minute_of_day >= 360, 3.0 + 9.0 * ramp, 3.0)
    counts = np.random.default_rng(9).poisson(rate)[:, None].astype(np.float64)
    baseline = _learnt(counts)
    baseline.refresh(2 * 24 + 8, rows=1)  # the references for hour 08:00 of the third day
    assert baseline.cols["ref_down"][0] <= 4.0
    assert baseline.cols["ref_up"][0] >= 11.0
