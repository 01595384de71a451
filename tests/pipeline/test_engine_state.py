"""State: snapshot and restore, bounded key tables, and byte-identical output for the same input."""

from __future__ import annotations

from collections import Counter

import msgspec
import numpy as np
import pytest

from insights import snapshot as snapshot_module
from insights.engine import Engine
from insights.events import encode_events_jsonl, insight_event
from insights.snapshot import SnapshotError
from insights.transition import InsightTransition
from tests.builders import (
    HOUR,
    NAME,
    START,
    RecordsByMinute,
    api,
    feed,
    merge,
    poisson_counts,
    record,
    run_engine,
    steady_with,
    stream,
)
from tests.pipeline.engine_scenarios import (
    BACKGROUND,
    SHORT,
    background,
    checked,
    one_insight,
    short,
)

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


def test_snapshot_of_the_previous_layout_is_refused_by_name() -> None:
    """Version 3 kept an event-time clock per (input, account, region), without the channel; its
    state cannot be read as version 4, and the error says which versions are involved (the daemon
    prints it and stops with exit 2)."""
    old = msgspec.msgpack.encode({"version": 3, "state": {"normaliser": {"clocks": {"sources": []}}}})
    with pytest.raises(SnapshotError, match=r"format version 3; this trailpulse reads only version 4"):
        Engine.restore(old, SHORT)


def test_truncated_or_tampered_snapshot_raises() -> None:
    engine = Engine(SHORT)
    feed(engine, merge(background(3 * HOUR), stream({api(): poisson_counts(5.0, 3 * HOUR, 95)})))
    data = engine.snapshot()
    for bad in (data[: len(data) // 2], data[:-1]):
        with pytest.raises(SnapshotError):
            Engine.restore(bad, SHORT)
    tree = msgspec.msgpack.decode(data)
    tree["state"]["track"]["baseline"]["ewma"]["data"] = b"\x00\x01\x02"  # wrong length for its shape
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
    assert engine.track.keys.dropped_full == 6 * 200 - (cap - 2)  # two slots taken by steady APIs
    assert engine.track.keys.evicted == {"room": len(late_names)}  # idle Fuzz keys made room
    assert all(len(cols) <= max(64, 2 * cap) for cols in engine.track.columns)
    tracked = {k[4] for k in engine.track.keys.table.index}
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
    assert {k[4] for k in engine.track.keys.table.index} == {"CreateBucket"}
    assert engine.track.keys.dropped_full == 60 - 49
    assert engine.track.keys.evicted == {"idle": 49}


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
