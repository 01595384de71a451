"""The alert sink against a real local HTTP(S) endpoint: order, retries, Retry-After, dead letters,
the outbox that carries undelivered alerts over a restart, and the address rules."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest

from consumers.alerts.http import Endpoint
from consumers.alerts.outbox import decode_outbox, encode_outbox
from consumers.alerts.retry import RetryPolicy
from consumers.alerts.sink import AlertSink, DeadAlert, Request
from consumers.sinks.base import Insight
from tests.alert_receiver import AlertReceiver, Received
from tests.insight_transitions import call_rate

FAST = RetryPolicy(first_s=0.05, cap_s=0.2, give_up_after_s=30.0)


@dataclass
class RecordChannel:
    """Posts the Insight events as a JSON list: the sink's own behaviour, whatever the format."""

    endpoint: Endpoint
    resend_active_s: float | None = None

    def request(self, insights: list[Insight], now: float) -> Request:
        return Request(json.dumps([i.record for i in insights]).encode(), {"x-sent-at": str(now)})


def insight(name: str, state: str = "Start") -> Insight:
    start = call_rate(event_name=name)
    if state == "Start":
        return Insight.of(start)
    return Insight.of(replace(start, state="End", event_minute=start.event_minute + 5))


@pytest.fixture
def receiver() -> Iterator[AlertReceiver]:
    r = AlertReceiver()
    yield r
    r.close()


def sink_for(
    url: str,
    dead: list[DeadAlert] | None = None,
    resend: float | None = None,
    ca_file: str | None = None,
    policy: RetryPolicy = FAST,
    queue_size: int = 10_000,
) -> AlertSink:
    endpoint = Endpoint(url, allow_private=True, timeout_s=2.0, ca_file=ca_file)
    writer = ([] if dead is None else dead).extend
    return AlertSink("test", RecordChannel(endpoint, resend), writer, policy, queue_size)


def names(posts: list[Received]) -> list[str]:
    details = [e["insightDetails"] for p in posts for e in p.json()]
    return [f"{d['eventName']}:{d['state']}" for d in details]


def settled(sink: AlertSink, delivered: int) -> None:
    deadline = time.monotonic() + 10
    while sink.figures().delivered < delivered and time.monotonic() < deadline:
        time.sleep(0.01)


def test_delivers_in_order_and_counts(receiver: AlertReceiver) -> None:
    sink = sink_for(receiver.url)
    for item in (insight("A"), insight("B"), insight("A", "End")):
        sink.add(item)
    assert names(receiver.wait_for(3)) == ["A:Start", "B:Start", "A:End"]
    assert sink.flush(5.0)
    figures = sink.figures()
    assert (figures.delivered, figures.failures, figures.retries, figures.queued) == (3, 0, 0, 0)
    assert receiver.posts()[0].path == "/hook/secret-token"
    sink.close()


def test_retries_server_errors_keeping_the_order(receiver: AlertReceiver) -> None:
    receiver.answers = [(500, {}), (503, {})]
    sink = sink_for(receiver.url)
    sink.add(insight("A"))
    sink.add(insight("A", "End"))
    assert names(receiver.wait_for(2)) == ["A:Start", "A:End"]
    assert [r.status for r in receiver.posts(None)] == [500, 503, 200, 200]
    settled(sink, delivered=2)  # the receiver answered; the sink counts once the answer is read
    figures = sink.figures()
    assert (figures.delivered, figures.failures, figures.retries) == (2, 2, 2)
    sink.close()


def test_honours_retry_after(receiver: AlertReceiver) -> None:
    receiver.answers = [(429, {"Retry-After": "1"})]
    sink = sink_for(receiver.url)
    sink.add(insight("A"))
    receiver.wait_for(1)
    first, second = receiver.posts(None)
    assert second.at - first.at >= 0.95  # the backoff alone would have been ≤ 0.05 s
    sink.close()


def test_refused_and_exhausted_alerts_are_dead_lettered_at_the_flush(receiver: AlertReceiver) -> None:
    receiver.answers = [(400, {})] + [(500, {})] * 1000
    dead: list[DeadAlert] = []
    sink = sink_for(receiver.url, dead, policy=RetryPolicy(0.01, 0.02, give_up_after_s=0.3))
    sink.add(insight("Refused"))
    sink.add(insight("Exhausted"))
    deadline = time.monotonic() + 10
    while sink.figures().queued and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dead == []  # handed over at the flush, on the loop's thread
    assert sink.flush(1.0)
    assert [(d.insight.transition.event_name, d.reason) for d in dead] == [
        ("Refused", "refused"),
        ("Exhausted", "retries_exhausted"),
    ]
    assert dead[0].detail.startswith("HTTP 400") and "secret-token" not in dead[1].detail
    assert sink.figures().dead_lettered == 2
    sink.close()


