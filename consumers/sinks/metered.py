"""A sink's figures for the metrics: what was delivered, failed flushes, retries, what waits.

The daemon wraps each of its sinks in a :class:`MeteredSink`; counting costs an integer addition per
item (Insight events and rejects are few next to records) and one per flush, on the loop's thread.
A sink is acknowledged in batches (:meth:`~consumers.sinks.base.Sink.flush`), so an item counts as
delivered when the flush that covers it succeeds, and as queued until then.

>>> from consumers.kafka.memory import MemoryCluster
>>> from consumers.sinks.dead_letters import DeadLetter, DeadLetterSink
>>> producer = MemoryCluster().producer()
>>> sink = MeteredSink("dead_letter_topic", DeadLetterSink(producer, "rejects"))
>>> producer.away = True  # the broker does not acknowledge
>>> sink.add(DeadLetter(b"x", "invalid_json", "", "in:0:0"))
>>> sink.flush(0.1), sink.figures()
(False, SinkFigures(sink='dead_letter_topic', delivered=0, failures=1, retries=0, queued=1, dead_lettered=0))
>>> producer.away = False
>>> sink.flush(0.1), sink.figures()
(True, SinkFigures(sink='dead_letter_topic', delivered=1, failures=1, retries=1, queued=0, dead_lettered=0))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from consumers.sinks.base import Sink

Item = TypeVar("Item")


@dataclass(frozen=True, slots=True)
class SinkFigures:
    """One sink's counts: items ``delivered`` (acknowledged), flushes that did not get everything
    acknowledged or raised (``failures``), flushes that tried again what an earlier one could not
    deliver (``retries``), items handed over and not acknowledged yet (``queued``), and items given
    up on and dead-lettered (``dead_lettered``: alert sinks, whose failures and retries count
    attempts to post rather than flushes)."""

    sink: str
    delivered: int
    failures: int
    retries: int
    queued: int
    dead_lettered: int = 0


class MeteredSink(Generic[Item]):
    """:class:`~consumers.sinks.base.Sink` around ``sink``, counting for :class:`SinkFigures`;
    ``label`` names it in the metrics."""

    def __init__(self, label: str, sink: Sink[Item]) -> None:
        self.label = label
        self.sink = sink
        self.delivered = 0
        self.failures = 0
        self.retries = 0
        self.queued = 0
        self._undelivered = False  # the last flush left items unacknowledged

    @property
    def name(self) -> str:
        return self.sink.name

    def add(self, item: Item) -> None:
        self.queued += 1
        self.sink.add(item)

    def flush(self, timeout_s: float) -> bool:
        if self._undelivered and self.queued:
            self.retries += 1
        try:
            done = self.sink.flush(timeout_s)
        except BaseException:
            self.failures += 1
            self._undelivered = True
            raise
        if done:
            self.delivered += self.queued
            self.queued = 0
        else:
            self.failures += 1
        self._undelivered = not done
        return done

    def close(self) -> None:
        self.sink.close()

    def figures(self) -> SinkFigures:
        return SinkFigures(self.label, self.delivered, self.failures, self.retries, self.queued)
