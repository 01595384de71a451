"""An in-memory Kafka behind the client protocol, for fast tests of code written against it.

:class:`MemoryCluster` holds topics (partitions of records with offsets and timestamps) and each
consumer group's committed offsets; :meth:`MemoryCluster.clients` has the shape of a
:data:`~consumers.kafka.protocol.ClientFactory`, so the daemon runs on it unchanged, in milliseconds.
As with Bytewax's ``TestingSource``, the input may carry markers between records:

* :data:`EOF`: the input is exhausted here. A consumer stops at it and sees empty polls from then on;
  once every partition it is assigned is stopped so, it calls its ``on_exhausted`` callback once (a test
  stops the daemon there). A consumer created later goes past it.
* :data:`ABORT`: a crash here. The first consumer to reach it raises :class:`AbortError` out of ``poll``,
  like a ``kill -9`` (no final checkpoint); a consumer created later (the restarted process, on the
  same cluster and state store) goes past it.

Rebalances happen in ``poll``, as kafka-python does them: the handler's ``on_revoked`` for every
assigned partition (eager protocol), then ``on_assigned``, each partition starting at the group's
committed offset, else the earliest; a paused partition in both assignments stays paused (as in
kafka-python 3). A topic that starts matching the subscription, or
:meth:`MemoryConsumer.rebalance`, triggers one. Setting :attr:`MemoryProducer.away` plays a broker
that does not acknowledge: sends stay pending and ``flush`` returns ``False`` until it is back.

>>> cluster = MemoryCluster(clock=lambda: 1000.0)
>>> cluster.produce("in", [b"a", b"b", EOF])
>>> consumer, producer = cluster.clients({}, "group")
>>> class Handler:
...     def on_assigned(self, partitions): print("assigned", partitions)
...     def on_revoked(self, partitions): print("revoked", partitions)
>>> consumer.subscribe(["in"], None, Handler())
>>> [m.value for m in consumer.poll(0.5, 10)]
assigned [('in', 0)]
[b'a', b'b']
>>> consumer.poll(0.5, 10), consumer.exhausted
([], True)
>>> producer.send("out", b"x", b"k", []); producer.flush(1.0), cluster.values("out")
(True, [b'x'])
"""

from __future__ import annotations

import contextlib
import enum
import re
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from consumers.kafka.protocol import (
    Consumer,
    KafkaClientError,
    Message,
    Producer,
    RebalanceHandler,
    Received,
    TopicPartitionKey,
)


class Marker(enum.Enum):
    """A point in a partition's input that is not a record (see the module's docstring)."""

    EOF = "EOF"
    ABORT = "ABORT"


EOF = Marker.EOF
ABORT = Marker.ABORT


class AbortError(Exception):
    """Raised out of ``poll`` at an :data:`ABORT` marker: the process crashes there."""


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One record of a topic; it has every attribute of :class:`~consumers.kafka.protocol.Received`."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp: float


@dataclass
class _Mark:
    marker: Marker
    reached: bool = False  # each marker acts once, on the first consumer that reaches it


@dataclass
class _Partition:
    records: list[StoredRecord] = field(default_factory=list)
    marks: dict[int, list[_Mark]] = field(default_factory=dict)  # by the offset they stand before


