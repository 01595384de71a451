"""Rebalances on the in-memory Kafka: a revoke checkpoints the revoked partitions, an assignment
resumes each partition where the state says."""

from __future__ import annotations

import pytest

from consumers.kafka.memory import EOF
from consumers.state.directory_store import State, StateStoreError
from tests.runtime_harness import SOURCE, Harness, expected_event_ids, traffic


def two_partitions(harness: Harness) -> tuple[int, int]:
    """The traffic split over two partitions (first half, second half); their lengths."""
    messages = traffic()
    half = len(messages) // 2
    harness.cluster.create_topic(SOURCE, partitions=2)
    harness.cluster.produce(SOURCE, [*messages[:half], EOF], partition=0)
    harness.cluster.produce(SOURCE, [*messages[half:], EOF], partition=1)
    return half, len(messages) - half


def test_revoke_checkpoints_and_commits_the_revoked_partitions() -> None:
    harness = Harness()
    first, second = two_partitions(harness)
    started = harness.start()
    started.turn_to_eof()
    assert harness.cluster.committed == {}  # no interval checkpoint yet
    harness.journal.clear()

    started.consumer.rebalance([(SOURCE, 1)])  # partition 0 goes to another member
    started.daemon.turn()

    assert harness.journal[-2:] == ["store.save", "consumer.commit"]
    assert harness.cluster.committed["trailpulse"] == {(SOURCE, 0): first, (SOURCE, 1): second}
    assert harness.store.saved[-1].offsets == {(SOURCE, 0): first, (SOURCE, 1): second}
    [revoked] = harness.events("partitions_revoked")
    assert revoked["partitions"] == [f"{SOURCE}:0", f"{SOURCE}:1"]  # eager: all, then the new set
    assert harness.events("partitions_assigned")[-1]["partitions"] == [f"{SOURCE}:1"]
    assert started.consumer.assignment() == {(SOURCE, 1)}


def test_a_revoke_with_nothing_new_since_the_last_checkpoint_writes_nothing() -> None:
    harness = Harness()
    two_partitions(harness)
    started = harness.start()
    started.turn_to_eof()
    assert started.daemon.checkpoint.take()
    harness.journal.clear()
    started.consumer.rebalance([(SOURCE, 1)])
    started.daemon.turn()
    assert harness.journal == []
    assert harness.events("partitions_revoked")


def test_assignment_seeks_to_the_offsets_of_the_state() -> None:
    """A crash after the state was persisted but before the commit: the group's committed offsets are
    behind the state's; the restarted daemon resumes at the state's, not the committed ones."""
    harness = Harness()
    harness.cluster.produce(SOURCE, [*traffic(), EOF])
    first = harness.start()
    for _ in range(6):
        first.daemon.turn()
    assert first.daemon.checkpoint.take()
    assert harness.store.saved[-1].offsets == {(SOURCE, 0): 150}
    harness.cluster.committed["trailpulse"] = {(SOURCE, 0): 40}  # the commit that did not happen

    again = harness.start(poll_max_records=1)
    again.daemon.turn()
    assert again.consumer.position((SOURCE, 0)) == 151
    assert again.daemon.counts["messages"] == 1
    again.run_to_eof()
    assert harness.cluster.committed["trailpulse"] == {(SOURCE, 0): len(traffic())}
    assert harness.sent_event_ids() == expected_event_ids(traffic())


def test_partitions_the_state_does_not_know_resume_from_the_committed_offset_else_the_earliest() -> None:
    harness = Harness()
    first, second = two_partitions(harness)
    harness.cluster.committed["trailpulse"] = {(SOURCE, 1): 10}
    started = harness.start()
    started.daemon.turn()
    assert started.consumer.position((SOURCE, 0)) == 25  # read from 0
    assert started.consumer.position((SOURCE, 1)) == 10  # not read yet
    started.run_to_eof()
    assert started.daemon.counts["messages"] == first + second - 10
    assert harness.store.saved[-1].offsets == {(SOURCE, 0): first, (SOURCE, 1): second}


def test_a_failure_inside_a_rebalance_callback_stops_the_loop() -> None:
    """The client swallows what its callbacks raise (as kafka-python does); the daemon raises it
    after the poll."""
    harness = Harness()
    two_partitions(harness)
    started = harness.start()
    started.turn_to_eof()

    def refuse(state: State) -> None:
        raise StateStoreError("disk full")

    harness.store.save = refuse  # type: ignore[method-assign]
    started.consumer.rebalance([(SOURCE, 1)])
    with pytest.raises(StateStoreError, match="disk full"):
        started.daemon.turn()
    assert harness.cluster.committed == {}
