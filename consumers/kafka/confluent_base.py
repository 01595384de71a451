"""What the confluent-kafka classes share: building a client, librdkafka's errors, batched consume, send.

librdkafka's log lines go to this module's :mod:`logging` logger (as kafka-python's go to ``kafka.*``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar, cast

from confluent_kafka import Consumer as LibrdkafkaConsumer
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka import Message as LibrdkafkaMessage
from confluent_kafka import Producer as LibrdkafkaProducer

from consumers.kafka.protocol import KafkaClientError, Message, TopicPartitionKey

LOG = logging.getLogger("consumers.kafka.confluent")
Client = TypeVar("Client")
SEND_BLOCK_S = 60.0  # how long send waits for room in a full local queue (kafka-python's max_block_ms)
STOP_ERRORS = frozenset({KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED})


@contextlib.contextmanager
def kafka_errors(doing: str) -> Iterator[None]:
    """librdkafka's exceptions (a ``KafkaError`` in ``args[0]``) as :class:`KafkaClientError`."""
    try:
        yield
    except KafkaException as exc:
        raise KafkaClientError(f"{doing}: {exc.args[0].str()}") from exc


def partition_keys(partitions: Iterable[TopicPartition]) -> list[TopicPartitionKey]:
    return sorted((tp.topic, tp.partition) for tp in partitions)


def message_of(m: LibrdkafkaMessage) -> Message:
    """A record librdkafka delivered (not an error: its topic, partition and offset are set)."""
    topic, partition, offset = m.topic(), m.partition(), m.offset()
    assert topic is not None and partition is not None and offset is not None  # set on records
    # The consumer gives headers as a list of (name, bytes or None).
    headers = cast(list[tuple[str, bytes | None]], m.headers() or [])
    value = m.value() or b""
    return Message(topic, partition, offset, value, [(name, data or b"") for name, data in headers])


def consume(consumer: LibrdkafkaConsumer, max_records: int, timeout_s: float) -> list[LibrdkafkaMessage]:
    """Waits up to ``timeout_s`` for a message, then takes what is fetched already, up to ``max_records``.

    (``consume(max_records, timeout)`` alone waits out the timeout unless the batch fills.)
    """
    batch = consumer.consume(num_messages=1, timeout=timeout_s)
    if batch and max_records > 1:
        batch += consumer.consume(num_messages=max_records - 1, timeout=0)
    return batch


def raise_or_log(error: KafkaError, what: str) -> None:
    """Fatal and authorization errors stop the client; the others librdkafka retries by itself."""
    if error.code() == KafkaError._PARTITION_EOF:
        return
    if error.fatal() or error.code() in STOP_ERRORS:
        raise KafkaClientError(f"Kafka {what} failed: {error.str()}")
    LOG.warning("Kafka %s error (retried): %s", what, error.str())


def build(kind: Callable[[dict[str, Any]], Client], config: dict[str, Any], what: str) -> Client:
    try:
        return kind(config)
    except (KafkaException, ValueError, TypeError) as exc:
        raise KafkaClientError(f"cannot create the Kafka {what}: {exc}") from exc


def produce(
    producer: LibrdkafkaProducer,
    topic: str,
    on_delivery: Callable[[KafkaError | None, LibrdkafkaMessage], None],
    **record: Any,
) -> None:
    """Queues a record; waits (up to ``SEND_BLOCK_S``) while librdkafka's local queue is full."""
    deadline = time.monotonic() + SEND_BLOCK_S
    while True:
        try:
            producer.produce(topic, on_delivery=on_delivery, **record)
            break
        except BufferError as exc:
            if time.monotonic() > deadline:
                raise KafkaClientError(f"send queue still full after {SEND_BLOCK_S} s") from exc
            producer.poll(0.1)  # deliveries make room
        except KafkaException as exc:  # a fatal error, a record too large, ...
            raise KafkaClientError(f"cannot send to {topic}: {exc.args[0].str()}") from exc
    producer.poll(0)  # serves the delivery reports that arrived
