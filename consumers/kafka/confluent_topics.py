"""The topic tools on confluent-kafka (:class:`~consumers.kafka.protocol.TopicAdmin`,
:class:`~consumers.kafka.protocol.PartitionReader`, :class:`~consumers.kafka.protocol.RecordWriter`), so
the changelog store can run on the same client as the daemon.

Each takes ``[kafka]`` options (kafka-python names, translated by :mod:`consumers.kafka.confluent_options`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import Message as LibrdkafkaMessage
from confluent_kafka import Producer as LibrdkafkaProducer
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # public, but re-exported without __all__
    AdminClient,
    ClusterMetadata,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from consumers.kafka.confluent_base import LOG, build, kafka_errors, produce
from consumers.kafka.confluent_options import librdkafka_config
from consumers.kafka.confluent_reader import OutsideReader
from consumers.kafka.options import split_options
from consumers.kafka.protocol import READ_TIMEOUT_S, FailureCallback, KafkaClientError, StoredRecord

CLOSE_FLUSH_S = 30.0


class ConfluentAdmin:
    """:class:`~consumers.kafka.protocol.TopicAdmin` on ``confluent_kafka.admin.AdminClient``."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self._admin = build(AdminClient, {**librdkafka_config(options), "logger": LOG}, "admin client")

    def _metadata(self) -> ClusterMetadata:
        """Every topic's metadata: asking for one topic by name could create it (auto.create.topics)."""
        with kafka_errors("cannot read the cluster metadata"):
            return self._admin.list_topics(timeout=READ_TIMEOUT_S)

    def topic_exists(self, topic: str) -> bool:
        found = self._metadata().topics.get(topic)
        if found is not None and found.error is not None:
            raise KafkaClientError(f"cannot describe topic {topic}: {found.error.str()}")
        return found is not None

    def live_brokers(self) -> int:
        return len(self._metadata().brokers)

    def create_topic(self, topic: str, partitions: int, replicas: int, configs: Mapping[str, str]) -> None:
        new_topic = NewTopic(
            topic, num_partitions=partitions, replication_factor=replicas, config=dict(configs)
        )
        (future,) = self._admin.create_topics([new_topic], operation_timeout=READ_TIMEOUT_S).values()
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise KafkaClientError(f"cannot create topic {topic}: {exc.args[0].str()}") from exc
        deadline = time.monotonic() + READ_TIMEOUT_S  # as kafka-python's wait_for_metadata
        while topic not in self._metadata().topics:
            if time.monotonic() > deadline:
                raise KafkaClientError(
                    f"topic {topic} created but not in the metadata after {READ_TIMEOUT_S} s"
                )
            time.sleep(0.1)

    def topic_config(self, topic: str, name: str) -> str | None:
        resource = ConfigResource(ResourceType.TOPIC, topic)
        (future,) = self._admin.describe_configs([resource], request_timeout=READ_TIMEOUT_S).values()
        with kafka_errors(f"cannot describe the configuration of topic {topic}"):
            entry = future.result().get(name)
        return None if entry is None else str(entry.value)

    def close(self) -> None:
        """Nothing to release: librdkafka frees the admin client with its last reference."""


class ConfluentReader:
    """:class:`~consumers.kafka.protocol.PartitionReader` on a confluent-kafka consumer that only assigns."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        consumer_options, _ = split_options(options)
        # group.id: required by the Python binding, never joined (OutsideReader suffixes it).
        config = {**librdkafka_config(consumer_options), "group.id": "trailpulse", "logger": LOG}
        self._reader = OutsideReader(config)

    def read_partition(self, topic: str, partition: int, idle_timeout_s: float) -> Iterator[StoredRecord]:
        return self._reader.read_partition(topic, partition, idle_timeout_s)

    def close(self) -> None:
        self._reader.close()


class ConfluentWriter:
    """:class:`~consumers.kafka.protocol.RecordWriter` on ``confluent_kafka.Producer``: ``acks=all``,
    idempotent unless configured otherwise."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        _, producer_options = split_options(options)
        config = {
            "enable.idempotence": True,
            **librdkafka_config(producer_options),
            "acks": "all",
            "logger": LOG,
        }
        self._producer = build(LibrdkafkaProducer, config, "producer")

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        *,
        partition: int | None = None,
        on_failure: FailureCallback | None = None,
    ) -> None:
        def delivered(error: KafkaError | None, _message: LibrdkafkaMessage) -> None:
            if error is not None and on_failure is not None:
                on_failure(error.str())

        where = {} if partition is None else {"partition": partition}
        produce(self._producer, topic, delivered, key=key, value=value, **where)

    def flush(self, timeout_s: float | None) -> None:
        still_queued = self._producer.flush() if timeout_s is None else self._producer.flush(timeout_s)
        if still_queued:
            raise KafkaClientError(f"sends not acknowledged in time: {still_queued} still queued")

    def close(self) -> None:
        self._producer.flush(CLOSE_FLUSH_S)
