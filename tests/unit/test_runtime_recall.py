"""Nothing twice after a crash: a restarted daemon does not send again what is on the output topic."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

import msgspec
import pytest

from consumers.kafka.memory import ABORT, EOF, AbortError
from consumers.sinks.output_topic import DECIDED_HEADER
from tests.builders import api, poisson_counts, stream
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
    for record in harness.cluster.records(OUTPUT):  # each says which minute's close decided it
        [(name, decided)] = record.headers
        event_time = datetime.fromisoformat(json.loads(record.value or b"")["eventTime"])
        assert name == DECIDED_HEADER and int(decided) >= event_time.timestamp() // 60


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


def test_a_restart_with_nothing_to_replay_nor_to_close_drops_the_recalled_event_ids_at_once() -> None:
    harness = Harness()
    harness.cluster.produce(SOURCE, [*traffic()[:CRASH], EOF])
    harness.start().run_to_eof()
    again = harness.start()
    [recalled] = harness.events("outputs_recalled")
    assert recalled["event_ids"] == 2 and recalled["replay_ends"] == 0
    assert not again.daemon.recall.active and not again.output.recalled
    assert [e["not_recomputed"] for e in harness.events("replay_done")] == [2]


def test_the_recalled_event_ids_are_kept_until_the_minutes_that_decided_them_close() -> None:
    """Stopped shortly after the first spike: the restored engine has not closed its insights'
    deciding minutes plus the margin, so input that comes later could still bring them round."""
    harness = Harness()
    messages = traffic()
    stop = FIRST_SPIKE[1] + 22
    harness.cluster.produce(SOURCE, [*messages[:stop], EOF])
    harness.start().run_to_eof()
    sent = harness.sent_event_ids()
    again = harness.start()
    recall = again.daemon.recall
    [recalled] = harness.events("outputs_recalled")
    assert recalled["replay_ends"] == 0 and recalled["close_through"] == recall.close_through
    closed = again.daemon.engine.closed_through
    assert recall.close_through is not None and closed is not None and closed < recall.close_through
    assert recall.active and again.output.recalled == {*sent}
    assert harness.store.saved[-1].outputs_since == recall.outputs_since  # kept at each checkpoint

    harness.cluster.produce(SOURCE, [*messages[stop:], EOF])
    again.run_to_eof()
    assert not recall.active and [e["not_recomputed"] for e in harness.events("replay_done")] == [2]
    assert harness.sent_event_ids() == expected_event_ids(messages)
    assert harness.store.saved[-1].outputs_since > recalled["since"]  # type: ignore[operator]


def test_a_restart_sends_nothing_twice_when_the_killed_daemon_closed_minutes_on_an_idle_partition() -> None:
    """The killed daemon read partition 1 (the spikes) while partition 0, read to its end an hour
    earlier in event time, went idle: that closed the spikes' minutes and sent their insights. The
    restarted daemon reads partition 1 to the end again, but waits ``partition_idle_s`` of its own
    before partition 0 is idle, and only then computes the spikes' insights again: the recalled
    eventIDs must outlive the replay of the offsets."""
    quiet = stream({api("DescribeVolumes", account="222233334444"): poisson_counts(4.0, 240, 9)})
    harness = Harness()
    harness.cluster.create_topic(SOURCE, 2)
    quiet_messages = [msgspec.json.encode({"Records": quiet[m]}) for m in sorted(quiet)]
    harness.cluster.produce(SOURCE, [*quiet_messages, EOF])
    harness.cluster.produce(SOURCE, [*traffic(), ABORT, EOF], partition=1)
    quiet_p, busy_p = (SOURCE, 0), (SOURCE, 1)
    clock = [0.0]
    first = harness.start(partition_idle_s=30.0, poll_max_records=5)
    first.daemon.partition_time.now = lambda: clock[0]
    while first.daemon.offsets.get(quiet_p, 0) < 240 or first.daemon.offsets.get(busy_p, 0) < CHECKPOINTED:
        first.daemon.turn()
    assert first.daemon.checkpoint.take() and not harness.sent_event_ids()
    clock[0] = 100.0  # partition 0 idle: minutes close through partition 1 alone
    with pytest.raises(AbortError):
        while True:
            first.daemon.turn()
    assert sorted(harness.sent_event_ids()) == sorted(expected_event_ids(traffic()))

    again = harness.start(partition_idle_s=30.0)
    again.daemon.partition_time.now = lambda: clock[0]
    again.daemon.turn()  # assigned at 100 s: partition 0 idle from 130 s
    clock[0] = 120.0
    while again.daemon.offsets[busy_p] < len(traffic()):
        again.daemon.turn()
    assert not again.daemon.recall.replay_ends and again.daemon.recall.active
    clock[0] = 135.0
    again.daemon.turn()
    sent = harness.sent_event_ids()
    assert not [i for i, n in Counter(sent).items() if n > 1]
    assert again.daemon.counts["insights.already_sent"] == 4 and not again.daemon.recall.active


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
