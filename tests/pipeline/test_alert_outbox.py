"""Alerts not delivered at a checkpoint are delivered after a crash: the outbox rides in the state.

A first daemon's alert endpoint is down; it checkpoints after the first spike's Start and End were
emitted (so they are in its outbox, and the input that made them is committed: only the outbox can
bring them back), then crashes. The restarted daemon, its endpoint up, posts them, then the second
spike's, each once, in order.
"""

from __future__ import annotations

import pytest

from consumers.alerts.http import Endpoint
from consumers.alerts.retry import RetryPolicy
from consumers.alerts.sink import AlertSink, DeadAlert
from consumers.kafka.memory import ABORT, EOF, AbortError
from tests.alert_receiver import AlertReceiver
from tests.runtime_harness import FIRST_SPIKE, SECOND_SPIKE, SOURCE, Harness, expected_event_ids, traffic
from tests.unit.test_alert_sink import RecordChannel, settled

CRASH = 250  # after the first spike's Start and End, before the second spike
assert FIRST_SPIKE[0] < CRASH < SECOND_SPIKE[0]


def webhook(url: str, dead: list[DeadAlert]) -> AlertSink:
    endpoint = Endpoint(url, allow_private=True, timeout_s=2.0)
    return AlertSink("pager", RecordChannel(endpoint), dead.extend, RetryPolicy(0.05, 0.2, 3600.0))


def test_alerts_undelivered_at_a_checkpoint_are_delivered_after_a_crash() -> None:
    harness = Harness()
    messages = traffic()
    harness.cluster.produce(SOURCE, [*messages[:CRASH], ABORT, *messages[CRASH:], EOF])
    dead: list[DeadAlert] = []
    down = webhook("http://127.0.0.1:9/down", dead)
    first = harness.start(alert_sink=down)
    while first.daemon.offsets.get((SOURCE, 0), 0) < CRASH:
        first.daemon.turn()
    assert first.daemon.checkpoint.take()  # not held up by the endpoint being down
    assert harness.store.saved[-1].offsets == {(SOURCE, 0): CRASH}
    assert harness.store.saved[-1].outbox  # the first spike's Start and End
    with pytest.raises(AbortError):
        first.daemon.turn()
    down.close()

    receiver = AlertReceiver()
    try:
        up = webhook(receiver.url, dead)
        again = harness.start(alert_sink=up)
        [restored] = harness.events("alerts_restored")
        assert (restored["sink"], restored["queued"], restored["active"]) == ("pager", 2, 0)
        again.run_to_eof()
        posts = receiver.wait_for(4)
        delivered = [e["eventID"] for p in posts for e in p.json()]
        assert delivered == expected_event_ids(traffic())
        settled(up, delivered=4)
        assert dead == [] and up.figures().delivered == 4
        up.close()
    finally:
        receiver.close()
