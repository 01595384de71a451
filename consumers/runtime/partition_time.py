"""What only the consumer knows about its partitions' event time, told to the engine's clocks.

The engine keeps a clock per source, each partition's account-regions apart, and closes minutes
through the oldest of them (:mod:`insights.clock`). Three facts about partitions come from Kafka,
not from the records, and this module turns them into the engine's inputs:

* **Waiting**: a partition just assigned whose end offset is past where it resumes has records whose
  event time is unknown until they arrive. Nothing closes until it has delivered, or until
  ``partition_wait_s`` has passed (a partition that cannot be read must not stop the others for
  ever), as Kafka Streams waits up to ``max.task.idle.ms`` for a partition with data.
* **Idle**: a partition read to its end (as far as the consumer's last fetch knows) that delivered
  nothing for ``partition_idle_s`` no longer holds minutes open, as Flink's ``withIdleness``; one with
  records left to read is behind, not idle, however long the others keep the consumer busy. When it
  delivers again it holds them again; its records are late only if older than every other source by
  ``allowed_lateness``.
* **Ahead**: a partition whose newest minute runs more than ``align_minutes`` past the last closed
  minute is paused until the others catch up, as Flink's watermark alignment: a backlog read
  unevenly (one partition hours behind another) then buffers a bounded span of minutes, not hours.
  The span is never less than what the engine itself may hold open (a source may trail its input by
  ``source_idle_minutes``, then ``allowed_lateness_minutes``), so the partition holding the oldest
  open minute is never the one paused; and a paused partition resumes once it is back within that
  span, so when every partition still to read is paused, the one holding the oldest open minute
  resumes as soon as the others are idle (a smaller resume span would leave them all paused).

A revoked partition's clocks are kept until the assignment that ends the rebalance, and forgotten
only if it does not give the partition back. Rebalances are eager (both clients' default): every
partition is revoked, and those assigned again resume where the engine's state left them (the daemon
seeks them to its own offsets), so their sources' clocks still hold. Forgetting them would leave
each account-region of such a partition unknown until it delivers again, and the minutes its
records still belong to would close through the others' clocks: records lost as late.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from consumers.kafka.protocol import Consumer, TopicPartitionKey
from insights.clock import SourceClocks


def input_id(tp: TopicPartitionKey) -> str:
    """The engine's name for a partition's input."""
    return f"{tp[0]}:{tp[1]}"


@dataclass
class _Partition:
    assigned_at: float
    last_delivery: float
    delivered: bool = False
    backlog: bool | None = None  # unknown until the end offsets are read (outside the callbacks)


class PartitionTime:
    """The assigned partitions' waiting, idle and paused states, kept in step with ``clocks``."""

    def __init__(
        self,
        consumer: Consumer,
        clocks: SourceClocks,
        wait_s: float,
        idle_s: float,
        align_minutes: int,
        now: Callable[[], float] = time.monotonic,
        log: Callable[..., None] | None = None,
    ) -> None:
        self.consumer = consumer
        self.clocks = clocks
        self.wait_s = wait_s
        self.idle_s = idle_s
        self.align_minutes = max(align_minutes, clocks.idle_minutes + clocks.lateness + 2)
        # Resumed once back within this: never less than how far a partition holding the frontier
        # may be ahead of it, else a paused partition that alone holds the oldest open minute (the
        # others read, idle or paused) would wait for closes only it can bring, for ever.
        self.resume_minutes = max(self.align_minutes // 2, clocks.idle_minutes + clocks.lateness + 1)
        self.now = now
        self.log = log or (lambda event, **fields: None)
        self.partitions: dict[TopicPartitionKey, _Partition] = {}
        self.paused: set[TopicPartitionKey] = set()
        # Assigned since the last update. A client may keep a partition's pause across a rebalance
        # (kafka-python 3 keeps it for partitions in both assignments) while a new assignment starts
        # unpaused here, so each is resumed, outside the callbacks, lest it stay paused unseen.
        self._to_resume: set[TopicPartitionKey] = set()
        # Revoked since the last assignment: their clocks are forgotten only if it does not give
        # them back (see the module's docstring).
        self._revoked: set[TopicPartitionKey] = set()
        # What the clocks were last told (waiting, idle): only changes are told, so this must follow
        # every change made to the clocks' sets, :meth:`SourceClocks.forget_input`'s included.
        self._told: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())

    def assigned(self, partitions: Sequence[TopicPartitionKey]) -> None:
        """Partitions just assigned, the whole assignment (called from the rebalance callback: no
        requests here). Until their end offsets are read they are waited for: records may come
        before the next update. Partitions revoked and not assigned again stop counting."""
        now = self.now()
        gone = frozenset(input_id(tp) for tp in self._revoked - set(partitions))
        for input_ in gone:
            self.clocks.forget_input(input_)
        self._revoked.clear()
        self._told = (self._told[0] - gone, self._told[1] - gone)
        for tp in partitions:
            self.partitions[tp] = _Partition(now, now)
            self.paused.discard(tp)
        self._to_resume.update(partitions)
        self._tell(self._waiting(now), self._told[1])

    def revoked(self, partitions: Sequence[TopicPartitionKey]) -> None:
        """Partitions taken away: no longer waited for, idle or paused here. Their sources still
        count until the next assignment, which holds minutes open during the rebalance, no more."""
        for tp in partitions:
            self.partitions.pop(tp, None)
            self.paused.discard(tp)
            self._to_resume.discard(tp)
            self._revoked.add(tp)

    def delivered(self, tp: TopicPartitionKey) -> None:
        """Records of ``tp`` have reached the engine."""
        state = self.partitions.get(tp)
        if state is not None:
            state.delivered = True
            state.last_delivery = self.now()

    def update(self, resume_offsets: dict[TopicPartitionKey, int], closed_through: int | None) -> bool:
        """Refresh the clocks' waiting and idle inputs and pause or resume partitions; True if the
        clocks changed (minutes may close without new records)."""
        self._learn_backlogs(resume_offsets)
        if self._to_resume:
            self.consumer.resume(sorted(self._to_resume))
            self._to_resume.clear()
        now = self.now()
        waiting = self._waiting(now)
        idle = frozenset(
            input_id(tp)
            for tp, p in self.partitions.items()
            if tp not in self.paused and now - p.last_delivery >= self.idle_s and not self.consumer.lag(tp)
        )
        self._align(closed_through)
        return self._tell(waiting, idle)

    def _waiting(self, now: float) -> frozenset[str]:
        """Partitions with records (or not known yet to have none) that delivered nothing so far."""
        return frozenset(
            input_id(tp)
            for tp, p in self.partitions.items()
            if not p.delivered and p.backlog is not False and now - p.assigned_at < self.wait_s
        )

    def _tell(self, waiting: frozenset[str], idle: frozenset[str]) -> bool:
        if (waiting, idle) == self._told:
            return False
        self.log("partitions_waited_idle", waiting=sorted(waiting), idle=sorted(idle))
        self._told = (waiting, idle)
        self.clocks.set_waiting(set(waiting))
        self.clocks.set_idle(set(idle))
        return True

    def _learn_backlogs(self, resume_offsets: dict[TopicPartitionKey, int]) -> None:
        unknown = [tp for tp, p in self.partitions.items() if p.backlog is None]
        if not unknown:
            return
        topics = sorted({t for t, _ in unknown})
        ends = self.consumer.end_offsets(topics, None)
        for tp in unknown:
            self.partitions[tp].backlog = ends.get(tp, 0) > resume_offsets.get(tp, 0)

    def _align(self, closed_through: int | None) -> None:
        """Pause partitions too far ahead of the closed minutes; resume them once back in reach. A
        partition not yet delivered since its assignment is never paused: its records are what the
        clocks wait for (after a restart its clock is the state's, which says nothing of them)."""
        if closed_through is None:
            return
        ahead, back = [], []
        for tp, state in self.partitions.items():
            delivered = state.delivered
            newest = self.clocks.input_newest(input_id(tp))
            if newest is None:
                continue
            if tp not in self.paused and delivered and newest > closed_through + self.align_minutes:
                ahead.append(tp)
            elif tp in self.paused and newest <= closed_through + self.resume_minutes:
                back.append(tp)
        if ahead:
            self.consumer.pause(ahead)
            self.paused.update(ahead)
            self.log("partitions_paused", partitions=[input_id(tp) for tp in ahead], closed=closed_through)
        if back:
            self.consumer.resume(back)
            self.paused.difference_update(back)
            self.log("partitions_resumed", partitions=[input_id(tp) for tp in back], closed=closed_through)
