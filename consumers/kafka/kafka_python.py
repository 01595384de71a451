"""The :class:`~consumers.kafka.protocol.Consumer` / :class:`~consumers.kafka.protocol.Producer` pair on
kafka-python, the default client (a pure-Python dependency, always installed).

Imported only when chosen (:func:`~consumers.kafka.protocol.client_factory`) or when a store or the
generator needs kafka-python's topic tools (:mod:`consumers.kafka.kafka_python_topics`).
``AbstractTokenProvider`` is here for the settings, which make a static OAUTHBEARER token one.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.errors import CommitFailedError, KafkaError, KafkaTimeoutError
from kafka.net.sasl.oauth import AbstractTokenProvider as AbstractTokenProvider  # re-exported

from consumers.kafka.options import split_options
from consumers.kafka.protocol import (
    READ_TIMEOUT_S,
    CommitRejectedError,
    Consumer,
    KafkaClientError,
    Message,
    Producer,
    RebalanceHandler,
    Received,
    TopicPartitionKey,
    build_pair,
)

LEAVE_GROUP_S = 5.0  # at most this long for the LeaveGroup answer at close (see KafkaPythonConsumer.close)


class KafkaPythonConsumer:
    """:class:`Consumer` on ``kafka.KafkaConsumer`` with auto-commit off."""

    def __init__(self, options: Mapping[str, Any], group_id: str) -> None:
        config = {"auto_offset_reset": "earliest", **options, "group_id": group_id}
        config["enable_auto_commit"] = False
        self._options = dict(config)
        self._reader: Any = None
        try:
            self._consumer = KafkaConsumer(**config)
        except Exception as exc:
            raise KafkaClientError(f"cannot create the Kafka consumer: {exc}") from exc
        self._in_listener = False

    def subscribe(self, topics: Sequence[str], pattern: str | None, handler: RebalanceHandler) -> None:
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

    def poll(self, timeout_s: float, max_records: int) -> Sequence[Received]:
        self._release_parked_records()
        polled = self._consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        if len(polled) == 1:
            records: list[Received] = next(iter(polled.values()))
            return records
        return [r for records in polled.values() for r in records]

    def _release_parked_records(self) -> None:
        """Work around kafka-python 3.0.12 losing a resumed partition for good.

        Records fetched for a partition that is then paused are parked, and handed back once it is
        resumed only while the fetcher's in-line slot is ``None``; but a slot read to its end stays a
        drained (falsy) object until another fetch response replaces it. With every other partition
        paused (the daemon's alignment pauses those ahead) no response comes, and the resumed
        partition is never fetched again either, since it counts as having data buffered: the
        daemon stalls with lag on it. A drained slot holds nothing, so clearing it changes nothing
        else and lets this poll hand the parked records back.
        """
        fetcher = getattr(self._consumer, "_fetcher", None)
        slot = getattr(fetcher, "_next_partition_records", None)
        if slot is not None and not slot and getattr(fetcher, "_paused_partition_records", None):
            fetcher._next_partition_records = None  # type: ignore[union-attr]

    def seek(self, partition: TopicPartitionKey, offset: int) -> None:
        self._consumer.seek(TopicPartition(*partition), offset)

    def commit(self, offsets: Mapping[TopicPartitionKey, int]) -> None:
        """Commits synchronously; inside a rebalance listener the commit is only sent.

        kafka-python 3 runs listeners on its IO thread, where a blocking commit is refused; the
        request sent there goes out before the group is rejoined. A commit the group refuses
        because it rebalanced raises :class:`CommitRejectedError`.
        """
        if not offsets:
            return
        kafka_offsets = {TopicPartition(t, p): OffsetAndMetadata(o, "", -1) for (t, p), o in offsets.items()}
        if self._in_listener:
            self._consumer.commit_async(kafka_offsets)
            return
        try:
            self._consumer.commit(kafka_offsets)
        except CommitFailedError as exc:
            raise CommitRejectedError(f"commit refused by the group: {exc}") from exc
        except KafkaError as exc:
            raise KafkaClientError(f"commit failed: {exc}") from exc

    def assignment(self) -> set[TopicPartitionKey]:
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def pause(self, partitions: Sequence[TopicPartitionKey]) -> None:
        self._consumer.pause(*(TopicPartition(*tp) for tp in partitions))

    def resume(self, partitions: Sequence[TopicPartitionKey]) -> None:
        self._consumer.resume(*(TopicPartition(*tp) for tp in partitions))

    def lag(self, partition: TopicPartitionKey) -> int | None:
        """From the end offset and the position the last fetch left, read from the client's
        subscription state: no request is made and nothing is raised.

        ``KafkaConsumer.position`` refreshes committed offsets over the network when a position is
        unknown (just after an assignment), so a metrics scrape or an idleness check during a broker
        restart would fail; ``highwater`` raises for a partition revoked since the caller listed it.
        Either way the lag is simply not known yet.
        """
        state = self._consumer._subscription.assignment.get(TopicPartition(*partition))
        end = getattr(state, "highwater", None)
        position = getattr(state, "position", None)
        if end is None or position is None:
            return None
        return max(int(end) - int(position.offset), 0)

    def close(self) -> None:
        """Leave the group, waiting at most :data:`LEAVE_GROUP_S` for the coordinator.

        Leaving is best effort (the group drops a member that left without a word once its session
        expires) and must not hold a stopping daemon: a LeaveGroup sent while a join is pending is
        answered only after that join, which waits for the members of a killed process to time out,
        and kafka-python would wait the whole ``request_timeout_ms`` (30 s) for it.
        """
        self._consumer.close(autocommit=False, timeout_ms=int(LEAVE_GROUP_S * 1000))
        if self._reader is not None:
            self._reader.close()

    def _outside(self) -> Any:
        """A consumer of no group (never commits, never joins), for reads beside the group's."""

        if self._reader is None:
            config = {k: v for k, v in self._options.items() if k not in ("group_id", "client_id")}
            self._reader = KafkaConsumer(**{**config, "group_id": None, "enable_auto_commit": False})
        return self._reader

    def read_since(self, topic: str, since_s: float) -> list[Message]:
        """Every record written to ``topic`` at or after ``since_s`` (by record timestamp)."""

        reader = self._outside()
        partitions = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())]
        if not partitions:
            return []
        found = reader.offsets_for_times({tp: int(since_s * 1000) for tp in partitions})
        ends = reader.end_offsets(partitions)
        starts = {tp: (found[tp].offset if found.get(tp) is not None else ends[tp]) for tp in partitions}
        reader.assign(partitions)
        for tp, offset in starts.items():
            reader.seek(tp, offset)
        read: list[Message] = []
        deadline = time.monotonic() + READ_TIMEOUT_S
        while any(reader.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise KafkaClientError(f"could not read {topic} to its end within {READ_TIMEOUT_S} s")
            for records in reader.poll(timeout_ms=500).values():
                read.extend(
                    Message(r.topic, r.partition, r.offset, r.value or b"", list(r.headers or []))
                    for r in records
                )
        reader.unsubscribe()
        return read

    def end_offsets(self, topics: Sequence[str], pattern: str | None) -> dict[TopicPartitionKey, int]:
        """The end offset of every partition of ``topics`` (or of the topics ``pattern`` matches)."""

        reader = self._outside()
        names = [t for t in reader.topics() if re.match(pattern, t)] if pattern else list(topics)
        partitions = [
            TopicPartition(t, p) for t in names for p in sorted(reader.partitions_for_topic(t) or ())
        ]
        return {(tp.topic, tp.partition): o for tp, o in reader.end_offsets(partitions).items()}


class KafkaPythonProducer:
    """:class:`Producer` on ``kafka.KafkaProducer`` (``acks='all'`` unless configured)."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        try:
            self._producer = KafkaProducer(**{"acks": "all", **options})
        except Exception as exc:
            raise KafkaClientError(f"cannot create the Kafka producer: {exc}") from exc
        self._pending: list[Any] = []

    def send(self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        self._pending.append(self._producer.send(topic, value=value, key=key, headers=headers or None))

    def flush(self, timeout_s: float) -> bool:
        """Whether every send so far is acknowledged after waiting up to ``timeout_s``.

        ``False`` while sends are still being retried (the broker is away; they stay pending and a
        later flush waits for them again); ``KafkaClientError`` once a send has failed for good.
        """
        with contextlib.suppress(KafkaTimeoutError):  # unacknowledged sends stay pending
            self._producer.flush(timeout=timeout_s)
        failed = next((f for f in self._pending if f.is_done and f.failed()), None)
        if failed is not None:
            raise KafkaClientError(f"a send failed: {failed.exception}")
        self._pending = [f for f in self._pending if not f.is_done]
        return not self._pending

    def close(self) -> None:
        self._producer.close(timeout=10)


def kafka_python_clients(options: Mapping[str, Any], group_id: str) -> tuple[Consumer, Producer]:
    """The default client pair."""
    consumer_options, producer_options = split_options(options)
    return build_pair(
        lambda: KafkaPythonConsumer(consumer_options, group_id), lambda: KafkaPythonProducer(producer_options)
    )
