"""The checkpoint's order (drain → flush every sink → persist → commit) and what a failed flush leaves."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from consumers.kafka.memory import EOF
from consumers.kafka.protocol import CommitRejectedError, KafkaClientError, TopicPartitionKey
from consumers.runtime.decode_pool import Decoded, DecodePool
from tests.runtime_harness import OUTPUT, SOURCE, Harness, Started, expected_event_ids, traffic

FLUSH_THEN_SAVE_THEN_COMMIT = [
    "producer.flush",  # the output topic's
    "alerts.flush",
    "producer.flush",  # the dead-letter topic's
    "store.save",
    "consumer.commit",
]


def consumed(harness: Harness) -> Started:
    """A daemon that has applied all of :func:`traffic` (no checkpoint taken yet)."""
    harness.cluster.produce(SOURCE, [*traffic(), EOF])
    started = harness.start()
    started.turn_to_eof()
    return started


def test_final_checkpoint_flushes_every_sink_then_persists_then_commits() -> None:
    harness = Harness()
    harness.cluster.produce(SOURCE, [*traffic(), EOF])
    started = harness.start()
    assert harness.journal == ["store.save"]  # a fresh state is saved before anything is polled
    harness.journal.clear()
    started.run_to_eof()

    assert harness.journal == FLUSH_THEN_SAVE_THEN_COMMIT
    ends = harness.cluster.end_offsets(SOURCE)
    assert harness.store.saved[-1].offsets == ends == {(SOURCE, 0): len(traffic())}
    assert harness.cluster.committed["trailpulse"] == ends
    want = expected_event_ids(traffic())
    assert len(want) == 4 and harness.sent_event_ids() == want
    assert [i.event_id for i in started.alerts.received] == want
    assert [r.key for r in harness.cluster.records(OUTPUT)] == [
        i.shared_event_id.encode() for i in started.alerts.received
    ]
    assert started.daemon.counts["insights.start"] == started.daemon.counts["insights.end"] == 2
    assert [e["offsets"] for e in harness.events("checkpoint")] == [{f"{SOURCE}:0": len(traffic())}]


class UnfinishedPool(DecodePool):
    """Decodes in this process, but reports a poll done only when asked to wait for it."""

    def take(self, block: bool) -> Decoded | None:
        return super().take(block) if block else None


def test_checkpoint_drains_the_decode_pool_first() -> None:
    harness = Harness()
    harness.cluster.produce(SOURCE, [*traffic(), EOF])
    started = harness.start(pool=UnfinishedPool(0, False))
    for _ in range(3):
        started.daemon.turn()
    assert len(started.daemon.in_flight) == 3 and started.daemon.offsets == {}
    assert started.daemon.checkpoint.take()
    assert not started.daemon.in_flight
    assert harness.store.saved[-1].offsets == harness.cluster.committed["trailpulse"] == {(SOURCE, 0): 75}


@pytest.mark.parametrize("failing", ["output topic", "alerts"])
def test_a_failed_flush_of_any_sink_persists_nothing_and_commits_nothing(failing: str) -> None:
    harness = Harness()
    harness.cluster.produce(SOURCE, [*traffic(), EOF])
    started = harness.start()
    started.producer.away = failing == "output topic"
    started.alerts.acknowledging = failing != "alerts"
    started.turn_to_eof()
    harness.journal.clear()

    assert not started.daemon.checkpoint.take()
    assert "store.save" not in harness.journal and "consumer.commit" not in harness.journal
    assert len(harness.store.saved) == 1 and harness.store.saved[0].offsets == {}
    assert harness.cluster.committed == {}
    assert started.daemon.counts["checkpoints_deferred"] == 1
    [deferred] = harness.events("checkpoint_deferred")
    assert deferred["reason"] == "output not acknowledged yet"
    assert str(deferred["sink"]).startswith(failing)


def test_a_deferred_checkpoint_succeeds_once_the_broker_is_back() -> None:
    harness = Harness()
    harness.cluster.produce(SOURCE, [*traffic(), EOF])
    started = harness.start()
    started.producer.away = True
    started.turn_to_eof()
    assert not started.daemon.checkpoint.take()
    assert not started.daemon.checkpoint.take()
    assert harness.sent_event_ids() == [] and len(started.producer.pending) == 4

    started.producer.away = False
    harness.journal.clear()
    assert started.daemon.checkpoint.take()
    assert harness.journal == FLUSH_THEN_SAVE_THEN_COMMIT
    ends = harness.cluster.end_offsets(SOURCE)
    assert harness.store.saved[-1].offsets == harness.cluster.committed["trailpulse"] == ends
    assert harness.sent_event_ids() == expected_event_ids(traffic())
    assert started.daemon.counts["checkpoints_deferred"] == 2
    assert len(harness.events("checkpoint")) == 1


def test_interval_checkpoints_are_deferred_until_the_output_is_acknowledged() -> None:
    """The loop's own checkpoints (interval 0: every turn) put off, then catch up."""
    harness = Harness()
    harness.cluster.produce(SOURCE, [*traffic(), EOF])
    started = harness.start(checkpoint_interval_s=0.0)
    started.producer.away = True
    started.turn_to_eof()
    deferred = started.daemon.counts["checkpoints_deferred"]
    assert deferred > 0
    assert harness.cluster.committed["trailpulse"] == {(SOURCE, 0): 200}  # up to the first insight
    started.producer.away = False
    started.daemon.turn()
    assert harness.cluster.committed["trailpulse"] == {(SOURCE, 0): len(traffic())}
    assert harness.sent_event_ids() == expected_event_ids(traffic())


