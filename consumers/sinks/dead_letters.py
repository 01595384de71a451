"""Rejected input to the dead-letter topic: the offending bytes, and why, in headers.

Headers: ``trailpulse.reason`` (the decoder's reason, e.g. ``invalid_json``), ``trailpulse.detail``
(at most 1000 bytes of explanation) and ``trailpulse.source`` (``topic:partition:offset`` of the
message it came from). No key: rejects of one message may go to any partition.
"""

from __future__ import annotations

from dataclasses import dataclass

from consumers.kafka.protocol import Producer

DETAIL_BYTES = 1000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One rejected record (or a whole message) and where it came from."""

    raw: bytes
    reason: str
    detail: str
    source: str

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("trailpulse.reason", self.reason.encode()),
            ("trailpulse.detail", self.detail.encode("utf-8", "replace")[:DETAIL_BYTES]),
            ("trailpulse.source", self.source.encode()),
        ]


class DeadLetterSink:
    """:class:`~consumers.sinks.base.Sink` of :class:`DeadLetter` on a Kafka topic."""

    def __init__(self, producer: Producer, topic: str) -> None:
        self.producer = producer
        self.topic = topic

    @property
    def name(self) -> str:
        return f"dead-letter topic {self.topic}"

    def add(self, item: DeadLetter) -> None:
        self.producer.send(self.topic, item.raw, None, item.headers())

    def flush(self, timeout_s: float) -> bool:
        return self.producer.flush(timeout_s)

    def close(self) -> None:
        """Nothing to release: the producer is shared with the output sink and closed by its owner."""
