"""Insight events to the output topic, keyed by ``sharedEventID``, each eventID sent once across restarts.

A restarted daemon processes again the input after its last checkpoint, and computes again the insights
it sent in that stretch before it stopped. :meth:`OutputTopicSink.recall` takes the eventIDs read
back from the topic (:mod:`consumers.runtime.recall` decides from when, and when to forget them);
an insight whose eventID is among them is not sent again. IDs are deterministic (key, type, start
minute), so the same insight computed again has the same eventID. Each record carries, in the header
:data:`DECIDED_HEADER`, the event-time minute whose close decided it: a restarted daemon has computed
again every insight sent before the crash only once its engine has closed that minute too, which may
come well after it has read the input again (a minute closed on an idle partition's wall-clock wait).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

from consumers.kafka.protocol import Message, Producer
from consumers.sinks.base import Insight
from insights.events import encode_event

DECIDED_HEADER = "trailpulse.decided_minute"


class OutputTopicSink:
    """:class:`~consumers.sinks.base.Sink` of :class:`~consumers.sinks.base.Insight` on a Kafka topic.

    Counts into ``counts``: ``insights.start`` / ``insights.end`` sent, ``insights.already_sent``
    skipped because recalled from the topic.
    """

    def __init__(self, producer: Producer, topic: str, counts: Counter[str]) -> None:
        self.producer = producer
        self.topic = topic
        self.counts = counts
        self.recalled: set[str] = set()

    @property
    def name(self) -> str:
        return f"output topic {self.topic}"

    def recall(self, records: Iterable[Message]) -> int | None:
        """Take the eventIDs of ``records`` (read back from the topic); the latest minute that decided
        one of them (None if none says: records of a version before the header)."""
        decided: int | None = None
        for record in records:
            try:
                event_id = json.loads(record.value)["eventID"]
            except (ValueError, KeyError, TypeError):
                continue
            if not isinstance(event_id, str):
                continue
            self.recalled.add(event_id)
            for name, data in record.headers:
                if name == DECIDED_HEADER and data.isdigit():
                    decided = max(decided or 0, int(data))
        return decided

    def forget_recalled(self) -> int:
        """Drop the recalled eventIDs (none can come round again); how many were never computed again."""
        left = len(self.recalled)
        self.recalled.clear()
        return left

    def add(self, item: Insight) -> None:
        event_id = item.event_id
        if event_id in self.recalled:
            self.recalled.discard(event_id)
            self.counts["insights.already_sent"] += 1
            return
        decided = [(DECIDED_HEADER, str(item.transition.decided_minute).encode())]
        self.producer.send(self.topic, encode_event(item.record), item.shared_event_id.encode(), decided)
        self.counts[f"insights.{item.transition.state.lower()}"] += 1

    def flush(self, timeout_s: float) -> bool:
        return self.producer.flush(timeout_s)

    def close(self) -> None:
        """Nothing to release: the producer is shared with the dead-letter sink and closed by its owner."""
