"""The :class:`~consumers.kafka.protocol.Consumer` / :class:`~consumers.kafka.protocol.Producer` pair on
confluent-kafka (librdkafka), chosen with ``[run] client = "confluent-kafka"``.

Why a second client: kafka-python parses every record batch in Python, on the thread that also runs the
engine; librdkafka fetches and parses in its own C threads, so the daemon's thread is left with decoding
and processing. On a 2-core machine that is several times kafka-python's consumer throughput.

Options keep kafka-python's names (:mod:`consumers.kafka.confluent_options` translates them); reads
beside the group go through :mod:`consumers.kafka.confluent_reader`. Every callback (rebalance,
delivery, error, log) runs on the thread calling poll, flush or close.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import Consumer as LibrdkafkaConsumer
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka import Message as LibrdkafkaMessage
from confluent_kafka import Producer as LibrdkafkaProducer

from consumers.kafka.confluent_base import (
    LOG,
    build,
    consume,
    kafka_errors,
    message_of,
    partition_keys,
    produce,
    raise_or_log,
)
from consumers.kafka.confluent_options import librdkafka_config
from consumers.kafka.confluent_reader import OutsideReader
from consumers.kafka.options import split_options
from consumers.kafka.protocol import (
    CommitRejectedError,
    Consumer,
    KafkaClientError,
    Message,
    Producer,
    RebalanceHandler,
    TopicPartitionKey,
    build_pair,
)

CLOSE_FLUSH_S = 10.0
# Commit errors meaning the group rebalanced under this member (as kafka-python's CommitFailedError).
REBALANCED = frozenset(
    (KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID, KafkaError.REBALANCE_IN_PROGRESS)
)


class ConfluentConsumer:
    """:class:`Consumer` on ``confluent_kafka.Consumer``: auto-commit off, eager rebalancing.

    A seek inside ``on_assigned`` becomes the start offset of the assignment. librdkafka refuses to seek
    a partition whose fetching has not started yet: such a seek is retried before each poll, and records
    of that partition are held back until it succeeds.
    """

    def __init__(self, options: Mapping[str, Any], group_id: str) -> None:
        self._config: dict[str, Any] = {
            "auto.offset.reset": "earliest",
            "allow.auto.create.topics": True,  # as kafka-python's consumer
            # librdkafka stops fetching a partition whose local queue is full, then waits this long
            # (default 1 s) before fetching again, however fast the queue is drained: a consumer that
            # keeps up idles much of each second. Bare polling, 2 cores: 330k records/s at 10 ms,
            # 120k at the default (kafka-python: 100k).
            "fetch.queue.backoff.ms": 10,
            **librdkafka_config(options),
            "group.id": group_id,
            "enable.auto.commit": False,
            "error_cb": self._client_error,
            "logger": LOG,
        }
        self._consumer = build(LibrdkafkaConsumer, self._config, "consumer")
        self._outside = OutsideReader(self._config)
        self._assigning: dict[TopicPartitionKey, int] | None = None
        self._pending_seeks: dict[TopicPartitionKey, int] = {}
        self._fatal: KafkaError | None = None

    def _client_error(self, error: KafkaError) -> None:
        if error.fatal():
            self._fatal = error
        else:  # retried by librdkafka, which logs the cause itself
            LOG.debug("Kafka consumer: %s", error.str())

    def subscribe(self, topics: Sequence[str], pattern: str | None, handler: RebalanceHandler) -> None:
        def on_assign(consumer: LibrdkafkaConsumer, partitions: list[TopicPartition]) -> None:
            self._assigning = {}
            try:
                handler.on_assigned(partition_keys(partitions))
                for tp in partitions:
                    tp.offset = self._assigning.get((tp.topic, tp.partition), tp.offset)
            finally:
                self._assigning = None
            consumer.assign(partitions)

        def on_revoke(consumer: LibrdkafkaConsumer, partitions: list[TopicPartition]) -> None:
            revoked = partition_keys(partitions)
            for key in revoked:
                self._pending_seeks.pop(key, None)
            handler.on_revoked(revoked)  # may commit: a blocking commit works in librdkafka's callbacks

        # librdkafka takes a subscription starting with "^" as a regex (POSIX extended, matched from the
        # start of the name like kafka-python's re.match).
        names = ([pattern] if pattern.startswith("^") else ["^" + pattern]) if pattern else list(topics)
        self._consumer.subscribe(names, on_assign=on_assign, on_revoke=on_revoke)

    def poll(self, timeout_s: float, max_records: int) -> list[Message]:
        self._seek_pending()
        batch = consume(self._consumer, max_records, timeout_s)
        if self._fatal is not None:
            raise KafkaClientError(f"Kafka consumer failed: {self._fatal.str()}")
        messages = []
        for m in batch:
            error = m.error()
            if error is not None:
                raise_or_log(error, "consumer")
                continue
            message = message_of(m)
            if (message.topic, message.partition) in self._pending_seeks:
                continue
            messages.append(message)
        return messages

    def seek(self, partition: TopicPartitionKey, offset: int) -> None:
        if self._assigning is not None:
            self._assigning[partition] = offset
            return
        if partition not in self.assignment():
            raise KafkaClientError(f"cannot seek {partition[0]}:{partition[1]}: not assigned")
        self._pending_seeks[partition] = offset
        self._seek_pending()

    def _seek_pending(self) -> None:
        for (topic, partition), offset in list(self._pending_seeks.items()):
            try:
                self._consumer.seek(TopicPartition(topic, partition, offset))
                del self._pending_seeks[(topic, partition)]
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError._STATE:  # _STATE: assigned, not fetching yet
                    raise KafkaClientError(f"cannot seek {topic}:{partition}: {exc.args[0].str()}") from exc

    def commit(self, offsets: Mapping[TopicPartitionKey, int]) -> None:
        """Commits synchronously, also inside the rebalance callbacks (librdkafka allows it there)."""
        if not offsets:
            return
        try:
            with kafka_errors("commit failed"):
                committed = self._consumer.commit(
                    offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False
                )
        except KafkaClientError as exc:
            cause = exc.__cause__
            if isinstance(cause, KafkaException) and cause.args[0].code() in REBALANCED:
                raise CommitRejectedError(str(exc)) from cause
            raise
        failed = [f"{tp.topic}:{tp.partition}: {tp.error.str()}" for tp in committed if tp.error is not None]
        if failed:
            raise KafkaClientError(f"commit failed: {'; '.join(failed)}")

    def assignment(self) -> set[TopicPartitionKey]:
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def pause(self, partitions: Sequence[TopicPartitionKey]) -> None:
        with kafka_errors("pause failed"):
            self._consumer.pause([TopicPartition(t, p) for t, p in partitions])

    def resume(self, partitions: Sequence[TopicPartitionKey]) -> None:
        with kafka_errors("resume failed"):
            self._consumer.resume([TopicPartition(t, p) for t, p in partitions])

    def lag(self, partition: TopicPartitionKey) -> int | None:
        """From the end offset librdkafka cached from its fetches: no request is made, and an error
        (a partition revoked since the caller listed it) means the lag is not known."""
        tp = TopicPartition(*partition)
        try:
            _, end = self._consumer.get_watermark_offsets(tp, cached=True)
            [position] = self._consumer.position([tp])
        except KafkaException:
            return None
        if end is None or end < 0 or position.offset < 0:
            return None
        return max(end - position.offset, 0)

    def close(self) -> None:
        try:
            self._consumer.close()  # calls on_revoked first
        finally:
            self._outside.close()

    def read_since(self, topic: str, since_s: float) -> list[Message]:
        return self._outside.read_since(topic, since_s)

    def end_offsets(self, topics: Sequence[str], pattern: str | None) -> dict[TopicPartitionKey, int]:
        return self._outside.end_offsets(topics, pattern)


class ConfluentProducer:
    """:class:`Producer` on ``confluent_kafka.Producer``: ``acks=all`` and idempotent unless configured."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        config = {
            "acks": "all",
            "enable.idempotence": True,  # retries never duplicate or reorder records
            **librdkafka_config(options),
            "error_cb": self._client_error,
            "logger": LOG,
        }
        self._producer = build(LibrdkafkaProducer, config, "producer")
        self._failure: str | None = None  # the first send that failed for good; flush raises it

    def _client_error(self, error: KafkaError) -> None:
        if error.fatal():
            self._failure = self._failure or error.str()
        else:  # retried by librdkafka, which logs the cause itself
            LOG.debug("Kafka producer: %s", error.str())

    def _delivered(self, error: KafkaError | None, message: LibrdkafkaMessage) -> None:
        if error is not None and self._failure is None:
            self._failure = f"{message.topic()}: {error.str()}"

    def send(self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        """Queues the record; waits (up to ``SEND_BLOCK_S``) while librdkafka's local queue is full."""
        # headers: a list of the (wider) element type produce takes
        produce(self._producer, topic, self._delivered, value=value, key=key, headers=[*headers] or None)

    def flush(self, timeout_s: float) -> bool:
        """Whether every send so far is acknowledged after waiting up to ``timeout_s``.

        ``False`` while librdkafka still retries sends (they stay queued until ``delivery_timeout_ms``);
        ``KafkaClientError`` once a send has failed for good.
        """
        still_queued = self._producer.flush(timeout_s)
        if self._failure is not None:
            raise KafkaClientError(f"a send failed: {self._failure}")
        return still_queued == 0

    def close(self) -> None:
        self._producer.flush(CLOSE_FLUSH_S)


def confluent_clients(options: Mapping[str, Any], group_id: str) -> tuple[Consumer, Producer]:
    """The confluent-kafka client pair (:data:`~consumers.kafka.protocol.ClientFactory`)."""
    consumer_options, producer_options = split_options(options)
    librdkafka_config(options)  # refuses an untranslatable option before anything is built
    return build_pair(
        lambda: ConfluentConsumer(consumer_options, group_id), lambda: ConfluentProducer(producer_options)
    )
