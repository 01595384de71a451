"""Nothing twice after a crash: a restarted daemon does not send again what is on the output topic."""

from __future__ import annotations

from collections import Counter

import pytest

from consumers.kafka.memory import ABORT, EOF, AbortError
from tests.runtime_harness import (
    FIRST_SPIKE,
    OUTPUT,
    SECOND_SPIKE,
    SOURCE,
    Harness,
    expected_event_ids,
    traffic,
)

CHECKPOINTED = 150  # before the first spike
CRASH = 250  # after the first spike's Start and End were sent, before the second spike
assert CHECKPOINTED < FIRST_SPIKE[0] < CRASH < SECOND_SPIKE[0]


def crashed(harness: Harness) -> None:
    """A first daemon checkpoints at :data:`CHECKPOINTED`, sends the first spike's insights, and
    crashes at :data:`CRASH` (the ABORT marker)."""
    messages = traffic()
    harness.cluster.produce(SOURCE, [*messages[:CRASH], ABORT, *messages[CRASH:], EOF])
    first = harness.start()
    while first.daemon.offsets.get((SOURCE, 0), 0) < CHECKPOINTED:
        first.daemon.turn()
    assert first.daemon.checkpoint.take()
    with pytest.raises(AbortError):
        while True:
            first.daemon.turn()
    assert harness.store.saved[-1].offsets == {(SOURCE, 0): CHECKPOINTED}
    assert len(harness.sent_event_ids()) == 2  # the first spike's Start and End


def test_a_restart_after_a_crash_sends_no_event_id_twice() -> None:
    harness = Harness()
    crashed(harness)
    again = harness.start()
    [recalled] = harness.events("outputs_recalled")
    assert recalled["event_ids"] == 2 and recalled["replay_ends"] == 1
    again.run_to_eof()

    sent = harness.sent_event_ids()
    assert not [i for i, n in Counter(sent).items() if n > 1]
    assert sent == expected_event_ids(traffic())
    assert again.daemon.counts["insights.already_sent"] == 2
    assert again.daemon.counts["insights.start"] == again.daemon.counts["insights.end"] == 1
    # Every insight sink but the output topic gets them all: an alert lost in the crash is sent again.
    assert [i.event_id for i in again.alerts.received] == sent


def test_the_recalled_event_ids_are_dropped_once_the_restart_is_caught_up() -> None:
    harness = Harness()
    crashed(harness)
    harness.cluster.append(OUTPUT, b'{"eventID": "sent-by-an-engine-configured-otherwise"}')
    again = harness.start()
    assert again.output.recalled == {*harness.sent_event_ids()}
    recall = again.daemon.recall
    outputs_since = recall.outputs_since

    while again.daemon.offsets[(SOURCE, 0)] < CRASH:
        again.daemon.turn()
    assert again.daemon.checkpoint.take()
    assert recall.replay_ends and again.output.recalled == {"sent-by-an-engine-configured-otherwise"}
    assert harness.store.saved[-1].outputs_since == outputs_since  # older sends may still come round

    again.run_to_eof()
    assert not recall.replay_ends and not again.output.recalled
    assert [e["not_recomputed"] for e in harness.events("replay_done")] == [1]
    assert harness.store.saved[-1].outputs_since > outputs_since


def test_a_restart_with_nothing_to_replay_drops_the_recalled_event_ids_at_once() -> None:
    harness = Harness()
    harness.cluster.produce(SOURCE, [*traffic(), EOF])
    harness.start().run_to_eof()
    again = harness.start()
    [recalled] = harness.events("outputs_recalled")
    assert recalled["event_ids"] == 4 and recalled["replay_ends"] == 0
    assert not again.daemon.recall.active and not again.output.recalled
    assert [e["not_recomputed"] for e in harness.events("replay_done")] == [4]


def test_a_restart_after_a_clean_stop_resumes_where_it_stopped() -> None:
    harness = Harness()
    messages = traffic()
    harness.cluster.produce(SOURCE, [*messages[:100], EOF, *messages[100:], EOF])
    harness.start().run_to_eof()
    assert harness.store.saved[-1].offsets == {(SOURCE, 0): 100}
    again = harness.start()
    again.run_to_eof()
    assert again.daemon.counts["messages"] == len(messages) - 100
    assert harness.sent_event_ids() == expected_event_ids(messages)
