"""The test broker itself, with kafka-python: topics, producing, a consumer group that commits, a restart."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from tests.kafka_broker import KafkaBroker, consume_all, create_topic, produce, unique_topic

pytestmark = pytest.mark.kafka

PARTITIONS = 3
MESSAGES = 1000  # message i goes to partition i % 3


def group_consumer(bootstrap: str, group: str, topic: str) -> KafkaConsumer:
    return KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=f"tests-{group}",
    )


def poll_until(
    consumer: KafkaConsumer, done: Callable[[list[ConsumerRecord]], bool], timeout_s: float = 60.0
) -> list[ConsumerRecord]:
    """Polls until ``done(records so far)``; fails the test after ``timeout_s``."""
    records: list[ConsumerRecord] = []
    deadline = time.monotonic() + timeout_s
    while not done(records):
        if time.monotonic() > deadline:
            pytest.fail(f"only {len(records)} records after {timeout_s} s")
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    return records


def message(partition: int, i: int) -> bytes:
    return f'{{"partition": {partition}, "seq": {i}, "pad": "{"x" * 100}"}}'.encode()


def test_produce_consume_commit(kafka_broker: KafkaBroker, topic: str) -> None:
    bootstrap = kafka_broker.bootstrap
    create_topic(bootstrap, topic, partitions=PARTITIONS)
    sent = {p: [message(p, i) for i in range(p, MESSAGES, PARTITIONS)] for p in range(PARTITIONS)}
    for p, values in sent.items():
        metas = produce(bootstrap, topic, values, key=f"k{p}".encode(), partition=p)
        assert [(m.partition, m.offset) for m in metas] == [(p, i) for i in range(len(values))]

    group = unique_topic("group")
    consumer = group_consumer(bootstrap, group, topic)
    try:
        records = poll_until(consumer, lambda rs: len(rs) >= MESSAGES)
        consumer.commit()  # synchronous: the positions reached
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        assert {tp: consumer.committed(tp) for tp in tps} == {tp: len(sent[tp.partition]) for tp in tps}
    finally:
        consumer.close()

    assert len(records) == MESSAGES
    for p in range(PARTITIONS):
        mine = [r for r in records if r.partition == p]
        assert [r.value for r in mine] == sent[p], f"partition {p}: wrong records or order"
        assert [r.offset for r in mine] == list(range(len(sent[p])))
        assert {r.key for r in mine} == {f"k{p}".encode()}

    # The same records without a group, as the helper reads them.
    assert [r.value for r in consume_all(bootstrap, topic)] == [v for p in range(PARTITIONS) for v in sent[p]]

    # A new member of the group sees the committed offsets and resumes there: only newer records arrive.
    again = group_consumer(bootstrap, group, topic)
    try:
        assert again.committed(TopicPartition(topic, 1)) == len(sent[1])
        newer = [b"newer-%d" % i for i in range(10)]
        produce(bootstrap, topic, newer, partition=1)
        resumed = poll_until(again, lambda rs: len(rs) >= len(newer))
        # Every partition's position is where the group left it (plus the newer records): none was
        # reset to the earliest offset, which auto_offset_reset would do without a committed offset.
        positions = {p: again.position(TopicPartition(topic, p)) for p in range(PARTITIONS)}
    finally:
        again.close()
    assert [(r.partition, r.offset, r.value) for r in resumed] == [
        (1, len(sent[1]) + i, v) for i, v in enumerate(newer)
    ]
    assert positions == {0: len(sent[0]), 1: len(sent[1]) + len(newer), 2: len(sent[2])}


def test_auto_created_topic(kafka_broker: KafkaBroker, topic: str) -> None:
    produce(kafka_broker.bootstrap, topic, [b"a", b"b", b"c"])
    records = consume_all(kafka_broker.bootstrap, topic)
    assert [(r.partition, r.offset, r.value) for r in records] == [(0, 0, b"a"), (0, 1, b"b"), (0, 2, b"c")]


def test_restart_keeps_address_data_and_offsets(kafka_broker: KafkaBroker, topic: str) -> None:
    bootstrap = kafka_broker.bootstrap
    create_topic(bootstrap, topic, partitions=1)
    before = [b"before-%d" % i for i in range(100)]
    produce(bootstrap, topic, before)
    group = unique_topic("group")
    consumer = group_consumer(bootstrap, group, topic)
    try:
        assert len(poll_until(consumer, lambda rs: len(rs) >= len(before))) == len(before)
        consumer.commit()
    finally:
        consumer.close()

    assert kafka_broker.restart() == bootstrap

    after = [b"after-%d" % i for i in range(100)]
    produce(bootstrap, topic, after)
    assert [r.value for r in consume_all(bootstrap, topic)] == before + after
    consumer = group_consumer(bootstrap, group, topic)
    try:
        resumed = poll_until(consumer, lambda rs: len(rs) >= len(after))
    finally:
        consumer.close()
    assert [r.value for r in resumed] == after
