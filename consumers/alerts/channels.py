"""Each ``[[alert]]`` kind as a :class:`~consumers.alerts.sink.Channel`: the body its endpoint takes,
built when it is sent, and the sink around it (:func:`alert_sink`).

Bodies come from :mod:`consumers.alerts.formats`; built at send time because the Standard Webhooks
timestamp and Alertmanager's validity are relative to the moment of sending (a receiver refuses a
stale signature; an alert whose ``endsAt`` passed is resolved).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from consumers.alerts.dead_letters import DeadAlertWriter
from consumers.alerts.facts import AlertFacts
from consumers.alerts.formats import (
    alertmanager_postable_alerts,
    alertmanager_webhook,
    generic_body,
    pagerduty_event,
    slack_message,
)
from consumers.alerts.http import Endpoint
from consumers.alerts.retry import RetryPolicy
from consumers.alerts.settings import AlertSettings
from consumers.alerts.signing import signature_headers
from consumers.alerts.sink import AlertSink, Request
from consumers.sinks.base import Insight

ALERTMANAGER_PATH = "/api/v2/alerts"
# A pushed alert stays valid for this many resend intervals: two lost posts do not resolve it.
VALIDITY_INTERVALS = 3


def _json(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Channel:
    """One endpoint and how an alert becomes its body (``build`` takes the Insights and the time)."""

    endpoint: Endpoint
    build: Callable[[list[Insight], float], Request]
    resend_active_s: float | None = None

    def request(self, insights: list[Insight], now: float) -> Request:
        return self.build(insights, now)


def _webhook(secrets: list[str]) -> Callable[[list[Insight], float], Request]:
    """The Insight event as is, with the Standard Webhooks headers (signed when secrets are set:
    several secrets give several signatures, so a receiver can rotate)."""

    def build(insights: list[Insight], now: float) -> Request:
        [insight] = insights
        body = _json(generic_body(insight))
        if secrets:
            return Request(body, signature_headers(secrets, insight.event_id, int(now), body))
        return Request(body, {"webhook-id": insight.event_id, "webhook-timestamp": str(int(now))})

    return build


def _single(make: Callable[[AlertFacts], object]) -> Callable[[list[Insight], float], Request]:
    def build(insights: list[Insight], now: float) -> Request:
        [insight] = insights
        return Request(_json(make(AlertFacts.of(insight))), {})

    return build


def _alertmanager(external_url: str, valid_for_s: float) -> Callable[[list[Insight], float], Request]:
    def build(insights: list[Insight], now: float) -> Request:
        alerts = [
            alert
            for insight in insights
            for alert in alertmanager_postable_alerts(
                AlertFacts.of(insight), external_url, valid_for_s=valid_for_s, now=now
            )
        ]
        return Request(_json(alerts), {})

    return build


def channel(alert: AlertSettings) -> Channel:
    """The channel an ``[[alert]]`` table describes."""
    url = str(alert.url)
    kind = alert.kind
    resend: float | None = None
    if kind == "webhook":
        build = _webhook(str(alert.secret).split())
    elif kind == "alertmanager_webhook":
        build = _single(lambda f: alertmanager_webhook(f, alert.receiver, alert.external_url))
    elif kind == "alertmanager":
        url = url if url.rstrip("/").endswith(ALERTMANAGER_PATH) else url.rstrip("/") + ALERTMANAGER_PATH
        resend = float(alert.resend_interval_s)
        build = _alertmanager(alert.external_url, resend * VALIDITY_INTERVALS)
    elif kind == "slack":
        build = _single(slack_message)
    else:
        build = _single(lambda f: pagerduty_event(f, alert.routing_key))
    endpoint = Endpoint(url, alert.allow_private, alert.timeout_s, alert.ca_file or None)
    return Channel(endpoint, build, resend)


def alert_sink(alert: AlertSettings, dead_letters: DeadAlertWriter) -> AlertSink:
    """The sink of one ``[[alert]]`` table, its alerts given up on going to ``dead_letters``."""
    policy = RetryPolicy(alert.retry_first_s, alert.retry_cap_s, alert.give_up_after_s)
    return AlertSink(alert.label, channel(alert), dead_letters, policy, alert.queue_size)
