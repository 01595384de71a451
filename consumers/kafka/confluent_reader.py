"""Reads beside any consumer group with confluent-kafka: a consumer that only assigns.

The daemon's recovery reads what it wrote lately (:meth:`OutsideReader.read_since`) and how far its inputs
go (:meth:`OutsideReader.end_offsets`); the changelog store reads its partition whole
(:meth:`OutsideReader.read_partition`). None of them joins a group or commits anything.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition
from confluent_kafka import Consumer as LibrdkafkaConsumer

from consumers.kafka.confluent_base import build, consume, kafka_errors, message_of, raise_or_log
from consumers.kafka.protocol import (
    READ_TIMEOUT_S,
    KafkaClientError,
    Message,
    StoredRecord,
    TopicPartitionKey,
)

READ_BATCH = 1000


class OutsideReader:
    """A librdkafka consumer made on first use from a consumer's ``config``, never subscribed."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = dict(config)
        self._reader: LibrdkafkaConsumer | None = None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _client(self) -> LibrdkafkaConsumer:
        """A consumer that only assigns (never joins a group nor commits)."""
        if self._reader is None:
            config = {k: v for k, v in self._config.items() if k != "client.id"}
            config.update(
                {
                    # Required by the Python binding; unused without subscribe or commit.
                    "group.id": f"{config['group.id']}.reader",
                    "allow.auto.create.topics": False,
                    "enable.partition.eof": True,
                    # A fetch waiting for data on the broker delays the next metadata or offset request
                    # on that connection by as much; the reader fetches only while reading to an end.
                    "fetch.wait.max.ms": 10,
                }
            )
            self._reader = build(LibrdkafkaConsumer, config, "reader")
        return self._reader

    def _partitions(self, topics: Iterable[str] | None, pattern: str | None) -> list[TopicPartition]:
        """The partitions of ``topics`` (or of the topics ``pattern`` matches) the cluster knows."""
        with kafka_errors("cannot list the topics"):
            found = self._client().list_topics(timeout=READ_TIMEOUT_S).topics
        names = [t for t in found if re.match(pattern, t)] if pattern else list(topics or ())
        return [
            TopicPartition(t, p)
            for t in names
            if t in found and found[t].error is None
            for p in sorted(found[t].partitions)
        ]

    def _end(self, tp: TopicPartition) -> int:
        with kafka_errors(f"no end offset for {tp.topic}:{tp.partition}"):
            return self._client().get_watermark_offsets(tp, timeout=READ_TIMEOUT_S, cached=False)[1]

    def read_since(self, topic: str, since_s: float) -> list[Message]:
        """Every record written to ``topic`` at or after ``since_s`` (by record timestamp)."""
        reader = self._client()
        partitions = self._partitions([topic], None)
        ends = {tp.partition: self._end(tp) for tp in partitions}
        if not ends:
            return []
        with kafka_errors(f"cannot look up offsets by time in {topic}"):
            since = [TopicPartition(topic, p, int(since_s * 1000)) for p in ends]
            found = reader.offsets_for_times(since, timeout=READ_TIMEOUT_S)
        failed = [f"{tp.partition}: {tp.error.str()}" for tp in found if tp.error is not None]
        if failed:
            raise KafkaClientError(f"cannot look up offsets by time in {topic}: {'; '.join(failed)}")
        # Offset -1: no record at or after since_s.
        starts = {tp.partition: tp.offset for tp in found if 0 <= tp.offset < ends[tp.partition]}
        records: list[Message] = []
        deadline = time.monotonic() + READ_TIMEOUT_S
        reader.assign([TopicPartition(topic, p, o) for p, o in starts.items()])
        try:
            while starts:
                if time.monotonic() > deadline:
                    raise KafkaClientError(f"could not read {topic} to its end within {READ_TIMEOUT_S} s")
                for m in consume(reader, READ_BATCH, 0.5):
                    partition, offset, error = m.partition(), m.offset(), m.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:  # also past a gap at the end
                            starts.pop(cast(int, partition), None)
                        raise_or_log(error, "reader")
                        continue
                    assert partition is not None and offset is not None  # set on records
                    if partition in starts and offset < ends[partition]:
                        records.append(message_of(m))
                    if offset + 1 >= ends[partition]:
                        starts.pop(partition, None)
        finally:
            reader.unassign()
        return records

    def end_offsets(self, topics: Sequence[str], pattern: str | None) -> dict[TopicPartitionKey, int]:
        """The end offset of every partition of ``topics`` (or of the topics ``pattern`` matches)."""
        return {(tp.topic, tp.partition): self._end(tp) for tp in self._partitions(topics, pattern)}

    def read_partition(self, topic: str, partition: int, idle_timeout_s: float) -> Iterator[StoredRecord]:
        """Every record from the partition's beginning to its end offset as of the call, in offset order."""
        reader = self._client()
        with kafka_errors(f"no offsets for {topic}:{partition}"):
            start, end = reader.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=READ_TIMEOUT_S, cached=False
            )
        if start >= end:
            return
        reader.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
        try:
            deadline = time.monotonic() + idle_timeout_s
            while True:
                if time.monotonic() > deadline:
                    raise KafkaClientError(
                        f"{topic}:{partition}: no record for {idle_timeout_s} s before its end"
                    )
                for m in consume(reader, READ_BATCH, 0.5):
                    deadline = time.monotonic() + idle_timeout_s
                    offset, error = m.offset(), m.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:  # also past a gap at the end
                            return
                        raise_or_log(error, "reader")
                        continue
                    assert offset is not None  # set on records
                    if offset >= end:
                        return
                    yield StoredRecord(offset, m.key(), m.value())
                    if offset + 1 >= end:
                        return
        finally:
            reader.unassign()
