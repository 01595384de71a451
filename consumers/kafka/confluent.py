"""The :class:`~consumers.kafka.client.Consumer` / :class:`~consumers.kafka.client.Producer` pair on
confluent-kafka (librdkafka), chosen with ``[run] client = "confluent-kafka"``.

Why a second client: kafka-python parses every record batch in Python, on the thread that also runs the
engine; librdkafka fetches and parses in its own C threads, so the daemon's thread is left with decoding
and processing. On a 2-core machine that is several times kafka-python's consumer throughput.

Options keep kafka-python's names, so one ``[kafka]`` table serves both clients: :func:`librdkafka_config`
translates those with a librdkafka equivalent and refuses the others by name. librdkafka's log lines go
to this module's :mod:`logging` logger (as kafka-python's go to ``kafka.*``). Every callback (rebalance,
delivery, error, log) runs on the thread calling poll, flush or close.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar, cast

from confluent_kafka import Consumer as LibrdkafkaConsumer
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka import Message as LibrdkafkaMessage
from confluent_kafka import Producer as LibrdkafkaProducer

from consumers.kafka.client import (
    READ_TIMEOUT_S,
    Consumer,
    KafkaClientError,
    Message,
    Producer,
    RebalanceHandler,
    TopicPartitionKey,
    build_pair,
    split_options,
)

LOG = logging.getLogger(__name__)
Client = TypeVar("Client")
READ_BATCH = 1000
SEND_BLOCK_S = 60.0  # how long send waits for room in a full local queue (kafka-python's max_block_ms)
CLOSE_FLUSH_S = 10.0
OAUTH_TOKEN_LIFETIME_S = 60.0  # the provider tells no expiry; librdkafka asks again after 80 % of this
STOP_ERRORS = frozenset({KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED})

# kafka-python option → librdkafka property, for the options whose meaning is the same.
RENAMED = {
    "bootstrap_servers": "bootstrap.servers",
    "client_id": "client.id",
    "security_protocol": "security.protocol",
    "sasl_mechanism": "sasl.mechanism",
    "sasl_plain_username": "sasl.username",
    "sasl_plain_password": "sasl.password",
    "ssl_cafile": "ssl.ca.location",
    "ssl_certfile": "ssl.certificate.location",
    "ssl_keyfile": "ssl.key.location",
    "ssl_password": "ssl.key.password",
    "metadata_max_age_ms": "topic.metadata.refresh.interval.ms",
    "allow_auto_create_topics": "allow.auto.create.topics",
    "auto_offset_reset": "auto.offset.reset",
    "isolation_level": "isolation.level",
    "session_timeout_ms": "session.timeout.ms",
    "heartbeat_interval_ms": "heartbeat.interval.ms",
    "max_poll_interval_ms": "max.poll.interval.ms",
    "group_instance_id": "group.instance.id",
    "acks": "acks",
    "enable_idempotence": "enable.idempotence",
    "linger_ms": "linger.ms",
    "delivery_timeout_ms": "delivery.timeout.ms",
    "compression_type": "compression.type",
}


def librdkafka_config(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` (kafka-python names) as librdkafka properties; ``ValueError`` names the untranslatable."""
    unknown = sorted(set(options) - RENAMED.keys() - {"sasl_oauth_token_provider", "ssl_check_hostname"})
    if unknown:
        raise ValueError(f"kafka-python option(s) with no confluent-kafka equivalent: {', '.join(unknown)}")
    config: dict[str, Any] = {}
    for name, value in options.items():
        if value is None:  # kafka-python's "not set"
            continue
        if name == "sasl_oauth_token_provider":
            config["oauth_cb"] = _oauth_callback(value)
        elif name == "ssl_check_hostname":
            config["ssl.endpoint.identification.algorithm"] = "https" if value else "none"
        elif name == "bootstrap_servers" and not isinstance(value, str):
            config["bootstrap.servers"] = ",".join(value)
        else:
            config[RENAMED[name]] = value
    return config


def _oauth_callback(provider: Any) -> Callable[[str], tuple[str, float, str, dict[str, str]]]:
    """librdkafka's token refresh callback on a kafka-python ``AbstractTokenProvider``."""

    def refresh(_oauthbearer_config: str) -> tuple[str, float, str, dict[str, str]]:
        return str(provider.token()), time.time() + OAUTH_TOKEN_LIFETIME_S, "", dict(provider.extensions())

    return refresh


