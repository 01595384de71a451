"""The metric families of :class:`~consumers.runtime.metrics.DaemonCollector`, built from one
:class:`~consumers.runtime.figures.Figures`: the input, the engine, and the runtime around them.

Every label value here comes from the daemon or its configuration (reject and skip reasons, insight
types, topic names and partitions, sink names), never from a record.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from consumers.runtime.figures import EngineFigures, Figures, HistogramFigures
from insights.transition import CALL_RATE, ERROR_RATE

REJECTED = "rejected."
INSIGHT_TYPES = (CALL_RATE, ERROR_RATE)  # shown at 0 before the first, so rates and alerts have a series
PARTITION_LABELS = ("topic", "partition")


def histogram(name: str, documentation: str, h: HistogramFigures) -> HistogramMetricFamily:
    """``h`` as a Prometheus histogram (cumulative buckets, ``+Inf`` last)."""
    cumulative, buckets = 0, []
    for bound, count in zip((*map(str, h.bounds), "+Inf"), h.counts, strict=True):
        cumulative += count
        buckets.append((bound, float(cumulative)))
    return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=h.total)


def by_label(
    family: CounterMetricFamily | GaugeMetricFamily, values: Mapping[str, int]
) -> CounterMetricFamily | GaugeMetricFamily:
    for label, value in sorted(values.items()):
        family.add_metric((label,), value)
    return family


def input_families(f: Figures) -> Iterator[Metric]:
    counts = f.counts
    yield CounterMetricFamily(
        "trailpulse_messages_consumed_total",
        "Kafka messages taken from the input topics and processed",
        value=counts.get("messages", 0),
    )
    rejected = {k.removeprefix(REJECTED): v for k, v in counts.items() if k.startswith(REJECTED)}
    yield from record_families(counts.get("records", 0), rejected)


def record_families(decoded: int, rejected: Mapping[str, int]) -> Iterator[Metric]:
    """Records decoded, and input rejected by reason (the daemon's messages, or replay's files)."""
    yield CounterMetricFamily(
        "trailpulse_records_decoded_total",
        "CloudTrail records decoded from those messages",
        value=decoded,
    )
    yield by_label(
        CounterMetricFamily(
            "trailpulse_records_rejected_total",
            "input refused by the decoder (a record, or a whole message), by reason",
            labels=("reason",),
        ),
        rejected,
    )


def engine_families(e: EngineFigures, emitted: Mapping[tuple[str, str], int]) -> Iterator[Metric]:
    skipped = {reason: n for reason, n in e.skipped.items() if reason != "late"}
    yield by_label(
        CounterMetricFamily(
            "trailpulse_records_skipped_total",
            "decoded records the engine does not count, by reason (late records apart)",
            labels=("reason",),
        ),
        skipped,
    )
    yield CounterMetricFamily(
        "trailpulse_records_late_total",
        "records that arrived after their minute was judged (more than allowed_lateness_minutes"
        " behind their source)",
        value=e.skipped.get("late", 0),
    )
    yield CounterMetricFamily(
        "trailpulse_late_observations_amended_total",
        "observations of late records still added to their key's baseline (amend_late_records)",
        value=e.amended,
    )
    insights = CounterMetricFamily(
        "trailpulse_insights_emitted_total",
        "Insight events emitted, by insight type and state (Start, End)",
        labels=("insight_type", "state"),
    )
    every: dict[tuple[str, str], int] = {(t, s): 0 for t in INSIGHT_TYPES for s in ("Start", "End")}
    for (insight_type, state), n in sorted({**every, **emitted}.items()):
        insights.add_metric((insight_type, state), n)
    yield insights
    yield by_label(
        GaugeMetricFamily(
            "trailpulse_insights_active", "insights started and not ended yet", labels=("insight_type",)
        ),
        {**dict.fromkeys(INSIGHT_TYPES, 0), **e.open_insights},
    )
    yield GaugeMetricFamily(
        "trailpulse_keys_tracked", "keys (API, or API and error code) tracked", e.tracked_keys
    )
    yield GaugeMetricFamily(
        "trailpulse_keys_capacity", "keys that may be tracked at most (max_keys)", e.max_keys
    )
    yield by_label(
        CounterMetricFamily(
            "trailpulse_keys_evicted_total",
            "keys released since the process started: idle (no calls for idle_evict_minutes) or room"
            " (the least active idle key, to admit a new one)",
            labels=("reason",),
        ),
        e.evicted,
    )
    yield CounterMetricFamily(
        "trailpulse_keys_refused_total",
        "new keys not tracked because the key table was full of active keys (their records are not counted)",
        value=e.refused_keys,
    )
    if e.closed_through is not None:
        yield GaugeMetricFamily(
            "trailpulse_closed_minute_timestamp_seconds",
            "end of the last closed event-time minute (Unix time): every minute before it is judged",
            (e.closed_through + 1) * 60,
        )
    yield GaugeMetricFamily(
        "trailpulse_sources",
        "event-time sources (partition, delivery channel, account, region) known",
        e.sources,
    )
    yield GaugeMetricFamily(
        "trailpulse_silent_sources",
        "sources more than source_idle_minutes behind the newest record of their partition",
        e.silent_sources,
    )


def runtime_families(f: Figures, now: float) -> Iterator[Metric]:
    """Checkpoints, partitions, processing and sinks; ``now`` (Unix time) for event-time lag."""
    c = f.checkpoints
    yield CounterMetricFamily(
        "trailpulse_sources_fallen_silent_total",
        "times a source fell silent (each is logged once as source_silent)",
        value=f.counts.get("sources_silent", 0),
    )
    yield CounterMetricFamily("trailpulse_checkpoints_total", "checkpoints completed", value=c.done)
    yield by_label(
        CounterMetricFamily(
            "trailpulse_checkpoint_failures_total",
            "checkpoints not completed: deferred (a sink did not acknowledge) or commit_rejected (the"
            " group rebalanced; the state was persisted)",
            labels=("reason",),
        ),
        {
            "deferred": f.counts.get("checkpoints_deferred", 0),
            "commit_rejected": f.counts.get("commits_rejected", 0),
        },
    )
    yield histogram(
        "trailpulse_checkpoint_duration_seconds", "time taken by completed checkpoints", c.seconds
    )
    if c.last_at is not None:
        yield GaugeMetricFamily(
            "trailpulse_last_checkpoint_timestamp_seconds",
            "when the last checkpoint completed (Unix time)",
            c.last_at,
        )
    if c.state_bytes is not None:
        yield GaugeMetricFamily(
            "trailpulse_state_bytes", "size of the engine state the last checkpoint persisted", c.state_bytes
        )
    lag = GaugeMetricFamily(
        "trailpulse_consumer_lag_records",
        "records of an assigned partition after its position, as of its last fetch",
        labels=PARTITION_LABELS,
    )
    behind = GaugeMetricFamily(
        "trailpulse_consumer_lag_seconds",
        "event-time lag of an assigned partition: now minus the start of the newest minute it delivered",
        labels=PARTITION_LABELS,
    )
    paused = GaugeMetricFamily(
        "trailpulse_partition_paused",
        "1 while an assigned partition is paused, ahead of the others in event time",
        labels=PARTITION_LABELS,
    )
    for p in f.partitions:
        labels = (p.partition[0], str(p.partition[1]))
        if p.lag_records is not None:
            lag.add_metric(labels, p.lag_records)
        if p.newest_minute is not None:
            behind.add_metric(labels, max(now - p.newest_minute * 60, 0.0))
        paused.add_metric(labels, int(p.paused))
    yield from (lag, behind, paused)
    yield histogram(
        "trailpulse_processing_latency_seconds",
        "from a poll's records of one partition being handed to decoding until they are through the"
        " engine and their Insight events handed to the sinks",
        f.processing,
    )
    sink_families: tuple[CounterMetricFamily | GaugeMetricFamily, ...] = (
        CounterMetricFamily(
            "trailpulse_sink_deliveries_total", "items a sink got acknowledged", labels=("sink",)
        ),
        CounterMetricFamily(
            "trailpulse_sink_failures_total",
            "flushes of a sink that did not get everything acknowledged in time, or failed (alert"
            " sinks: posts that failed)",
            labels=("sink",),
        ),
        CounterMetricFamily(
            "trailpulse_sink_retries_total",
            "flushes of a sink that tried again items an earlier flush did not get acknowledged (alert"
            " sinks: posts that tried an alert again)",
            labels=("sink",),
        ),
        GaugeMetricFamily(
            "trailpulse_sink_queue_depth", "items handed to a sink, not acknowledged yet", labels=("sink",)
        ),
        CounterMetricFamily(
            "trailpulse_sink_dead_letters_total",
            "items a sink gave up on (retries exhausted, refused, queue full) and dead-lettered",
            labels=("sink",),
        ),
    )
    for s in f.sinks:
        for family, value in zip(
            sink_families, (s.delivered, s.failures, s.retries, s.queued, s.dead_lettered), strict=True
        ):
            family.add_metric((s.sink,), value)
    yield from sink_families
