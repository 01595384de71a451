"""A backlog on a multi-partition topic whose partitions are hours apart in event time, and what the
engine gives for the same records fed as replay feeds them: what the daemon's backlog tests check.

Generated traffic reaches Kafka as :mod:`consumers.synth.kafka_arrival` models it (files delivered
minutes after their period, CloudWatch batches minutes after their minute), each account-region keyed
to one partition. Partition ``p``'s producers run ``p * skew_minutes`` behind (as
``trailpulse generate --partition-skew-minutes`` makes some keys' producers run behind), and the topic
holds what arrived from one instant on (as after retention dropped the older segments): so partition 0
starts at that instant's event time and the last partition hours before it, each partition's records
in arrival order for its account-regions. A consumer reading such a topic from the start has every
partition behind by a different amount, which is what per-source event time and alignment must absorb.
"""

from __future__ import annotations

from dataclasses import dataclass

from consumers.synth.kafka_arrival import ArrivalModel, Message, arrivals, horizon_minutes
from consumers.synth.options import GenerateOptions
from consumers.synth.s3_delivery import iter_log_files
from insights.config import EngineConfig
from insights.events import insight_event
from insights.transition import InsightTransition
from tests.daemon_process import replayed

# Gzipped envelopes only: per-record envelopes (raw, EventBridge) take ~1 kB a record, which would
# make the topic several times larger (and the test slower) without changing what event time sees.
ENVELOPES = ("s3gz", "cloudwatch")
LEAD_MINUTES = 60  # the topic starts this long after the most-behind producer's first message


@dataclass(frozen=True)
class Backlog:
    """Each partition's messages in arrival order, and the same messages in delivery order."""

    partitions: list[list[bytes]]
    replay_order: list[bytes]
    records: int
    first_minute: list[int]  # each partition's oldest event minute

    def ends(self, topic: str) -> dict[tuple[str, int], int]:
        """The end offset of each partition once the backlog is produced to ``topic`` (empty before)."""
        return {(topic, p): len(values) for p, values in enumerate(self.partitions)}


def build_backlog(options: GenerateOptions, partitions: int, skew_minutes: float) -> Backlog:
    """The backlog of ``options``' trace on ``partitions`` partitions, each ``skew_minutes`` behind the
    one before. Account-regions go to partitions round-robin in sorted order, so none is empty."""
    model = ArrivalModel(options.seed, 0.0, horizon_minutes(options.max_late))
    messages = list(arrivals(iter_log_files(options), ENVELOPES, model))
    keys = sorted({m.key for m in messages})
    if len(keys) < partitions:
        raise ValueError(f"{len(keys)} account-regions cannot fill {partitions} partitions")
    partition_of = {key: i % partitions for i, key in enumerate(keys)}
    skew_s = skew_minutes * 60

    def arrives(m: Message) -> float:
        return m.at + partition_of[m.key] * skew_s  # the same delay for all of a partition's keys

    topic_starts = messages[0].at + (partitions - 1) * skew_s + LEAD_MINUTES * 60
    kept = [m for m in messages if arrives(m) >= topic_starts]
    by_partition: list[list[bytes]] = [[] for _ in range(partitions)]
    first: list[float] = [float("inf")] * partitions
    for m in kept:  # ``arrivals`` order; within a partition every message has the same delay
        p = partition_of[m.key]
        by_partition[p].append(m.value)
        first[p] = min(first[p], m.at - float(m.lags.max()))
    return Backlog(
        by_partition,
        [m.value for m in kept],
        sum(m.records for m in kept),
        [int(t // 60) for t in first],
    )


@dataclass(frozen=True)
class Reference:
    """The engine's Insight eventIDs (by state) and late records for a backlog fed as replay feeds it."""

    ids: dict[str, set[str]]
    late: int


def reference(backlog: Backlog, config: EngineConfig) -> Reference:
    engine, transitions = replayed(backlog.replay_order, config)
    return Reference(ids_by_state(transitions), engine.normaliser.skipped["late"])


def ids_by_state(transitions: list[InsightTransition]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {"Start": set(), "End": set()}
    for t in transitions:
        out[t.state].add(str(insight_event(t)["eventID"]))
    return out
