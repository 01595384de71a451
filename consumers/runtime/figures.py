"""The daemon's figures as one immutable value, published by the loop for the metrics to read.

The HTTP server answers ``/metrics`` on its own thread, while the loop changes the engine, the
counters and the consumer. Reading those from the server's thread would race the loop (a dict
changing size under iteration, a Kafka client that is not thread-safe), so the loop copies what the
metrics show into a :class:`Figures` about once a second and after every checkpoint
(:class:`~consumers.runtime.report.Report`), and the server only reads the last one: an attribute
read, atomic in Python.
Publishing costs a few dictionary copies, a call per assigned partition and a count over the key
table's open-insight column: nothing per record.

:class:`Buckets` is a histogram kept by the loop (no lock: one writer), copied into the figures.

>>> buckets = Buckets((0.1, 1.0))
>>> for seconds in (0.05, 0.5, 3.0):
...     buckets.observe(seconds)
>>> buckets.copy()
HistogramFigures(bounds=(0.1, 1.0), counts=(1, 1, 1), total=3.55)
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass

from consumers.kafka.protocol import TopicPartitionKey
from consumers.sinks.metered import SinkFigures
from insights.census import KeyFigures

LATENCY_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CHECKPOINT_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True, slots=True)
class HistogramFigures:
    """Observations per bucket (not cumulative; the last is above every bound) and their sum."""

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    total: float


class Buckets:
    """A histogram of seconds with fixed ``bounds`` (upper bounds, inclusive, as Prometheus's)."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self.total += seconds

    def copy(self) -> HistogramFigures:
        return HistogramFigures(self.bounds, tuple(self.counts), self.total)


@dataclass(frozen=True, slots=True)
class PartitionFigures:
    """One assigned partition: records between its position and its end as last fetched (None:
    unknown), the newest event-time minute it delivered (None: none yet), whether it is paused."""

    partition: TopicPartitionKey
    lag_records: int | None
    newest_minute: int | None
    paused: bool


@dataclass(frozen=True, slots=True)
class CheckpointFigures:
    """Checkpoints completed, how long they took, when the last one was (wall time) and the size of
    the engine state it persisted."""

    done: int
    seconds: HistogramFigures
    last_at: float | None
    state_bytes: int | None


@dataclass(frozen=True, slots=True)
class EngineFigures:
    """What the engine holds and has counted (see :mod:`insights.census`)."""

    skipped: Mapping[str, int]  # records left out, by reason (``late`` among them)
    amended: int
    tracked_keys: int
    max_keys: int
    evicted: Mapping[str, int]
    refused_keys: int
    open_insights: Mapping[str, int]
    closed_through: int | None
    sources: int
    silent_sources: int


@dataclass(frozen=True, slots=True)
class Figures:
    """Everything ``/metrics`` shows, as of one moment of the loop. ``counts`` are the daemon's
    (the ``counts`` of its log lines), ``emitted`` the Insight events by (type, state), ``top`` the
    busiest keys (empty unless ``metrics_top_apis``)."""

    counts: Mapping[str, int]
    emitted: Mapping[tuple[str, str], int]
    engine: EngineFigures
    checkpoints: CheckpointFigures
    processing: HistogramFigures
    partitions: tuple[PartitionFigures, ...]
    sinks: tuple[SinkFigures, ...]
    top: tuple[KeyFigures, ...]
