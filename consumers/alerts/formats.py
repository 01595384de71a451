"""The body each kind of alert receiver expects for one Insight: pure functions, no I/O.

Every body is a plain JSON-able value (strings, numbers, lists, dicts), the same for the same
inputs, so a retry sends the same bytes and tests can compare bodies whole. A Start opens an alert
and its End closes it; ``sharedEventID`` ties the two together in every format (DESIGN §3).

Labels are the insight's identity only (what ``sharedEventID`` derives from), never its figures:
Alertmanager tells alerts apart by their label set, so an End must carry exactly the labels of
its Start to resolve it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from consumers.alerts.facts import AlertFacts, TopValues, clip, duration, number
from consumers.sinks.base import Insight

__all__ = [
    "ALERTNAME",
    "alert_annotations",
    "alert_labels",
    "alertmanager_postable_alerts",
    "alertmanager_webhook",
    "fingerprint",
    "generic_body",
    "pagerduty_event",
    "slack_message",
]

ALERTNAME = "CloudTrailInsight"
#: Go's zero ``time.Time``: what Alertmanager puts in ``endsAt`` of an alert still firing.
_GO_ZERO_TIME = "0001-01-01T00:00:00Z"
_ANNOTATION_OF_ATTRIBUTE = {
    "userIdentityArn": "top_user_identity_arn",
    "userAgent": "top_user_agent",
    "errorCode": "top_error_code",
}
_FNV64_OFFSET = 14695981039346656037
_FNV64_PRIME = 1099511628211
_PAGERDUTY_SUMMARY_MAX = 1024
_SLACK_HEADER_MAX = 150
_SLACK_FIELD_MAX = 2000
_SLACK_TEXT_MAX = 3000


def alert_labels(facts: AlertFacts) -> dict[str, str]:
    """The alert's labels, sorted by name as Alertmanager's JSON (a Go map) has them."""
    labels = {
        "alertname": ALERTNAME,
        "insight_type": facts.insight_type,
        "event_source": facts.event_source,
        "event_name": facts.event_name,
        "account": facts.account_id,
        "region": facts.region,
        "direction": facts.direction,
        "shared_event_id": facts.shared_event_id,
    }
    if facts.insight_type == "ApiErrorRateInsight" and facts.error_code:
        labels["error_code"] = facts.error_code
    return dict(sorted(labels.items()))


def alert_annotations(facts: AlertFacts) -> dict[str, str]:
    """Summary, reason and figures, sorted by name; one ``top_*`` annotation per attribution; on a
    Start, ``start_reason``: the rule that fired and its figures."""
    annotations = {
        "summary": facts.summary,
        "description": facts.reason,
        "baseline_average": number(facts.baseline_average),
        "insight_average": number(facts.insight_average),
    }
    if facts.why is not None:
        annotations["start_reason"] = facts.why
    for top in facts.attributions:
        if top.values:
            annotations[_ANNOTATION_OF_ATTRIBUTE.get(top.attribute, f"top_{top.attribute}")] = _listing(top)
    return dict(sorted(annotations.items()))


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint of a label set: FNV-1a 64 over the sorted names and values, each
    followed by the byte 0xff, as 16 hex digits.

    The labels hold ``shared_event_id`` and nothing that changes between a Start and its End, so
    the two share it, and it is the fingerprint Alertmanager itself gives the same alert posted to
    ``/api/v2/alerts``.

    >>> fingerprint({"name": "garland, briggs", "fear": "love is not enough"})  # prometheus/common's test
    '507a62d79ee76c9a'
    """
    h = _FNV64_OFFSET
    for name in sorted(labels):
        for part in (name.encode(), b"\xff", labels[name].encode(), b"\xff"):
            for byte in part:
                h = ((h ^ byte) * _FNV64_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def alertmanager_webhook(
    facts: AlertFacts, receiver: str, external_url: str, *, generator_url: str = ""
) -> dict[str, object]:
    """The webhook payload (version 4) Alertmanager would send ``receiver`` for this one alert, keys
    in Alertmanager's order: a Start is ``firing`` with Go's zero ``endsAt``, an End ``resolved``.

    The group is the insight (``alertname`` and ``shared_event_id``), so ``groupKey`` is a dedup
    key that a Start and its End share.
    """
    status = "firing" if facts.state == "Start" else "resolved"
    labels, annotations = alert_labels(facts), alert_annotations(facts)
    group_labels = {"alertname": ALERTNAME, "shared_event_id": facts.shared_event_id}
    alert = {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": facts.start_time,
        "endsAt": facts.end_time or _GO_ZERO_TIME,
        "generatorURL": generator_url,
        "fingerprint": fingerprint(labels),
    }
    return {
        "receiver": receiver,
        "status": status,
        "alerts": [alert],
        "groupLabels": group_labels,
        "commonLabels": dict(labels),
        "commonAnnotations": dict(annotations),
        "externalURL": external_url,
        "version": "4",
        "groupKey": "{}:" + _label_set_text(group_labels),
        "truncatedAlerts": 0,
    }


def alertmanager_postable_alerts(
    facts: AlertFacts, generator_url: str, *, valid_for_s: float, now: float
) -> list[dict[str, object]]:
    """The body of ``POST /api/v2/alerts`` (Alertmanager's ``PostableAlert``) for this alert.

    A Start's ``endsAt`` is ``now + valid_for_s`` (``now`` in Unix seconds): Alertmanager resolves an
    alert once its ``endsAt`` passes, so the sender re-posts active alerts within that validity
    (never before ``startsAt``, which Alertmanager rejects). An End's ``endsAt`` is its own time,
    which resolves the alert at once. An empty ``generator_url`` is left out (the field is a URI).
    """
    if facts.end_time is None:
        ends_at = _iso_seconds(max(now + valid_for_s, _epoch_seconds(facts.start_time)))
    else:
        ends_at = facts.end_time
    alert: dict[str, object] = {
        "labels": alert_labels(facts),
        "annotations": alert_annotations(facts),
        "startsAt": facts.start_time,
        "endsAt": ends_at,
    }
    if generator_url:
        alert["generatorURL"] = generator_url
    return [alert]


def slack_message(facts: AlertFacts) -> dict[str, object]:
    """A Slack incoming-webhook body: ``text`` for notifications, ``blocks`` for the message."""
    started = facts.state == "Start"
    state = "started" if started else "resolved"
    text = clip(f"{'' if started else 'Resolved: '}{facts.summary}", _SLACK_TEXT_MAX)
    icon = ":rotating_light:" if started else ":white_check_mark:"
    header = clip(f"{icon} CloudTrail {facts.insight_type} {state}", _SLACK_HEADER_MAX)
    when = facts.start_time if started else f"{facts.start_time} to {facts.end_time}"
    fields = [
        ("API", f"`{facts.event_source}` {facts.event_name}"),
        ("Account / region", f"{facts.account_id} / {facts.region}"),
        ("Type", facts.insight_type + (f" ({facts.error_code})" if facts.error_code else "")),
        (
            "Insight vs baseline",
            f"{number(facts.insight_average)} vs {number(facts.baseline_average)} {facts.unit}",
        ),
        ("Direction", facts.direction),
        ("When", f"{when} ({duration(facts.insight_duration)})"),
    ]
    blocks: list[dict[str, object]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}},
        {"type": "section", "text": _mrkdwn(facts.summary, _SLACK_TEXT_MAX)},
        {"type": "section", "fields": [_mrkdwn(f"*{k}*\n{v}", _SLACK_FIELD_MAX) for k, v in fields]},
        {"type": "section", "text": _mrkdwn(f"*Why*\n{facts.reason}", _SLACK_TEXT_MAX)},
    ]
    tops = [f"*{top.attribute}*: {_listing(top)}" for top in facts.attributions if top.values]
    if tops:
        blocks.append({"type": "section", "text": _mrkdwn("\n".join(tops), _SLACK_TEXT_MAX)})
    ids = f"sharedEventID {facts.shared_event_id} · eventID {facts.event_id}"
    blocks.append({"type": "context", "elements": [_mrkdwn(ids, _SLACK_TEXT_MAX)]})
    return {"text": _escape(text), "blocks": blocks}


