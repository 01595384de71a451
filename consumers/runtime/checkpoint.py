"""The one place that makes progress durable, in this order:

1. **drain**: apply every poll handed to the decode pool, so the engine reflects all it was given;
2. **flush every sink**: every Insight event, dead letter (and alert) so far is acknowledged;
3. **persist** the engine state together with the input offsets it reflects;
4. **commit exactly those offsets** (of the partitions this process owns, revoked ones included).

Why this order: once offsets are committed, that input is never read again, so what it produced must
be out (2) and the state that reflects it must be durable (3) first. A crash anywhere before (4)
replays from the previous checkpoint, which is always safe: the recall (:mod:`consumers.runtime.recall`)
keeps the output topic from getting an insight twice.

A sink whose flush fails aborts the checkpoint: nothing persisted, nothing committed. While the
broker is away that is expected: the checkpoint is put off (``checkpoint_deferred``, counted as
``checkpoints_deferred``) and tried again on the next interval. A final checkpoint (at shutdown)
that cannot finish raises, so the exit status says the state is behind.

A commit the group refuses because it rebalanced under this process (its session expired during a
stall) leaves the state persisted and the group's offsets behind it, which is safe: the partitions
assigned again are sought to the state's offsets. The commit is made again by the next checkpoint
(``commit_rejected``, counted as ``commits_rejected``), even with nothing new applied.

For the metrics it keeps how many checkpoints completed, how long they took (drain included), when
the last one completed and the size of the engine state it persisted.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from consumers.kafka.protocol import CommitRejectedError, Consumer, KafkaClientError, TopicPartitionKey
from consumers.runtime.figures import CHECKPOINT_BOUNDS, Buckets
from consumers.runtime.logs import JsonLog
from consumers.sinks.base import Sink
from consumers.state.directory_store import State, Store

FLUSH_TIMEOUT_S = 20.0
DEFERRABLE_FLUSH_S = 5.0


class Applied(Protocol):
    """The loop's side of a checkpoint: what the engine has taken in."""

    counts: Counter[str]
    offsets: dict[TopicPartitionKey, int]  # the next offset of each partition the engine reflects

    def drain(self) -> None:
        """Apply every poll handed over for decoding."""
        ...

    def state(self) -> State:
        """The engine's snapshot with the offsets it reflects, as it is now."""
        ...

    def summary(self) -> dict[str, object]:
        """Figures for the ``checkpoint`` log line."""
        ...


def offset_doc(offsets: Mapping[TopicPartitionKey, int]) -> dict[str, int]:
    """``offsets`` keyed ``"topic:partition"``, for log lines."""
    return {f"{t}:{p}": o for (t, p), o in sorted(offsets.items())}


class Checkpoint:
    """Drain → flush every sink → persist → commit (see the module's docstring for why)."""

    def __init__(
        self, loop: Applied, sinks: Sequence[Sink[Any]], store: Store, consumer: Consumer, log: JsonLog
    ) -> None:
        self.loop = loop
        self.sinks = sinks
        self.store = store
        self.consumer = consumer
        self.log = log
        self.persisted: dict[TopicPartitionKey, int] = {}  # the offsets of the state in the store
        self.commit_due = False  # the group refused the last commit of ``persisted``
        self.last_taken = time.monotonic()
        self.done = 0
        self.durations = Buckets(CHECKPOINT_BOUNDS)
        self.done_at: float | None = None  # wall time
        self.state_bytes: int | None = None

    def take(self, revoked: Sequence[TopicPartitionKey] = (), final: bool = False) -> bool:
        """One checkpoint; whether the store and the group now hold everything applied.

        ``revoked``: partitions being taken away, whose offsets are committed too. Raises when
        ``final`` and a sink cannot flush, and on a store or client failure.
        """
        self.last_taken = started = time.monotonic()
        # 1. Drain what is decoded into the engine.
        self.loop.drain()
        if self.loop.offsets == self.persisted:
            # Nothing new since the stored state; its commit, if the group refused it, is made again.
            return self._commit(self.persisted, revoked, final) if self.commit_due else True
        # 2. Flush every sink; one that cannot finish aborts the checkpoint.
        timeout_s = FLUSH_TIMEOUT_S if final else DEFERRABLE_FLUSH_S
        for sink in self.sinks:
            if not sink.flush(timeout_s):
                return self._abort(sink, final)
        # 3. Persist the engine state with the offsets it reflects.
        state = self.loop.state()
        self.store.save(state)
        self.persisted = dict(state.offsets)
        self.state_bytes = len(state.engine)
        # 4. Commit exactly those offsets.
        if not self._commit(state.offsets, revoked, final):
            return False
        self.done += 1
        self.durations.observe(time.monotonic() - started)
        self.done_at = time.time()
        self.log.info("checkpoint", offsets=offset_doc(state.offsets), **self.loop.summary())
        return True

    def _commit(
        self, offsets: dict[TopicPartitionKey, int], revoked: Sequence[TopicPartitionKey], final: bool
    ) -> bool:
        """Commit ``offsets`` (persisted already) of the partitions owned; False if the group refused
        them (raised when ``final``)."""
        owned = self.consumer.assignment() | set(revoked)
        try:
            self.consumer.commit({tp: o for tp, o in offsets.items() if tp in owned})
        except CommitRejectedError as exc:
            self.commit_due = True
            if final:
                raise
            self.loop.counts["commits_rejected"] += 1
            self.log.warning("commit_rejected", reason=str(exc), offsets=offset_doc(offsets))
            return False
        self.commit_due = False
        return True

    def _abort(self, sink: Sink[Any], final: bool) -> bool:
        """Nothing persisted, nothing committed: put off, or (final) raise."""
        if final:
            raise KafkaClientError(f"{sink.name}: output not acknowledged; state left at the last checkpoint")
        self.loop.counts["checkpoints_deferred"] += 1
        self.log.warning("checkpoint_deferred", reason="output not acknowledged yet", sink=sink.name)
        return False