class MemoryCluster:
    """Topics and consumer groups in memory; ``clock`` stamps the records (seconds)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.topics: dict[str, list[_Partition]] = {}
        self.committed: dict[str, dict[TopicPartitionKey, int]] = {}

    def create_topic(self, name: str, partitions: int = 1) -> None:
        if name in self.topics:
            raise KafkaClientError(f"topic {name} already exists")
        self.topics[name] = [_Partition() for _ in range(partitions)]

    def _partitions(self, topic: str) -> list[_Partition]:
        """The topic's partitions; a topic written before it is created gets one (auto-creation)."""
        if topic not in self.topics:
            self.create_topic(topic)
        return self.topics[topic]

    def append(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
        partition: int | None = None,
    ) -> StoredRecord:
        """One record at the end of ``partition`` (default: by the key's hash, else 0)."""
        partitions = self._partitions(topic)
        if partition is None:
            partition = zlib.crc32(key) % len(partitions) if key is not None else 0
        log = partitions[partition].records
        record = StoredRecord(topic, partition, len(log), value, key, list(headers), self.clock())
        log.append(record)
        return record

    def produce(self, topic: str, values: Iterable[bytes | Marker], partition: int = 0) -> None:
        """Records and markers into one partition, in order."""
        for value in values:
            if isinstance(value, Marker):
                p = self._partitions(topic)[partition]
                p.marks.setdefault(len(p.records), []).append(_Mark(value))
            else:
                self.append(topic, value, partition=partition)

    def records(self, topic: str) -> list[StoredRecord]:
        """Every record of ``topic``, partition by partition, in offset order."""
        return [r for p in self.topics.get(topic, []) for r in p.records]

    def values(self, topic: str) -> list[bytes | None]:
        return [r.value for r in self.records(topic)]

    def end_offsets(self, topic: str) -> dict[TopicPartitionKey, int]:
        return {(topic, i): len(p.records) for i, p in enumerate(self.topics.get(topic, []))}

    def consumer(self, group_id: str) -> MemoryConsumer:
        return MemoryConsumer(self, group_id)

    def producer(self) -> MemoryProducer:
        return MemoryProducer(self)

    def clients(self, options: Mapping[str, Any], group_id: str) -> tuple[Consumer, Producer]:
        """A consumer of ``group_id`` and a producer: a client factory (``options`` are not used)."""
        return self.consumer(group_id), self.producer()


