"""Partition states told to the engine's clocks: waiting, idle, paused ahead and resumed."""

from __future__ import annotations

from collections.abc import Sequence

from consumers.kafka.protocol import TopicPartitionKey
from consumers.runtime.partition_time import PartitionTime
from insights.clock import SourceClocks

P0, P1 = ("t", 0), ("t", 1)


class Partitions:
    """What PartitionTime asks of a consumer: end offsets, lag, pause and resume."""

    def __init__(self, ends: dict[TopicPartitionKey, int]) -> None:
        self.ends = ends
        self.paused: set[TopicPartitionKey] = set()

    def end_offsets(self, topics: Sequence[str], pattern: str | None) -> dict[TopicPartitionKey, int]:
        return dict(self.ends)

    def lag(self, partition: TopicPartitionKey) -> int | None:
        return 0

    def pause(self, partitions: Sequence[TopicPartitionKey]) -> None:
        self.paused.update(partitions)

    def resume(self, partitions: Sequence[TopicPartitionKey]) -> None:
        self.paused.difference_update(partitions)


def _setup(now: list[float]) -> tuple[PartitionTime, SourceClocks, Partitions]:
    clocks = SourceClocks(lateness=35, idle_minutes=60)
    consumer = Partitions({P0: 100, P1: 100})
    timing = PartitionTime(consumer, clocks, wait_s=30, idle_s=15, align_minutes=120, now=lambda: now[0])  # type: ignore[arg-type]
    timing.assigned([P0, P1])
    return timing, clocks, consumer


def test_assigned_partitions_with_records_are_waited_for_until_they_deliver() -> None:
    now = [0.0]
    timing, clocks, _ = _setup(now)
    clocks.observe("t:0", "1", "us-east-1", 500)
    assert clocks.frontier() is None  # waited for from the assignment on, before any update
    timing.delivered(P0)
    timing.update({}, None)
    assert clocks.frontier() is None  # partition 1 still to deliver
    now[0] = 31.0
    timing.delivered(P0)  # partition 0 still busy: not idle
    assert timing.update({}, None)
    assert clocks.frontier() == 464  # partition 1 waited for long enough


def test_a_paused_partition_holding_the_oldest_minute_resumes_when_the_rest_is_idle() -> None:
    """Partition 0 went far ahead and was paused; one of its account-regions trails the other by
    50 minutes (not silent). Once partition 1 is idle, partition 0's trailing source holds the
    closed minutes: partition 0 must resume, or every partition stays paused for ever."""
    now = [0.0]
    timing, clocks, consumer = _setup(now)
    for p in (P0, P1):
        timing.delivered(p)
    clocks.observe("t:1", "2", "us-east-1", 100)
    clocks.observe("t:0", "1", "us-east-1", 150)
    clocks.observe("t:0", "1", "eu-west-1", 400)
    timing.update({}, closed_through=64)
    assert consumer.paused == {P0}
    clocks.observe("t:0", "1", "us-east-1", 350)  # what it delivered before the pause took hold
    now[0] = 20.0  # partition 1 read to its end and quiet: idle
    assert timing.update({}, closed_through=64)
    closed = clocks.frontier()
    assert closed == 350 - 36
    timing.update({}, closed_through=closed)
    assert consumer.paused == set()


def test_a_partition_assigned_again_keeps_its_clocks_across_an_eager_rebalance() -> None:
    """Every partition is revoked and assigned again: each resumes where the state left it, so its
    account-regions' clocks still hold. Forgotten, an account-region of partition 1 not in its first
    delivery after the rebalance would be unknown, and minutes it still fills would close."""
    now = [0.0]
    timing, clocks, _ = _setup(now)
    clocks.observe("t:0", "1", "us-east-1", 500)
    clocks.observe("t:1", "2", "us-east-1", 480)
    clocks.observe("t:1", "2", "eu-west-1", 450)  # trails its partition, not silent
    for p in (P0, P1):
        timing.delivered(p)
    timing.update({}, None)
    assert clocks.frontier() == 450 - 36
    timing.revoked([P0, P1])
    timing.update({}, None)
    assert clocks.frontier() == 450 - 36  # held during the rebalance
    timing.assigned([P0, P1])
    for p in (P0, P1):
        timing.delivered(p)
    clocks.observe("t:1", "2", "us-east-1", 481)  # partition 1's first delivery: one account-region
    timing.update({}, None)
    assert clocks.frontier() == 450 - 36


def test_a_partition_not_assigned_again_stops_counting() -> None:
    now = [0.0]
    timing, clocks, _ = _setup(now)
    clocks.observe("t:0", "1", "us-east-1", 500)
    clocks.observe("t:1", "2", "us-east-1", 300)
    for p in (P0, P1):
        timing.delivered(p)
    timing.update({}, None)
    timing.revoked([P0, P1])
    timing.assigned([P0])
    timing.delivered(P0)
    timing.update({}, None)
    assert clocks.input_newest("t:1") is None
    assert clocks.frontier() == 500 - 36


def test_a_rebalance_before_any_delivery_still_waits_for_every_partition() -> None:
    """Revoked and assigned again while every partition is still waited for (as when the group
    rebalances again right after a restart): the clocks are still told to wait for all of them,
    so the first partition to deliver does not close minutes through its own clocks alone."""
    now = [0.0]
    timing, clocks, _ = _setup(now)
    clocks.observe("t:0", "1", "us-east-1", 500)  # restored clocks
    clocks.observe("t:1", "2", "us-east-1", 300)
    timing.update({}, None)
    timing.revoked([P0, P1])
    timing.assigned([P0, P1])
    timing.update({}, None)
    timing.delivered(P0)
    timing.update({}, None)
    assert clocks.frontier() is None  # partition 1 has not delivered yet
    timing.revoked([P0])
    timing.assigned([P1])
    timing.update({}, None)
    assert clocks.frontier() is None  # partition 1 still to deliver; partition 0 forgotten
    timing.delivered(P1)
    timing.update({}, None)
    assert clocks.frontier() == 300 - 36