def pagerduty_event(facts: AlertFacts, routing_key: str) -> dict[str, object]:
    """A PagerDuty Events API v2 event: ``trigger`` for a Start, ``resolve`` for an End, both with
    ``dedup_key`` = ``sharedEventID``. A resolve carries only the three fields PagerDuty reads."""
    if facts.state == "End":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": facts.shared_event_id}
    details: dict[str, object] = {
        "state": facts.state,
        "insight_type": facts.insight_type,
        "event_source": facts.event_source,
        "event_name": facts.event_name,
        "error_code": facts.error_code,
        "account": facts.account_id,
        "region": facts.region,
        "direction": facts.direction,
        "baseline_average": facts.baseline_average,
        "insight_average": facts.insight_average,
        "baseline_duration_minutes": facts.baseline_duration,
        "insight_duration_minutes": facts.insight_duration,
        "reason": facts.reason,
        "event_id": facts.event_id,
        "shared_event_id": facts.shared_event_id,
    }
    if facts.why is not None:
        details["start_reason"] = facts.why
    for top in facts.attributions:
        details[f"top_{top.attribute}"] = [{"value": v.value, "average": v.average} for v in top.values]
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": facts.shared_event_id,
        "payload": {
            "summary": clip(facts.summary, _PAGERDUTY_SUMMARY_MAX),
            "source": f"{facts.account_id}/{facts.region}",
            "severity": "warning",
            "timestamp": facts.start_time,
            "component": f"{facts.event_source} {facts.event_name}",
            "group": facts.event_source,
            "class": facts.insight_type,
            "custom_details": details,
        },
        "client": "trailpulse",
    }


def generic_body(insight: Insight) -> dict[str, object]:
    """The Insight event record itself, in AWS's shape, for receivers that parse CloudTrail."""
    return insight.record


def _listing(top: TopValues) -> str:
    """``value (average/min), …`` for one attribute's top values."""
    return ", ".join(f"{v.value} ({number(v.average)}/min)" for v in top.values)


def _label_set_text(labels: dict[str, str]) -> str:
    """A label set as Alertmanager writes it in a ``groupKey``: ``{a="x", b="y"}``, names sorted."""
    return "{" + ", ".join(f"{k}={json.dumps(labels[k], ensure_ascii=False)}" for k in sorted(labels)) + "}"


def _escape(text: str) -> str:
    """Slack's three control characters escaped: API names, ARNs and user agents are not ours."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str, limit: int) -> dict[str, object]:
    return {"type": "mrkdwn", "text": clip(_escape(text), limit)}


def _epoch_seconds(iso_minute: str) -> float:
    return datetime.strptime(iso_minute, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def _iso_seconds(epoch_s: float) -> str:
    return datetime.fromtimestamp(int(epoch_s), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
