"""The topic tools on kafka-python (:class:`~consumers.kafka.protocol.TopicAdmin`,
:class:`~consumers.kafka.protocol.PartitionReader`, :class:`~consumers.kafka.protocol.RecordWriter`): what
the changelog store and ``generate`` need beside the daemon's consumer group.

Each takes ``[kafka]`` options (kafka-python names) and keeps the ones its kafka-python class knows.
Every kafka-python error becomes a :class:`~consumers.kafka.protocol.KafkaClientError` saying what was
being done.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import KafkaError, TopicAlreadyExistsError, UnknownTopicOrPartitionError, for_code

from consumers.kafka.options import split_options
from consumers.kafka.protocol import FailureCallback, KafkaClientError, StoredRecord


@contextlib.contextmanager
def _kafka_errors(doing: str) -> Iterator[None]:
    try:
        yield
    except KafkaError as exc:
        raise KafkaClientError(f"{doing}: {exc}") from exc


def _connect(client_class: Any, options: Mapping[str, Any]) -> Any:
    try:
        return client_class(**options)
    except Exception as exc:  # kafka-python raises more than KafkaError here (bad option values)
        raise KafkaClientError(f"cannot create the Kafka {client_class.__name__}: {exc}") from exc


class KafkaPythonAdmin:
    """:class:`~consumers.kafka.protocol.TopicAdmin` on ``kafka.KafkaAdminClient``."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        known = KafkaAdminClient.DEFAULT_CONFIG
        self._admin = _connect(KafkaAdminClient, {k: v for k, v in options.items() if k in known})

    def topic_exists(self, topic: str) -> bool:
        with _kafka_errors(f"cannot describe topic {topic}"):
            (described,) = self._admin.describe_topics([topic])
            error = for_code(described["error_code"])
            if error is UnknownTopicOrPartitionError:
                return False
            if described["error_code"]:
                raise error(f"describing topic {topic}")
        return True

    def live_brokers(self) -> int:
        with _kafka_errors("cannot describe the cluster"):
            brokers = self._admin.describe_cluster()["brokers"]
        return len([b for b in brokers if not b.get("is_fenced")])

    def create_topic(self, topic: str, partitions: int, replicas: int, configs: Mapping[str, str]) -> None:
        new_topic = {"num_partitions": partitions, "replication_factor": replicas, "configs": dict(configs)}
        with _kafka_errors(f"cannot create topic {topic}"), contextlib.suppress(TopicAlreadyExistsError):
            self._admin.create_topics({topic: new_topic}, wait_for_metadata=True)

    def topic_config(self, topic: str, name: str) -> str | None:
        resource = ConfigResource(ConfigResourceType.TOPIC, topic, [name])
        with _kafka_errors(f"cannot describe the configuration of topic {topic}"):
            found = self._admin.describe_configs([resource], config_filter="all")["topic"].get(topic, {})
        value: str | None = found.get(name, {}).get("value")
        return value

    def close(self) -> None:
        self._admin.close()


class KafkaPythonReader:
    """:class:`~consumers.kafka.protocol.PartitionReader` on a ``kafka.KafkaConsumer`` of no group."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        consumer_options, _ = split_options(options)
        self._consumer = _connect(
            KafkaConsumer, {**consumer_options, "group_id": None, "enable_auto_commit": False}
        )

    def read_partition(self, topic: str, partition: int, idle_timeout_s: float) -> Iterator[StoredRecord]:
        consumer, where = self._consumer, TopicPartition(topic, partition)
        with _kafka_errors(f"cannot read {topic}:{partition}"):
            consumer.assign([where])
            consumer.seek_to_beginning(where)
            end = consumer.end_offsets([where])[where]
            deadline = time.monotonic() + idle_timeout_s
            while consumer.position(where) < end:
                if time.monotonic() > deadline:
                    raise KafkaClientError(
                        f"{topic}:{partition}: no record for {idle_timeout_s} s before its end"
                    )
                for batch in consumer.poll(timeout_ms=1000).values():
                    deadline = time.monotonic() + idle_timeout_s
                    for record in batch:
                        yield StoredRecord(record.offset, record.key, record.value)

    def close(self) -> None:
        self._consumer.close()


class KafkaPythonWriter:
    """:class:`~consumers.kafka.protocol.RecordWriter` on ``kafka.KafkaProducer`` (``acks='all'`` always)."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        _, producer_options = split_options(options)
        self._producer = _connect(KafkaProducer, {**producer_options, "acks": "all"})

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        *,
        partition: int | None = None,
        on_failure: FailureCallback | None = None,
    ) -> None:
        with _kafka_errors(f"cannot send to {topic}"):
            future = self._producer.send(topic, key=key, value=value, partition=partition)
        if on_failure is not None:
            future.add_errback(lambda exc: on_failure(repr(exc)))

    def flush(self, timeout_s: float | None) -> None:
        with _kafka_errors("sends not acknowledged in time"):
            self._producer.flush(timeout=timeout_s)

    def close(self) -> None:
        self._producer.close(timeout=30)
