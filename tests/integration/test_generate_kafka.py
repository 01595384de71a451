"""``trailpulse generate`` to a real broker: every envelope decodes back to the generated records, and
each partition holds its keys' messages in simulated arrival order."""

from __future__ import annotations

import base64
import re
import time
import zlib
from collections import Counter
from pathlib import Path

import pytest

from consumers.cli import main
from consumers.kafka.protocol import topic_tools
from consumers.synth.kafka_arrival import ArrivalModel, arrivals, horizon_minutes
from consumers.synth.kafka_envelopes import ENVELOPES
from consumers.synth.kafka_writer import send_files
from consumers.synth.options import GenerateOptions, iso_to_minute
from consumers.synth.s3_delivery import iter_log_files
from insights.decode import Decoder
from tests.kafka_broker import KafkaBroker, consume_all, create_topic

pytestmark = pytest.mark.kafka

SMALL = GenerateOptions(seed=3, days=1.0, api_factor=0.15, warmup_minutes=360, anomalies_per_kind=1)


def envelope_of(value: bytes) -> str:
    """Which envelope a message is in, told from its bytes alone."""
    if value.startswith(b"H4sI"):
        value = base64.b64decode(value)
    if value[:2] == b"\x1f\x8b":
        text = zlib.decompress(value, wbits=31)
        return "cloudwatch" if text.startswith(b'{"messageType"') else "s3gz"
    if value.startswith(b'{"Records"'):
        return "s3"
    if value.startswith(b'{"version"'):
        return "eventbridge"
    return "jsonl" if value.endswith(b"\n") else "raw"


def expected_ids(options: GenerateOptions, first: int | None = None, end: int | None = None) -> Counter[str]:
    ids: Counter[str] = Counter()
    for log in iter_log_files(options):
        if (first is None or log.delivery_minute >= first) and (end is None or log.delivery_minute < end):
            ids.update(r.eventID or "" for r in Decoder().decode(log.body()).records)
    return ids


def decoded_ids(bootstrap: str, topic: str) -> tuple[Counter[str], Counter[str]]:
    """eventIDs of every record on the topic, and messages per envelope; asserts there are no rejects."""
    decoder, ids, kinds = Decoder(), Counter[str](), Counter[str]()
    for message in consume_all(bootstrap, topic, timeout_s=60):
        result = decoder.decode(message.value)
        assert not result.rejects, result.rejects[0]
        assert {f"{r.recipientAccountId}/{r.awsRegion}".encode() for r in result.records} == {message.key}
        ids.update(r.eventID or "" for r in result.records)
        kinds[envelope_of(message.value)] += 1
    return ids, kinds


def test_every_envelope_round_trips(kafka_broker: KafkaBroker, topic: str) -> None:
    options = {"bootstrap_servers": kafka_broker.bootstrap, "linger_ms": 20, "batch_size": 512 * 1024}
    writer = topic_tools("kafka-python").writer(options)
    try:
        stats = send_files(iter_log_files(SMALL), writer, topic)
    finally:
        writer.close()
    assert stats.failed == 0 and set(stats.messages) == set(ENVELOPES)
    ids, kinds = decoded_ids(kafka_broker.bootstrap, topic)
    assert set(kinds) == set(ENVELOPES)
    assert kinds == stats.messages
    expected = expected_ids(SMALL)
    assert ids == expected and stats.records == expected.total()
    assert max(expected.values()) == 2  # duplicate deliveries made it through, twice


def test_cli_rate_and_span(
    kafka_broker: KafkaBroker, topic: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, end = "2026-01-05T00:10:00Z", "2026-01-05T00:25:00Z"
    options = GenerateOptions(days=0.05, anomalies=False)
    expected = expected_ids(options, iso_to_minute(first), iso_to_minute(end))
    assert 1000 < expected.total() < 3000
    argv = ["generate", "--days", "0.05", "--no-anomalies", "--bootstrap-servers", kafka_broker.bootstrap]
    argv += ["--topic", topic, "--from", first, "--to", end, "--rate", "2000", "--envelopes", "raw,s3gz"]
    argv += ["--out", str(tmp_path)]  # files too: the whole trace
    began = time.monotonic()
    assert main(argv) == 0
    took = time.monotonic() - began
    assert took >= (expected.total() - 100) / 2000  # 100: the bucket's burst
    summary = capsys.readouterr().err
    assert f"{expected.total()} records" in summary
    rate = re.search(r"\(([0-9]+) records/s\)", summary)
    assert rate and int(rate.group(1)) <= 2500  # unpaced: ~5000 (files are written before this timing)
    ids, kinds = decoded_ids(kafka_broker.bootstrap, topic)
    assert ids == expected and set(kinds) == {"raw", "s3gz"}
    assert (tmp_path / "labels.json").is_file() and len(list(tmp_path.rglob("*.json.gz"))) > 100


def test_cli_arrival_order_per_partition(
    kafka_broker: KafkaBroker, topic: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Realistic delivery, skewed producers, a backlog: each partition holds its keys' messages in the
    order :func:`arrivals` gives them, and the summary reports the lags."""
    create_topic(kafka_broker.bootstrap, topic, partitions=3)
    argv = ["generate", "--days", "0.1", "--no-anomalies", "--seed", "4", "--delivery", "realistic"]
    argv += ["--bootstrap-servers", kafka_broker.bootstrap, "--topic", topic]
    argv += ["--partition-skew-minutes", "90", "--backlog-hours", "1", "--speedup", "36000"]
    assert main(argv) == 0
    summary = capsys.readouterr().err
    lags = re.search(r"arriving p50 ([0-9.]+) min, p99 ([0-9.]+) min, max ([0-9.]+) min behind", summary)
    assert lags and 0 < float(lags.group(1)) < float(lags.group(2)) <= float(lags.group(3)) < 90 + 80
    assert "as backlog" in summary
    options = GenerateOptions(seed=4, days=0.1, anomalies=False, delivery="realistic")
    model = ArrivalModel(4, 90.0, horizon_minutes(options.max_late))
    expected: dict[bytes, list[bytes]] = {}
    for m in arrivals(iter_log_files(options), ENVELOPES, model):
        expected.setdefault(m.key, []).append(m.value)
    got: dict[bytes, list[bytes]] = {}
    partitions: dict[bytes, set[int]] = {}
    for message in consume_all(kafka_broker.bootstrap, topic, timeout_s=60):
        got.setdefault(message.key, []).append(message.value)
        partitions.setdefault(message.key, set()).add(message.partition)
    assert got == expected and all(len(p) == 1 for p in partitions.values())
