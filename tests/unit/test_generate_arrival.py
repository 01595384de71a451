"""When ``trailpulse generate``'s messages reach Kafka: the lag each envelope's path documents, one
merged arrival order (kept within each key, so within each partition), producer skew that shifts
whole keys, a backlog sent unpaced, and the same bytes in the same order for the same seed."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import replace

import numpy as np
import pytest

from consumers.synth import kafka_pacing
from consumers.synth.kafka_arrival import (
    ArrivalModel,
    Message,
    arrivals,
    event_seconds,
    file_messages,
    horizon_minutes,
)
from consumers.synth.kafka_envelopes import ENVELOPES, pick_envelope
from consumers.synth.kafka_pacing import Pacer
from consumers.synth.kafka_writer import send_files
from consumers.synth.options import GenerateOptions
from consumers.synth.s3_delivery import iter_log_files
from tests.unit.test_generate_kafka import FakeProducer

REALISTIC = GenerateOptions(
    seed=11, days=0.3, api_factor=0.15, scale=0.2, warmup_minutes=240, anomalies=False, delivery="realistic"
)
MODEL = ArrivalModel(seed=11, horizon_minutes=horizon_minutes(REALISTIC.max_late))


def stream(options: GenerateOptions = REALISTIC, model: ArrivalModel = MODEL) -> list[Message]:
    return list(arrivals(iter_log_files(options), ENVELOPES, model))


@pytest.fixture(scope="module")
def sent() -> list[Message]:
    return stream()


def test_one_arrival_order_kept_within_each_key(sent: list[Message]) -> None:
    at = np.array([m.at for m in sent])
    assert np.all(np.diff(at) >= 0)
    by_key: dict[bytes, list[float]] = defaultdict(list)
    for m in sent:
        by_key[m.key].append(m.at)
    assert len(by_key) == REALISTIC.accounts * REALISTIC.regions
    assert all(times == sorted(times) for times in by_key.values())
    # the envelopes interleave: not file after file, as before
    runs = [envelope for envelope, _ in itertools.groupby(m.envelope for m in sent)]
    assert len(runs) > len(sent) / 20


def test_every_record_goes_out_once_per_delivery(sent: list[Message]) -> None:
    expected = sum(len(log.records) for log in iter_log_files(REALISTIC))
    assert sum(m.records for m in sent) == expected
    assert all(m.lags.size == m.records for m in sent)


def test_each_path_lags_as_documented(sent: list[Message]) -> None:
    lags: dict[str, list[np.ndarray]] = defaultdict(list)
    for m in sent:
        lags[m.envelope].append(m.lags)
    flat = {envelope: np.concatenate(parts) for envelope, parts in lags.items()}
    assert set(flat) == set(ENVELOPES)
    for envelope in ("raw", "eventbridge"):
        assert flat[envelope].min() >= 1.0 and flat[envelope].max() <= 10.0
    assert flat["cloudwatch"].min() > 60.0 and flat["cloudwatch"].max() <= 300.0
    for envelope in ("s3", "s3gz", "jsonl"):  # delivered 0-30 min after a 5-min period, late ones later
        assert flat[envelope].min() >= 0.0 and np.median(flat[envelope]) > 4 * 60
        assert flat[envelope].max() > 30 * 60


def test_files_arrive_within_their_delivery_minute() -> None:
    for log in itertools.islice(iter_log_files(REALISTIC), 300):
        envelope = pick_envelope(log, ENVELOPES)
        messages = file_messages(log, envelope, MODEL, 3)
        if envelope in ("s3", "s3gz", "jsonl"):
            assert {int(m.at // 60) for m in messages} == {log.delivery_minute}
        if envelope == "cloudwatch":  # one batch per event minute, 1-4 min after it closes
            minutes = np.unique(event_seconds(log.records) // 60)
            assert len(messages) >= minutes.size
            batches = [int((m.at - m.lags.max()) // 60) for m in messages]
            assert set(batches) == set(minutes.tolist())


def test_skew_shifts_whole_keys() -> None:
    options = replace(REALISTIC, days=0.1)
    plain = stream(options)
    skewed = stream(options, replace(MODEL, skew_minutes=120.0))
    once = {v for v, n in Counter(m.value for m in plain).items() if n == 1}  # not raw duplicates
    unskewed = {m.value: m.at for m in plain if m.value in once}
    shift: dict[bytes, set[float]] = defaultdict(set)
    for m in skewed:
        if m.value in once:
            shift[m.key].add(round(m.at - unskewed[m.value], 3))
    per_key = [s.pop() for s in shift.values() if len(s) == 1]
    assert len(per_key) == len(shift)  # one shift per key
    assert all(0 <= s < 120 * 60 for s in per_key) and max(per_key) - min(per_key) > 20 * 60
    assert [m.at for m in skewed] == sorted(m.at for m in skewed)


def test_same_seed_same_bytes_in_the_same_order(sent: list[Message]) -> None:
    producer, again = FakeProducer(), FakeProducer()
    send_files(iter_log_files(REALISTIC), producer, "t", model=MODEL)
    send_files(iter_log_files(REALISTIC), again, "t", model=MODEL)
    assert producer.sent == again.sent == [("t", m.key, m.value) for m in sent]
    other = stream(model=replace(MODEL, seed=12))
    assert [m.value for m in other] != [m.value for m in sent]


def test_a_horizon_too_short_is_refused() -> None:
    with pytest.raises(ValueError, match="raise the merge horizon"):
        stream(replace(REALISTIC, days=0.1), replace(MODEL, horizon_minutes=0))


def test_period_delivery_with_the_longest_lateness_merges() -> None:
    options = replace(REALISTIC, delivery="period", max_late_minutes=120, late_fraction=0.3)
    model = replace(MODEL, horizon_minutes=horizon_minutes(120))
    assert sum(m.records for m in stream(options, model)) > 0


def test_backlog_goes_out_unpaced_then_pacing_starts(
    sent: list[Message], monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(kafka_pacing.time, "sleep", slept.append)
    pacer = Pacer(speedup=60.0, backlog_s=3600.0)
    start = sent[0].at
    paced = [m for m in sent if m.at >= start + 3600]
    for m in sent:
        before = len(slept)
        pacer.wait(m.records, m.at)
        assert len(slept) == before or m.at >= start + 3600
    # sleep does not pass here, so the last wait is for the whole paced stretch at sixty times real time
    assert max(slept) == pytest.approx((paced[-1].at - paced[0].at) / 60, abs=1.0)
    backlog = Pacer(backlog_s=3600.0)
    stats = send_files(iter_log_files(REALISTIC), FakeProducer(), "t", pacer=backlog, model=MODEL)
    assert 0 < stats.backlog == len(sent) - len(paced)
