"""A real Alertmanager (0.25) receives the ``alertmanager`` sink's pushes: the Insight's Start shows
firing through its API and reaches its webhook receiver as a notification, the End resolves it.

The notification Alertmanager itself sends is also the reference for our ``alertmanager_webhook``
kind: the same keys, labels, annotations and fingerprint for the same Insight.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from consumers.alerts.channels import alert_sink
from consumers.alerts.facts import AlertFacts
from consumers.alerts.formats import alertmanager_webhook
from consumers.alerts.settings import alert_settings
from consumers.alerts.sink import DeadAlert
from consumers.sinks.base import Insight
from tests.alert_receiver import AlertReceiver
from tests.alertmanager_server import AlertmanagerServer
from tests.insight_transitions import call_rate


def wait(what: str, done: Any, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := done():
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_alertmanager_shows_the_insight_firing_then_resolved(tmp_path: Path) -> None:
    start = call_rate(event_name="AttachRolePolicy")
    end = replace(start, state="End", event_minute=start.event_minute + 7)
    receiver = AlertReceiver()
    try:
        with AlertmanagerServer(tmp_path, receiver.url) as alertmanager:
            table = {"kind": "alertmanager", "url": alertmanager.url, "allow_private": True}
            [settings] = alert_settings({"alert": [table | {"resend_interval_s": 1.0}]}, "test")
            dead: list[DeadAlert] = []
            sink = alert_sink(settings, dead.extend)
            sink.add(Insight.of(start))

            def firing() -> list[dict[str, Any]]:
                return [a for a in alertmanager.alerts() if a["status"]["state"] == "active"]

            [active] = wait("the alert to be active", firing)
            assert active["labels"]["event_name"] == "AttachRolePolicy"
            assert active["labels"]["account"] == start.account_id
            notified = wait("the firing notification", lambda: receiver.posts())
            time.sleep(2.5)  # resent twice meanwhile: still one alert, still active
            assert len(firing()) == 1 and sink.figures().delivered >= 2

            sink.add(Insight.of(end))
            wait("the alert to be resolved", lambda: not firing())
            resolved = wait(
                "the resolved notification",
                lambda: [r.json() for r in receiver.posts() if r.json()["status"] == "resolved"],
            )
            sink.close()
            assert dead == []
    finally:
        receiver.close()

    # Alertmanager's own notification and our alertmanager_webhook body agree.
    theirs = notified[0].json()
    ours = alertmanager_webhook(AlertFacts.of(Insight.of(start)), theirs["receiver"], theirs["externalURL"])
    assert list(ours) == list(theirs) or set(ours) == set(theirs)
    assert ours["version"] == theirs["version"] == "4"
    [their_alert], [our_alert] = theirs["alerts"], ours["alerts"]  # type: ignore[misc]
    assert our_alert["labels"] == their_alert["labels"]
    assert our_alert["annotations"] == their_alert["annotations"]
    assert our_alert["fingerprint"] == their_alert["fingerprint"]
    assert our_alert["startsAt"] == their_alert["startsAt"].replace(".000Z", "Z")
    assert resolved[0]["alerts"][0]["fingerprint"] == their_alert["fingerprint"]
