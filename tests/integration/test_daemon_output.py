"""``trailpulse run`` against the real broker, what it writes: poison input dead-lettered beside the
insights, and the same insights with the confluent-kafka client."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from insights.config import EngineConfig
from tests.daemon_process import (
    BIG,
    SMALL,
    Daemon,
    big_producer,
    output_ids,
    reference_ids,
    sent_event_ids,
    trace_messages,
    until_committed,
)
from tests.kafka_broker import KafkaBroker, consume_all, create_topic, produce, unique_topic

pytestmark = pytest.mark.kafka


def test_poison_messages_are_dead_lettered(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    bootstrap = kafka_broker.bootstrap
    source, output, dead = unique_topic("poison-in"), unique_topic("poison-out"), unique_topic("poison-dlq")
    group = unique_topic("group")
    create_topic(bootstrap, source, configs={"max.message.bytes": str(BIG)})
    good = trace_messages(SMALL)
    poison = [
        b"\x00\x01junk\xff",
        b"X" * (2 << 20),
        b'{"Records": 5}',
        b'{"eventTime": 5, "eventSource": [], "eventName": {}, "awsRegion": 1}',
    ]
    messages = list(good)
    for i, p in enumerate(poison):
        messages.insert((i + 1) * len(good) // (len(poison) + 1), p)
    producer = big_producer(bootstrap)
    try:
        for m in messages:
            producer.send(source, m)
        producer.flush(timeout=60)
    finally:
        producer.close()
    args = ("--input-topic", source, "--output-topic", output, "--dead-letter-topic", dead)
    state = str(tmp_path / "state")
    env = {"TRAILPULSE_ENGINE_WARMUP_MINUTES": "360"}
    daemon = Daemon(tmp_path, bootstrap, *args, "--group-id", group, "--state-dir", state, env=env)
    try:
        until_committed(daemon, bootstrap, group, source, timeout_s=90)
        assert daemon.proc.poll() is None, "the daemon keeps running"
        code, _ = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0
    rejects = consume_all(bootstrap, dead)
    reasons = [dict(r.headers)["trailpulse.reason"].decode() for r in rejects]
    assert len(rejects) == len(poison), reasons
    assert all(dict(r.headers)["trailpulse.source"].startswith(f"{source}:0:".encode()) for r in rejects)
    assert rejects[0].value == poison[0]
    assert reasons[2] == "bad_envelope" or reasons[2] == "wrong_type", reasons
    stopped = next(e for e in daemon.events() if e["event"] == "stopped")
    counts = stopped["counts"]
    assert isinstance(counts, dict)
    assert sum(v for k, v in counts.items() if k.startswith("rejected.")) == len(poison)
    want = reference_ids(good, dataclasses.replace(EngineConfig(), warmup_minutes=360))
    assert want["Start"], "the small trace has anomalies after warm-up"
    assert output_ids(bootstrap, output)["Start"] == want["Start"]


def test_confluent_kafka_client_gives_the_same_insights(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    """``client = "confluent-kafka"``: the same daemon on librdkafka, the same output as the engine."""
    bootstrap = kafka_broker.bootstrap
    source, output, group = unique_topic("cfk-in"), unique_topic("cfk-out"), unique_topic("group")
    create_topic(bootstrap, source)
    messages = trace_messages(SMALL)
    produce(bootstrap, source, messages)
    args = ("--client", "confluent-kafka", "--input-topic", source, "--output-topic", output)
    args += ("--group-id", group, "--state-dir", str(tmp_path / "state"))
    daemon = Daemon(tmp_path, bootstrap, *args, env={"TRAILPULSE_ENGINE_WARMUP_MINUTES": "360"})
    try:
        until_committed(daemon, bootstrap, group, source)
        code, took = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0 and took < 30
    sent = sent_event_ids(bootstrap, output)
    want = reference_ids(messages, dataclasses.replace(EngineConfig(), warmup_minutes=360))
    assert want["Start"] and sorted(sent) == sorted(want["Start"] | want["End"])
