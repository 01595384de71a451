"""What the confluent-kafka classes share: building a client, librdkafka's errors, batched consume.

librdkafka's log lines go to this module's :mod:`logging` logger (as kafka-python's go to ``kafka.*``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from confluent_kafka import Consumer as LibrdkafkaConsumer
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka import Message as LibrdkafkaMessage

from consumers.kafka.protocol import KafkaClientError, TopicPartitionKey

LOG = logging.getLogger("consumers.kafka.confluent")
Client = TypeVar("Client")
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