class MemoryConsumer:
    """:class:`~consumers.kafka.protocol.Consumer` of one group on a :class:`MemoryCluster`."""

    def __init__(self, cluster: MemoryCluster, group_id: str) -> None:
        self.cluster = cluster
        self.group_id = group_id
        self.on_exhausted: Callable[[], None] | None = None
        self.exhausted = False
        self._topics: list[str] = []
        self._pattern: str | None = None
        self._handler: RebalanceHandler | None = None
        self._scripted: set[TopicPartitionKey] | None = None
        self._positions: dict[TopicPartitionKey, int] = {}  # of the assigned partitions
        self._held: set[TopicPartitionKey] = set()  # stopped at an EOF
        self.paused: set[TopicPartitionKey] = set()
        self._rebalance_due = False

    def subscribe(self, topics: Sequence[str], pattern: str | None, handler: RebalanceHandler) -> None:
        self._topics, self._pattern, self._handler = list(topics), pattern, handler

    def rebalance(self, partitions: Iterable[TopicPartitionKey] | None = None) -> None:
        """At the next poll, rebalance to ``partitions`` (``None``: every partition subscribed)."""
        self._scripted = None if partitions is None else set(partitions)
        self._rebalance_due = True

    def _subscribed(self) -> set[TopicPartitionKey]:
        if self._scripted is not None:
            return set(self._scripted)
        topics = self.cluster.topics
        if self._pattern:
            names = [t for t in topics if re.match(self._pattern, t)]
        else:
            names = [t for t in self._topics if t in topics]
        return {(t, p) for t in names for p in range(len(topics[t]))}

    def _maybe_rebalance(self) -> None:
        if self._handler is None:
            return
        wanted = self._subscribed()
        if wanted == set(self._positions) and not self._rebalance_due:
            return
        self._rebalance_due = False
        # As with kafka-python, an exception of the handler does not end the poll (the daemon keeps it).
        if self._positions:
            with contextlib.suppress(Exception):
                self._handler.on_revoked(sorted(self._positions))
        committed = self.cluster.committed.get(self.group_id, {})
        self._positions = {tp: committed.get(tp, 0) for tp in sorted(wanted)}
        self._held.clear()
        self.paused &= wanted  # kept for partitions in both assignments, as kafka-python 3 does
        with contextlib.suppress(Exception):
            self._handler.on_assigned(sorted(wanted))

    def poll(self, timeout_s: float, max_records: int) -> Sequence[Received]:
        """Up to ``max_records`` records at once (never waits: ``timeout_s`` is not used)."""
        self._maybe_rebalance()
        out: list[Received] = []
        for tp in sorted(self._positions):
            if tp not in self._held and tp not in self.paused:
                self._read(tp, out, max_records)
        if not out and self._positions and self._held >= set(self._positions) and not self.exhausted:
            self.exhausted = True
            if self.on_exhausted is not None:
                self.on_exhausted()
        return out

    def _read(self, tp: TopicPartitionKey, out: list[Received], max_records: int) -> None:
        partition = self.cluster.topics[tp[0]][tp[1]]
        position = self._positions[tp]
        while len(out) < max_records:
            for mark in partition.marks.get(position, []):
                if not mark.reached:
                    mark.reached = True
                    if mark.marker is ABORT:
                        raise AbortError(f"ABORT at {tp[0]}:{tp[1]}:{position}")
                    self._held.add(tp)
            if tp in self._held or position >= len(partition.records):
                break
            out.append(partition.records[position])
            position += 1
            self._positions[tp] = position

    def seek(self, partition: TopicPartitionKey, offset: int) -> None:
        if partition not in self._positions:
            raise KafkaClientError(f"{partition} is not assigned")
        self._positions[partition] = offset

    def position(self, partition: TopicPartitionKey) -> int:
        """The offset the next poll reads ``partition`` from."""
        return self._positions[partition]

    def commit(self, offsets: Mapping[TopicPartitionKey, int]) -> None:
        self.cluster.committed.setdefault(self.group_id, {}).update(offsets)

    def assignment(self) -> set[TopicPartitionKey]:
        return set(self._positions)

    def lag(self, partition: TopicPartitionKey) -> int | None:
        return len(self.cluster.topics[partition[0]][partition[1]].records) - self._positions[partition]

    def pause(self, partitions: Sequence[TopicPartitionKey]) -> None:
        self.paused.update(tp for tp in partitions if tp in self._positions)

    def resume(self, partitions: Sequence[TopicPartitionKey]) -> None:
        self.paused.difference_update(partitions)

    def close(self) -> None:
        self._handler = None

    def read_since(self, topic: str, since_s: float) -> list[Message]:
        return [
            Message(r.topic, r.partition, r.offset, r.value or b"", r.headers)
            for r in self.cluster.records(topic)
            if r.timestamp >= since_s
        ]

    def end_offsets(self, topics: Sequence[str], pattern: str | None) -> dict[TopicPartitionKey, int]:
        names = [t for t in self.cluster.topics if re.match(pattern, t)] if pattern else topics
        return {tp: o for t in names for tp, o in self.cluster.end_offsets(t).items()}


class MemoryProducer:
    """:class:`~consumers.kafka.protocol.Producer` on a :class:`MemoryCluster`: a send is on its topic
    at once, unless :attr:`away` (the broker does not acknowledge): then it waits, and ``flush`` says so."""

    def __init__(self, cluster: MemoryCluster) -> None:
        self.cluster = cluster
        self.away = False
        self.pending: list[tuple[str, bytes, bytes | None, list[tuple[str, bytes]]]] = []

    def send(self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        self.pending.append((topic, value, key, headers))
        self._deliver()

    def flush(self, timeout_s: float) -> bool:
        """Whether every send is on its topic (never waits: ``timeout_s`` is not used)."""
        self._deliver()
        return not self.pending

    def _deliver(self) -> None:
        if not self.away:
            for topic, value, key, headers in self.pending:
                self.cluster.append(topic, value, key, headers)
            self.pending.clear()

    def close(self) -> None:
        """Delivers what it can; what is still pending then is lost, as when a broker stays away."""
        self._deliver()
        self.pending.clear()