def test_a_full_queue_dead_letters_instead_of_blocking() -> None:
    dead: list[DeadAlert] = []
    sink = sink_for("http://127.0.0.1:9/unreachable", dead, queue_size=2)
    started = time.monotonic()
    for name in "ABCD":
        sink.add(insight(name))
    assert time.monotonic() - started < 0.5
    assert sink.flush(0.1)
    assert sorted(d.insight.transition.event_name for d in dead if d.reason == "queue_full") == ["C", "D"]
    sink.close()


def test_undelivered_alerts_survive_a_restart_through_the_outbox(receiver: AlertReceiver) -> None:
    down = sink_for("http://127.0.0.1:9/unreachable", resend=60.0)
    down.add(insight("A"))
    down.add(insight("B"))
    down.add(insight("B", "End"))
    started = time.monotonic()
    assert down.flush(5.0)  # the rest goes into the checkpoint's outbox
    assert time.monotonic() - started < 2.0
    blob = encode_outbox({"test": down.snapshot()})
    down.close()
    queued, active = decode_outbox(blob)["test"]
    assert [(i.transition.event_name, i.transition.state) for i in queued] == [
        ("A", "Start"),
        ("B", "Start"),
        ("B", "End"),
    ]
    assert [i.transition.event_name for i in active] == ["A"]
    up = sink_for(receiver.url)
    up.restore(queued, active)
    up.add(insight("C"))
    assert names(receiver.wait_for(4)) == ["A:Start", "B:Start", "B:End", "C:Start"]
    up.close()


def test_active_alerts_are_posted_again_until_their_end(receiver: AlertReceiver) -> None:
    sink = sink_for(receiver.url, resend=0.3)
    sink.add(insight("A"))
    sink.add(insight("B"))
    sink.add(insight("B", "End"))
    posts = receiver.wait_for(5)
    assert names(posts[:3]) == ["A:Start", "B:Start", "B:End"]
    assert all(names([p]) == ["A:Start"] for p in posts[3:])
    sink.close()


def test_https_with_a_private_certificate_authority() -> None:
    receiver = AlertReceiver(tls=True)
    try:
        sink = sink_for(receiver.url, ca_file=receiver.cert_file)
        sink.add(insight("A"))
        assert names(receiver.wait_for(1)) == ["A:Start"]
        sink.close()
    finally:
        receiver.close()


def test_private_addresses_need_the_opt_in(receiver: AlertReceiver) -> None:
    dead: list[DeadAlert] = []
    sink = AlertSink("test", RecordChannel(Endpoint(receiver.url)), dead.extend, policy=FAST)
    sink.add(insight("A"))
    deadline = time.monotonic() + 5
    while sink.figures().queued and time.monotonic() < deadline:
        time.sleep(0.02)
    sink.flush(0.1)
    assert receiver.posts(None) == []
    assert [d.reason for d in dead] == ["refused"] and "plain http" in dead[0].detail
    assert "secret-token" not in dead[0].detail
    sink.close()


@dataclass
class PickyChannel(RecordChannel):
    """Cannot build a body for one API (as a formatter bug would): the worker must go on."""

    def request(self, insights: list[Insight], now: float) -> Request:
        if insights[0].transition.event_name == "Unbuildable":
            raise KeyError("insightDetails")
        return super().request(insights, now)


def test_an_alert_whose_body_cannot_be_built_is_dead_lettered_and_the_rest_go_on(
    receiver: AlertReceiver,
) -> None:
    dead: list[DeadAlert] = []
    endpoint = Endpoint(receiver.url, allow_private=True, timeout_s=2.0)
    sink = AlertSink("test", PickyChannel(endpoint), dead.extend, FAST)
    sink.add(insight("Unbuildable"))
    sink.add(insight("B"))
    assert names(receiver.wait_for(1)) == ["B:Start"]
    sink.flush(0.1)
    assert [(d.reason, d.detail) for d in dead] == [
        ("refused", "cannot build the alert: KeyError('insightDetails')")
    ]
    sink.close()
