"""What the rest of trailpulse sees of a Kafka client: small protocols, and the factory that picks one.

The daemon only sees :class:`Consumer` and :class:`Producer`: batches of :class:`Received`, seek,
commit of explicit offsets, the assignment, rebalance callbacks; send and a flush that fails unless
every send was acknowledged. The changelog state store and ``generate``'s writer see :class:`TopicAdmin`
(make sure a topic exists, read one of its settings), :class:`PartitionReader` (a whole partition, from
its beginning to its current end) and :class:`RecordWriter` (keyed sends, tombstones included, whose
failures are reported per record).

:func:`client_factory` picks the implementation by name: kafka-python (the default,
:mod:`consumers.kafka.kafka_python`) or confluent-kafka (:mod:`consumers.kafka.confluent`, an optional
extra). Options use kafka-python's names for both (:mod:`consumers.kafka.options`). Nothing here imports
a Kafka library: importing the protocols costs nothing, and the optional client stays optional.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

TopicPartitionKey = tuple[str, int]
READ_TIMEOUT_S = 60.0
CLIENTS = ("kafka-python", "confluent-kafka")


class Received(Protocol):
    """What the daemon reads of a consumed record. A client may hand over its own record objects
    when they have these attributes (kafka-python's do): no copy per record on the hot path."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class Message:
    """One consumed record, for clients whose own record objects are not :class:`Received`."""

    topic: str
    partition: int
    offset: int
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One record of a partition read whole: its key and value as stored (``None`` value: a tombstone)."""

    offset: int
    key: bytes | None
    value: bytes | None


class KafkaClientError(RuntimeError):
    """The client could not be built, reach the cluster, or have a send acknowledged."""


class CommitRejectedError(KafkaClientError):
    """The group refused a commit because it rebalanced under this member (its session expired, as
    after a stall longer than ``session.timeout.ms``): the member rejoins with its next poll."""


class RebalanceHandler(Protocol):
    def on_revoked(self, partitions: list[TopicPartitionKey]) -> None: ...
    def on_assigned(self, partitions: list[TopicPartitionKey]) -> None: ...


class Consumer(Protocol):
    def subscribe(self, topics: Sequence[str], pattern: str | None, handler: RebalanceHandler) -> None: ...
    def poll(self, timeout_s: float, max_records: int) -> Sequence[Received]: ...
    def seek(self, partition: TopicPartitionKey, offset: int) -> None: ...
    def commit(self, offsets: Mapping[TopicPartitionKey, int]) -> None: ...
    def assignment(self) -> set[TopicPartitionKey]: ...
    # Stop and restart fetching some assigned partitions (positions are kept): event-time alignment.
    def pause(self, partitions: Sequence[TopicPartitionKey]) -> None: ...
    def resume(self, partitions: Sequence[TopicPartitionKey]) -> None: ...
    # Records of an assigned partition between its position and its end as last fetched (None: unknown).
    # Answers from what the client already knows: never a request, never an error (metrics read it).
    def lag(self, partition: TopicPartitionKey) -> int | None: ...
    def close(self) -> None: ...

    # Outside the group, for recovery: what the daemon wrote lately and how far the inputs go.
    def read_since(self, topic: str, since_s: float) -> list[Message]: ...
    def end_offsets(self, topics: Sequence[str], pattern: str | None) -> dict[TopicPartitionKey, int]: ...


class Producer(Protocol):
    def send(self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]) -> None: ...
    def flush(self, timeout_s: float) -> bool: ...
    def close(self) -> None: ...


class TopicAdmin(Protocol):
    """The few cluster questions a store asks before it trusts a topic with its state."""

    def topic_exists(self, topic: str) -> bool: ...
    def live_brokers(self) -> int: ...

    def create_topic(self, topic: str, partitions: int, replicas: int, configs: Mapping[str, str]) -> None:
        """Creates ``topic``; one created meanwhile by someone else is no error."""

    def topic_config(self, topic: str, name: str) -> str | None:
        """The value of the topic's setting ``name`` (its default included), ``None`` if it has none."""

    def close(self) -> None: ...


class PartitionReader(Protocol):
    """Reads partitions outside any consumer group: nothing is committed, no rebalance happens."""

    def read_partition(self, topic: str, partition: int, idle_timeout_s: float) -> Iterator[StoredRecord]:
        """Every record from the partition's beginning to its end offset as of the call, in offset order.

        ``KafkaClientError`` when no record arrives for ``idle_timeout_s`` before the end is reached.
        """

    def close(self) -> None: ...


FailureCallback = Callable[[str], None]


class RecordWriter(Protocol):
    """Keyed sends (a ``None`` value is a tombstone), acknowledged by every in-sync replica."""

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        *,
        partition: int | None = None,
        on_failure: FailureCallback | None = None,
    ) -> None:
        """Queues a record; ``on_failure`` gets why, should it fail for good. ``KafkaClientError`` if
        it cannot even be queued (too large, no metadata for the topic in time)."""

    def flush(self, timeout_s: float | None) -> None:
        """Waits for every send so far (``None``: as long as it takes); their failures have been
        reported when it returns. ``KafkaClientError`` if some are still unacknowledged at the timeout."""

    def close(self) -> None: ...


ClientFactory = Callable[[Mapping[str, Any], str], tuple[Consumer, Producer]]


@dataclass(frozen=True, slots=True)
class TopicTools:
    """One client's constructors of the topic-level tools, each taking ``[kafka]`` options."""

    admin: Callable[[Mapping[str, Any]], TopicAdmin]
    reader: Callable[[Mapping[str, Any]], PartitionReader]
    writer: Callable[[Mapping[str, Any]], RecordWriter]


def build_pair(
    make_consumer: Callable[[], Consumer], make_producer: Callable[[], Producer]
) -> tuple[Consumer, Producer]:
    """The producer, then the consumer; a consumer that cannot be built does not leak the producer."""
    producer = make_producer()
    try:
        return make_consumer(), producer
    except Exception:
        producer.close()
        raise


def client_factory(name: str) -> ClientFactory:
    """The client pair called ``name`` (one of :data:`CLIENTS`); ``ValueError`` for another name.

    Each client is imported only when chosen; confluent-kafka is an optional dependency, and a
    ``KafkaClientError`` says how to install it when it is missing.
    """
    if name == "kafka-python":
        from consumers.kafka.kafka_python import kafka_python_clients

        return kafka_python_clients
    if name == "confluent-kafka":
        try:
            from consumers.kafka.confluent import confluent_clients
        except ImportError as exc:
            raise KafkaClientError(
                f"the confluent-kafka client needs: pip install 'trailpulse[confluent]' ({exc})"
            ) from exc
        return confluent_clients
    raise ValueError(f"unknown Kafka client {name!r} (known: {', '.join(CLIENTS)})")


def topic_tools(name: str) -> TopicTools:
    """The topic tools of the client called ``name``; errors as :func:`client_factory`'s."""
    if name == "kafka-python":
        from consumers.kafka.kafka_python_topics import KafkaPythonAdmin, KafkaPythonReader, KafkaPythonWriter

        return TopicTools(KafkaPythonAdmin, KafkaPythonReader, KafkaPythonWriter)
    client_factory(name)  # an unknown name, or confluent-kafka not installed
    from consumers.kafka.confluent_topics import ConfluentAdmin, ConfluentReader, ConfluentWriter

    return TopicTools(ConfluentAdmin, ConfluentReader, ConfluentWriter)