@contextlib.contextmanager
def _kafka_errors(doing: str) -> Iterator[None]:
    """librdkafka's exceptions (a ``KafkaError`` in ``args[0]``) as :class:`KafkaClientError`."""
    try:
        yield
    except KafkaException as exc:
        raise KafkaClientError(f"{doing}: {exc.args[0].str()}") from exc


def _keys(partitions: Iterable[TopicPartition]) -> list[TopicPartitionKey]:
    return sorted((tp.topic, tp.partition) for tp in partitions)


def _consume(consumer: LibrdkafkaConsumer, max_records: int, timeout_s: float) -> list[LibrdkafkaMessage]:
    """Waits up to ``timeout_s`` for a message, then takes what is fetched already, up to ``max_records``.

    (``consume(max_records, timeout)`` alone waits out the timeout unless the batch fills.)
    """
    batch = consumer.consume(num_messages=1, timeout=timeout_s)
    if batch and max_records > 1:
        batch += consumer.consume(num_messages=max_records - 1, timeout=0)
    return batch


def _raise_or_log(error: KafkaError, what: str) -> None:
    """Fatal and authorization errors stop the client; the others librdkafka retries by itself."""
    if error.code() == KafkaError._PARTITION_EOF:
        return
    if error.fatal() or error.code() in STOP_ERRORS:
        raise KafkaClientError(f"Kafka {what} failed: {error.str()}")
    LOG.warning("Kafka %s error (retried): %s", what, error.str())


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
        self._consumer = _build(LibrdkafkaConsumer, self._config, "consumer")
        self._reader: LibrdkafkaConsumer | None = None
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
                handler.on_assigned(_keys(partitions))
                for tp in partitions:
                    tp.offset = self._assigning.get((tp.topic, tp.partition), tp.offset)
            finally:
                self._assigning = None
            consumer.assign(partitions)

        def on_revoke(consumer: LibrdkafkaConsumer, partitions: list[TopicPartition]) -> None:
            revoked = _keys(partitions)
            for key in revoked:
                self._pending_seeks.pop(key, None)
            handler.on_revoked(revoked)  # may commit: a blocking commit works in librdkafka's callbacks

        # librdkafka takes a subscription starting with "^" as a regex (POSIX extended, matched from the
        # start of the name like kafka-python's re.match).
        names = ([pattern] if pattern.startswith("^") else ["^" + pattern]) if pattern else list(topics)
        self._consumer.subscribe(names, on_assign=on_assign, on_revoke=on_revoke)

    def poll(self, timeout_s: float, max_records: int) -> list[Message]:
        self._seek_pending()
        batch = _consume(self._consumer, max_records, timeout_s)
        if self._fatal is not None:
            raise KafkaClientError(f"Kafka consumer failed: {self._fatal.str()}")
        messages = []
        for m in batch:
            error = m.error()
            if error is not None:
                _raise_or_log(error, "consumer")
                continue
            topic, partition, offset = m.topic(), m.partition(), m.offset()
            assert topic is not None and partition is not None and offset is not None  # set on records
            if (topic, partition) in self._pending_seeks:
                continue
            # The consumer gives headers as a list of (name, bytes or None).
            headers = cast(list[tuple[str, bytes | None]], m.headers() or [])
            header_list = [(name, data or b"") for name, data in headers]
            messages.append(Message(topic, partition, offset, m.value() or b"", header_list))
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
        with _kafka_errors("commit failed"):
            committed = self._consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False
            )
        failed = [f"{tp.topic}:{tp.partition}: {tp.error.str()}" for tp in committed if tp.error is not None]
        if failed:
            raise KafkaClientError(f"commit failed: {'; '.join(failed)}")

    def assignment(self) -> set[TopicPartitionKey]:
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def close(self) -> None:
        try:
            self._consumer.close()  # calls on_revoked first
        finally:
            if self._reader is not None:
                self._reader.close()

    def _outside(self) -> LibrdkafkaConsumer:
        """A consumer that only assigns (never joins a group nor commits), for reads beside the group's."""
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
            self._reader = _build(LibrdkafkaConsumer, config, "reader")
        return self._reader

    def _partitions(self, topics: Iterable[str] | None, pattern: str | None) -> list[TopicPartition]:
        """The partitions of ``topics`` (or of the topics ``pattern`` matches) the cluster knows."""
        with _kafka_errors("cannot list the topics"):
            found = self._outside().list_topics(timeout=READ_TIMEOUT_S).topics
        names = [t for t in found if re.match(pattern, t)] if pattern else list(topics or ())
        return [
            TopicPartition(t, p)
            for t in names
            if t in found and found[t].error is None
            for p in sorted(found[t].partitions)
        ]

    def _end(self, tp: TopicPartition) -> int:
        with _kafka_errors(f"no end offset for {tp.topic}:{tp.partition}"):
            return self._outside().get_watermark_offsets(tp, timeout=READ_TIMEOUT_S, cached=False)[1]

    def read_since(self, topic: str, since_s: float) -> list[bytes]:
        """Values of every record written to ``topic`` at or after ``since_s`` (by record timestamp)."""
        reader = self._outside()
        partitions = self._partitions([topic], None)
        ends = {tp.partition: self._end(tp) for tp in partitions}
        if not ends:
            return []
        with _kafka_errors(f"cannot look up offsets by time in {topic}"):
            since = [TopicPartition(topic, p, int(since_s * 1000)) for p in ends]
            found = reader.offsets_for_times(since, timeout=READ_TIMEOUT_S)
        failed = [f"{tp.partition}: {tp.error.str()}" for tp in found if tp.error is not None]
        if failed:
            raise KafkaClientError(f"cannot look up offsets by time in {topic}: {'; '.join(failed)}")
        # Offset -1: no record at or after since_s.
        starts = {tp.partition: tp.offset for tp in found if 0 <= tp.offset < ends[tp.partition]}
        values: list[bytes] = []
        deadline = time.monotonic() + READ_TIMEOUT_S
        reader.assign([TopicPartition(topic, p, o) for p, o in starts.items()])
        try:
            while starts:
                if time.monotonic() > deadline:
                    raise KafkaClientError(f"could not read {topic} to its end within {READ_TIMEOUT_S} s")
                for m in _consume(reader, READ_BATCH, 0.5):
                    partition, offset, error = m.partition(), m.offset(), m.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:  # also past a gap at the end
                            starts.pop(cast(int, partition), None)
                        _raise_or_log(error, "reader")
                        continue
                    assert partition is not None and offset is not None  # set on records
                    if partition in starts and offset < ends[partition]:
                        values.append(m.value() or b"")
                    if offset + 1 >= ends[partition]:
                        starts.pop(partition, None)
        finally:
            reader.unassign()
        return values

    def end_offsets(self, topics: Sequence[str], pattern: str | None) -> dict[TopicPartitionKey, int]:
        """The end offset of every partition of ``topics`` (or of the topics ``pattern`` matches)."""
        return {(tp.topic, tp.partition): self._end(tp) for tp in self._partitions(topics, pattern)}


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
        self._producer = _build(LibrdkafkaProducer, config, "producer")
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
        deadline = time.monotonic() + SEND_BLOCK_S
        while True:
            try:
                self._producer.produce(
                    topic,
                    value=value,
                    key=key,
                    headers=[*headers] or None,  # a list of the (wider) element type produce takes
                    on_delivery=self._delivered,
                )
                break
            except BufferError as exc:
                if time.monotonic() > deadline:
                    raise KafkaClientError(f"send queue still full after {SEND_BLOCK_S} s") from exc
                self._producer.poll(0.1)  # deliveries make room
            except KafkaException as exc:  # a fatal error, a record too large, ...
                raise KafkaClientError(f"cannot send to {topic}: {exc.args[0].str()}") from exc
        self._producer.poll(0)  # serves the delivery reports that arrived

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


def _build(kind: Callable[[dict[str, Any]], Client], config: dict[str, Any], what: str) -> Client:
    try:
        return kind(config)
    except (KafkaException, ValueError, TypeError) as exc:
        raise KafkaClientError(f"cannot create the Kafka {what}: {exc}") from exc


def confluent_clients(options: Mapping[str, Any], group_id: str) -> tuple[Consumer, Producer]:
    """The confluent-kafka client pair (:data:`~consumers.kafka.client.ClientFactory`)."""
    consumer_options, producer_options = split_options(options)
    librdkafka_config(options)  # refuses an untranslatable option before anything is built
    return build_pair(
        lambda: ConfluentConsumer(consumer_options, group_id), lambda: ConfluentProducer(producer_options)
    )
