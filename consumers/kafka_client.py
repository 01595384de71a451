"""The Kafka client behind a small interface, and its kafka-python implementation (the default).

The daemon only sees :class:`Consumer` and :class:`Producer`: batches of :class:`Message`, seek,
commit of explicit offsets, the assignment, rebalance callbacks; send and a flush that fails unless
every send was acknowledged. Another client library can be offered by implementing the two.
Options use kafka-python's names; each client gets the ones it knows (``bootstrap_servers``,
``security_protocol``, ``sasl_*``, ``ssl_*`` go to both).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

TopicPartitionKey = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Message:
    """One consumed record."""

    topic: str
    partition: int
    offset: int
    value: bytes
    headers: list[tuple[str, bytes]]


class KafkaClientError(RuntimeError):
    """The client could not be built or a send was not acknowledged."""


class RebalanceHandler(Protocol):
    def on_revoked(self, partitions: list[TopicPartitionKey]) -> None: ...
    def on_assigned(self, partitions: list[TopicPartitionKey]) -> None: ...


class Consumer(Protocol):
    def subscribe(self, topics: Sequence[str], pattern: str | None, handler: RebalanceHandler) -> None: ...
    def poll(self, timeout_s: float, max_records: int) -> list[Message]: ...
    def seek(self, partition: TopicPartitionKey, offset: int) -> None: ...
    def commit(self, offsets: Mapping[TopicPartitionKey, int]) -> None: ...
    def assignment(self) -> set[TopicPartitionKey]: ...
    def close(self) -> None: ...


class Producer(Protocol):
    def send(self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]) -> None: ...
    def flush(self, timeout_s: float) -> None: ...
    def close(self) -> None: ...


def known_options() -> tuple[set[str], set[str]]:
    """The option names kafka-python's consumer and producer accept."""
    from kafka import KafkaConsumer, KafkaProducer

    return set(KafkaConsumer.DEFAULT_CONFIG), set(KafkaProducer.DEFAULT_CONFIG)


def split_options(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``options`` split into (consumer, producer) options; an unknown name raises ``ValueError``."""
    consumer_keys, producer_keys = known_options()
    unknown = sorted(set(options) - consumer_keys - producer_keys)
    if unknown:
        raise ValueError(f"unknown kafka-python option(s): {', '.join(unknown)}")
    return (
        {k: v for k, v in options.items() if k in consumer_keys},
        {k: v for k, v in options.items() if k in producer_keys},
    )


class KafkaPythonConsumer:
    """:class:`Consumer` on ``kafka.KafkaConsumer`` with auto-commit off."""

    def __init__(self, options: Mapping[str, Any], group_id: str) -> None:
        from kafka import KafkaConsumer

        config = {"auto_offset_reset": "earliest", **options, "group_id": group_id}
        config["enable_auto_commit"] = False
        try:
            self._consumer = KafkaConsumer(**config)
        except Exception as exc:
            raise KafkaClientError(f"cannot create the Kafka consumer: {exc}") from exc
        self._in_listener = False

    def subscribe(self, topics: Sequence[str], pattern: str | None, handler: RebalanceHandler) -> None:
        from kafka import ConsumerRebalanceListener

        outer = self

        class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
            def on_partitions_revoked(self, revoked: Any) -> None:
                outer._in_listener = True
                try:
                    handler.on_revoked(sorted((tp.topic, tp.partition) for tp in revoked))
                finally:
                    outer._in_listener = False

            def on_partitions_assigned(self, assigned: Any) -> None:
                handler.on_assigned(sorted((tp.topic, tp.partition) for tp in assigned))

        if pattern:
            self._consumer.subscribe(pattern=pattern, listener=Listener())
        else:
            self._consumer.subscribe(topics=list(topics), listener=Listener())

    def poll(self, timeout_s: float, max_records: int) -> list[Message]:
        polled = self._consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        return [
            Message(r.topic, r.partition, r.offset, r.value or b"", list(r.headers or []))
            for records in polled.values()
            for r in records
        ]

    def seek(self, partition: TopicPartitionKey, offset: int) -> None:
        from kafka import TopicPartition

        self._consumer.seek(TopicPartition(*partition), offset)

    def commit(self, offsets: Mapping[TopicPartitionKey, int]) -> None:
        """Commits synchronously; inside a rebalance listener the commit is only sent.

        kafka-python 3 runs listeners on its IO thread, where a blocking commit is refused; the
        request sent there goes out before the group is rejoined.
        """
        from kafka import OffsetAndMetadata, TopicPartition

        if not offsets:
            return
        kafka_offsets = {TopicPartition(t, p): OffsetAndMetadata(o, "", -1) for (t, p), o in offsets.items()}
        if self._in_listener:
            self._consumer.commit_async(kafka_offsets)
        else:
            self._consumer.commit(kafka_offsets)

    def assignment(self) -> set[TopicPartitionKey]:
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def close(self) -> None:
        self._consumer.close(autocommit=False)


class KafkaPythonProducer:
    """:class:`Producer` on ``kafka.KafkaProducer`` (``acks='all'`` unless configured)."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        from kafka import KafkaProducer

        try:
            self._producer = KafkaProducer(**{"acks": "all", **options})
        except Exception as exc:
            raise KafkaClientError(f"cannot create the Kafka producer: {exc}") from exc
        self._pending: list[Any] = []

    def send(self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        self._pending.append(self._producer.send(topic, value=value, key=key, headers=headers or None))

    def flush(self, timeout_s: float) -> None:
        """Returns once every send so far is acknowledged; raises ``KafkaClientError`` otherwise."""
        pending, self._pending = self._pending, []
        self._producer.flush(timeout=timeout_s)
        for future in pending:
            if not future.is_done:
                raise KafkaClientError(f"a send was not acknowledged within {timeout_s} s")
            if future.failed():
                raise KafkaClientError(f"a send failed: {future.exception}")

    def close(self) -> None:
        self._producer.close(timeout=10)


ClientFactory = Callable[[Mapping[str, Any], str], tuple[Consumer, Producer]]


def kafka_python_clients(options: Mapping[str, Any], group_id: str) -> tuple[Consumer, Producer]:
    """The default client pair."""
    consumer_options, producer_options = split_options(options)
    producer = KafkaPythonProducer(producer_options)
    try:
        return KafkaPythonConsumer(consumer_options, group_id), producer
    except Exception:
        producer.close()
        raise
