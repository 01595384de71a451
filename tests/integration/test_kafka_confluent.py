"""The confluent-kafka client pair against the real broker: the same contract as the kafka-python pair."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from consumers.kafka.confluent import ConfluentProducer, confluent_clients
from consumers.kafka.kafka_python import kafka_python_clients
from consumers.kafka.protocol import Consumer, KafkaClientError, Message, Producer, TopicPartitionKey
from tests.kafka_broker import KafkaBroker, consume_all, create_topic, produce, unique_topic

pytestmark = pytest.mark.kafka

Event = tuple[str, list[TopicPartitionKey]]
ClientPair = Callable[[Mapping[str, Any], str], tuple[Consumer, Producer]]


class Recorder:
    """A rebalance handler that records its calls and runs ``on_revoke_do`` in ``on_revoked``."""

    def __init__(self, on_assign_do: Callable[[], None] = lambda: None) -> None:
        self.events: list[Event] = []
        self.on_assign_do = on_assign_do
        self.on_revoke_do: Callable[[], None] = lambda: None

    def on_assigned(self, partitions: list[TopicPartitionKey]) -> None:
        self.events.append(("assigned", partitions))
        self.on_assign_do()

    def on_revoked(self, partitions: list[TopicPartitionKey]) -> None:
        self.events.append(("revoked", partitions))
        self.on_revoke_do()


@pytest.fixture
def open_clients(kafka_broker: KafkaBroker) -> Iterator[Callable[..., tuple[Consumer, Producer]]]:
    """Opens confluent-kafka client pairs on the broker (``group``, extra options); closes them after."""
    opened: list[tuple[Consumer, Producer]] = []

    def open_pair(group: str, **options: Any) -> tuple[Consumer, Producer]:
        pair = confluent_clients({"bootstrap_servers": kafka_broker.bootstrap, **options}, group)
        opened.append(pair)
        return pair

    yield open_pair
    for consumer, producer in opened:
        consumer.close()
        producer.close()


def poll_until(
    consumer: Consumer, done: Callable[[list[Message]], bool], timeout_s: float = 20
) -> list[Message]:
    """Polls until ``done(messages so far)``; fails the test after ``timeout_s``."""
    messages: list[Message] = []
    deadline = time.monotonic() + timeout_s
    while not done(messages):
        if time.monotonic() > deadline:
            pytest.fail(f"only {len(messages)} messages after {timeout_s} s")
        messages.extend(consumer.poll(0.2, 100))
    return messages


def fill(bootstrap: str, topic: str, counts: Mapping[int, int]) -> None:
    """Creates ``topic`` with ``counts[p]`` records ``b"p:i"`` in partition ``p``."""
    create_topic(bootstrap, topic, partitions=len(counts))
    for p, n in counts.items():
        produce(bootstrap, topic, [f"{p}:{i}".encode() for i in range(n)], partition=p)


def positions(messages: list[Message]) -> list[tuple[int, int, bytes]]:
    return sorted((m.partition, m.offset, m.value) for m in messages)


def test_subscribe_polls_every_record_with_its_offset(
    kafka_broker: KafkaBroker, topic: str, open_clients: Callable[..., tuple[Consumer, Producer]]
) -> None:
    fill(kafka_broker.bootstrap, topic, {0: 3, 1: 2})
    consumer, _ = open_clients(unique_topic("group"))
    handler = Recorder()
    consumer.subscribe([topic], None, handler)
    messages = poll_until(consumer, lambda ms: len(ms) >= 5)
    expected = [(p, i, f"{p}:{i}".encode()) for p, n in ((0, 3), (1, 2)) for i in range(n)]
    assert positions(messages) == expected
    assert all(type(m.value) is bytes and m.topic == topic and m.headers == [] for m in messages)
    assert handler.events == [("assigned", [(topic, 0), (topic, 1)])]
    assert consumer.assignment() == {(topic, 0), (topic, 1)}


def test_committed_offsets_are_where_the_group_resumes(
    kafka_broker: KafkaBroker, topic: str, open_clients: Callable[..., tuple[Consumer, Producer]]
) -> None:
    fill(kafka_broker.bootstrap, topic, {0: 4, 1: 4})
    group = unique_topic("group")
    first, _ = open_clients(group)
    handler = Recorder()
    first.subscribe([topic], None, handler)
    poll_until(first, lambda ms: len(ms) >= 8)
    first.commit({(topic, 0): 1})
    # The daemon commits from on_revoked, which close() calls: a blocking commit works there.
    handler.on_revoke_do = lambda: first.commit({(topic, 1): 3})
    first.close()
    assert handler.events[-1] == ("revoked", [(topic, 0), (topic, 1)])

    second, _ = open_clients(group)
    second.subscribe([topic], None, Recorder())
    resumed = poll_until(second, lambda ms: len(ms) >= 4)
    assert [(p, o) for p, o, _ in positions(resumed)] == [(0, 1), (0, 2), (0, 3), (1, 3)]


def test_seek_inside_on_assigned_and_after_polling(
    kafka_broker: KafkaBroker, topic: str, open_clients: Callable[..., tuple[Consumer, Producer]]
) -> None:
    fill(kafka_broker.bootstrap, topic, {0: 5})
    consumer, _ = open_clients(unique_topic("group"))
    consumer.subscribe([topic], None, Recorder(on_assign_do=lambda: consumer.seek((topic, 0), 3)))
    assert [o for _, o, _ in positions(poll_until(consumer, lambda ms: len(ms) >= 2))] == [3, 4]
    consumer.seek((topic, 0), 1)
    assert [o for _, o, _ in positions(poll_until(consumer, lambda ms: len(ms) >= 4))] == [1, 2, 3, 4]
    with pytest.raises(KafkaClientError, match="not assigned"):
        consumer.seek((topic, 7), 0)


def test_send_with_key_and_headers_then_flush(
    kafka_broker: KafkaBroker, topic: str, open_clients: Callable[..., tuple[Consumer, Producer]]
) -> None:
    consumer, producer = open_clients(unique_topic("group"))
    producer.send(topic, b"value-1", b"key-1", [("trailpulse.reason", b"bad"), ("empty", b"")])
    producer.send(topic, b"value-2", None, [])
    assert producer.flush(30) is True
    records = consume_all(kafka_broker.bootstrap, topic)
    assert [(r.key, r.value) for r in records] == [(b"key-1", b"value-1"), (None, b"value-2")]
    assert list(records[0].headers) == [("trailpulse.reason", b"bad"), ("empty", b"")]
    consumer.subscribe([topic], None, Recorder())
    polled = poll_until(consumer, lambda ms: len(ms) >= 2)
    assert polled[0].headers == [("trailpulse.reason", b"bad"), ("empty", b"")]


def test_flush_is_false_while_sends_are_retried_and_fails_once_they_give_up() -> None:
    # No broker there; the producers are left unclosed (close would wait 10 s for their sends).
    retried = ConfluentProducer({"bootstrap_servers": "127.0.0.1:1"})
    retried.send("nowhere", b"v", None, [])
    assert retried.flush(0.5) is False
    given_up = ConfluentProducer({"bootstrap_servers": "127.0.0.1:1", "delivery_timeout_ms": 500})
    given_up.send("nowhere", b"v", None, [])
    with pytest.raises(KafkaClientError, match=r"a send failed: nowhere: .*timed out"):
        given_up.flush(5)


@pytest.mark.parametrize("clients", [confluent_clients, kafka_python_clients])
def test_read_since_returns_the_records_written_from_then_with_their_headers(
    kafka_broker: KafkaBroker, topic: str, clients: ClientPair
) -> None:
    bootstrap = kafka_broker.bootstrap
    create_topic(bootstrap, topic, partitions=2)
    produce(bootstrap, topic, [b"old-0"], partition=0)
    produce(bootstrap, topic, [b"old-1"], partition=1)
    time.sleep(0.05)
    since = time.time()
    time.sleep(0.05)
    produce(bootstrap, topic, [b"new-0"], partition=0)
    consumer, producer = clients({"bootstrap_servers": bootstrap}, unique_topic("group"))
    try:
        producer.send(topic, b"newer", b"k", [("trailpulse.decided_minute", b"28623100")])
        assert producer.flush(30)
        read = consumer.read_since(topic, since)
        assert sorted(m.value for m in read) == [b"new-0", b"newer"]
        [newer] = [m for m in read if m.value == b"newer"]
        assert newer.topic == topic and newer.headers == [("trailpulse.decided_minute", b"28623100")]
        assert [m.headers for m in read if m.value == b"new-0"] == [[]]
        older = consumer.read_since(topic, since - 60)
        assert sorted(m.value for m in older) == [b"new-0", b"newer", b"old-0", b"old-1"]
        assert consumer.read_since(topic, time.time() + 60) == []
        assert consumer.read_since(unique_topic("missing"), since) == []
    finally:
        consumer.close()
        producer.close()


def test_end_offsets_of_topics_and_of_a_pattern(
    kafka_broker: KafkaBroker, open_clients: Callable[..., tuple[Consumer, Producer]]
) -> None:
    prefix = unique_topic("ends")
    fill(kafka_broker.bootstrap, f"{prefix}-a", {0: 2, 1: 1})
    fill(kafka_broker.bootstrap, f"{prefix}-b", {0: 3})
    consumer, _ = open_clients(unique_topic("group"))
    a_only = {(f"{prefix}-a", 0): 2, (f"{prefix}-a", 1): 1}
    assert consumer.end_offsets([f"{prefix}-a", f"{prefix}-missing"], None) == a_only
    assert consumer.end_offsets([], f"{prefix}-.*") == {**a_only, (f"{prefix}-b", 0): 3}


def test_a_new_topic_matching_the_pattern_rebalances(
    kafka_broker: KafkaBroker, open_clients: Callable[..., tuple[Consumer, Producer]]
) -> None:
    prefix = unique_topic("pattern")
    first, second = f"{prefix}-1", f"{prefix}-2"
    fill(kafka_broker.bootstrap, first, {0: 1})
    consumer, _ = open_clients(unique_topic("group"), metadata_max_age_ms=300)
    handler = Recorder()
    consumer.subscribe([], f"{prefix}-.*", handler)
    poll_until(consumer, lambda ms: len(ms) >= 1)
    consumer.commit({(first, 0): 1})  # else the rebalance starts the first topic again from offset 0
    fill(kafka_broker.bootstrap, second, {0: 1})
    assert [m.topic for m in poll_until(consumer, lambda ms: len(ms) >= 1)] == [second]
    assert handler.events == [
        ("assigned", [(first, 0)]),
        ("revoked", [(first, 0)]),
        ("assigned", [(first, 0), (second, 0)]),
    ]