def test_a_final_checkpoint_that_cannot_flush_raises_and_leaves_the_state() -> None:
    harness = Harness()
    started = consumed(harness)
    started.alerts.acknowledging = False
    started.daemon.stop()
    with pytest.raises(KafkaClientError, match="alerts: output not acknowledged"):
        started.daemon.run()
    assert [s.offsets for s in harness.store.saved] == [{}]
    assert harness.cluster.committed == {}


def test_nothing_new_since_the_stored_state_means_nothing_to_do() -> None:
    harness = Harness()
    started = consumed(harness)
    assert started.daemon.checkpoint.take()
    harness.journal.clear()
    assert started.daemon.checkpoint.take()
    assert harness.journal == []


def test_a_commit_the_group_refuses_is_made_again_by_the_next_checkpoint() -> None:
    """The group rebalanced under the daemon (a stall past the session timeout): the state is
    persisted, the commit refused; the daemon goes on, and the next checkpoint commits, though
    nothing new was applied."""
    harness = Harness()
    started = consumed(harness)
    refusals = [1]
    commit = started.consumer.commit

    def refusing(offsets: Mapping[TopicPartitionKey, int]) -> None:
        if refusals.pop() if refusals else 0:
            raise CommitRejectedError("commit refused by the group: UnknownMemberIdError")
        commit(offsets)

    started.consumer.commit = refusing  # type: ignore[method-assign]
    assert not started.daemon.checkpoint.take()
    ends = harness.cluster.end_offsets(SOURCE)
    assert harness.store.saved[-1].offsets == ends
    assert "trailpulse" not in harness.cluster.committed
    assert started.daemon.counts["commits_rejected"] == 1
    [rejected] = harness.events("commit_rejected")
    assert rejected["offsets"] == {f"{SOURCE}:0": len(traffic())}

    harness.journal.clear()
    assert started.daemon.checkpoint.take()
    assert harness.journal == ["consumer.commit"]  # nothing new to persist: only the commit
    assert harness.cluster.committed["trailpulse"] == ends
    harness.journal.clear()
    assert started.daemon.checkpoint.take()
    assert harness.journal == []
