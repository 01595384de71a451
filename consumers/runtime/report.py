"""The loop's side of the metrics: what it counts beside its log lines, and the :class:`Figures` it
publishes for ``/metrics`` (see :mod:`consumers.runtime.figures` for why a published copy).

Counted here: Insight events by type and state, the processing latency of each decoded task (from
its poll being handed to decoding to its records being through the engine and its Insight events
handed to the sinks), and, when ``metrics_top_apis`` is set, the busiest keys of each closed minute,
taken right after the engine call that closed it (a later batch may give a key's slot to another).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from consumers.kafka.protocol import Consumer
from consumers.runtime.checkpoint import Checkpoint
from consumers.runtime.figures import (
    LATENCY_BOUNDS,
    Buckets,
    CheckpointFigures,
    EngineFigures,
    Figures,
    PartitionFigures,
)
from consumers.runtime.partition_time import PartitionTime, input_id
from consumers.sinks.base import AlertOutbox
from consumers.sinks.metered import MeteredSink
from insights.census import KeyFigures, open_insights, top_keys, tracked_keys
from insights.engine import Engine
from insights.transition import InsightTransition

PUBLISH_S = 1.0


class Report:
    """Counts kept on the loop's thread, and :attr:`figures`, the copy ``/metrics`` reads."""

    def __init__(self, top_apis: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.top_apis = top_apis
        self.clock = clock
        self.emitted: Counter[tuple[str, str]] = Counter()
        self.processing = Buckets(LATENCY_BOUNDS)
        self.top: tuple[KeyFigures, ...] = ()
        self._top_through: int | None = None
        self.published_at = -math.inf
        self.figures: Figures | None = None

    def engine_ran(self, engine: Engine, transitions: Sequence[InsightTransition]) -> None:
        """After each call to the engine: its transitions, and the busiest keys if a minute closed."""
        for t in transitions:
            self.emitted[(t.insight_type, t.state)] += 1
        if self.top_apis and engine.closed_through != self._top_through:
            self._top_through = engine.closed_through
            self.top = tuple(top_keys(engine, self.top_apis))

    def processed(self, seconds: float) -> None:
        self.processing.observe(seconds)

    def due(self) -> bool:
        return self.clock() - self.published_at >= PUBLISH_S

    def publish(
        self,
        counts: Mapping[str, int],
        engine: Engine,
        consumer: Consumer,
        partition_time: PartitionTime,
        checkpoint: Checkpoint,
        sinks: Sequence[MeteredSink[Any] | AlertOutbox],
    ) -> None:
        """Copy the figures as they are now into :attr:`figures` (on the loop's thread)."""
        self.published_at = self.clock()
        clocks = partition_time.clocks
        partitions = tuple(
            PartitionFigures(
                tp, consumer.lag(tp), clocks.input_newest(input_id(tp)), tp in partition_time.paused
            )
            for tp in sorted(partition_time.partitions)
        )
        self.figures = Figures(
            counts=dict(counts),
            emitted=dict(self.emitted),
            engine=engine_figures(engine),
            checkpoints=CheckpointFigures(
                checkpoint.done, checkpoint.durations.copy(), checkpoint.done_at, checkpoint.state_bytes
            ),
            processing=self.processing.copy(),
            partitions=partitions,
            sinks=tuple(sink.figures() for sink in sinks),
            top=self.top,
        )


def engine_figures(engine: Engine) -> EngineFigures:
    """What ``engine`` holds and has counted, as the metrics show it (daemon and replay alike)."""
    keys = engine.track.keys
    sources, silent = engine.clocks.counts()
    return EngineFigures(
        skipped=dict(engine.normaliser.skipped),
        amended=engine.normaliser.amended,
        tracked_keys=tracked_keys(engine),
        max_keys=engine.config.max_keys,
        evicted=dict(keys.evicted),
        refused_keys=keys.dropped_full,
        open_insights=dict(open_insights(engine)),
        closed_through=engine.closed_through,
        sources=sources,
        silent_sources=silent,
    )
