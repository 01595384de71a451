"""Alert bodies: Alertmanager's webhook v4 and API v2 shapes, Slack, PagerDuty, the generic record.

Insights come from real transitions through :meth:`Insight.of`, so the facts are read from the
same AWS record the output topic carries.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.alerts.facts import MAX_TOP_VALUES, AlertFacts
from consumers.alerts.formats import (
    ALERTNAME,
    alertmanager_postable_alerts,
    alertmanager_webhook,
    fingerprint,
    generic_body,
    pagerduty_event,
    slack_message,
)
from consumers.sinks.base import Insight
from insights.events import insight_event
from insights.reason import StartReason
from insights.transition import Direction, InsightTransition
from tests.insight_transitions import MINUTE_2024_12_11_16_52, attr, call_rate, error_rate_start

END_MINUTE = MINUTE_2024_12_11_16_52 + 5
NOW = 1_800_000_000.0


def pair(t: InsightTransition) -> tuple[AlertFacts, AlertFacts]:
    """Facts of ``t`` as a Start and of its End five minutes later."""
    start = replace(t, state="Start")
    end = replace(t, state="End", event_minute=END_MINUTE)
    return AlertFacts.of(Insight.of(start)), AlertFacts.of(Insight.of(end))


def test_facts_read_the_record_and_the_transition() -> None:
    t = call_rate(baseline_average=26.0, insight_average=116.0)
    start, end = pair(t)
    record = Insight.of(replace(t, state="End", event_minute=END_MINUTE)).record
    assert (start.state, end.state) == ("Start", "End")
    assert start.shared_event_id == end.shared_event_id == record["sharedEventID"]
    assert end.event_id == record["eventID"] != start.event_id
    assert (start.start_time, start.end_time) == ("2024-12-11T16:52:00Z", None)
    assert (end.start_time, end.end_time) == ("2024-12-11T16:52:00Z", record["eventTime"])
    assert (start.baseline_average, start.insight_average, start.insight_duration) == (26.0, 116.0, 5)
    assert (start.event_source, start.event_name, start.account_id, start.region) == (
        "autoscaling.amazonaws.com",
        "CompleteLifecycleAction",
        "888888888888",
        "us-east-1",
    )
    assert start.summary == (
        "ApiCallRateInsight on autoscaling.amazonaws.com CompleteLifecycleAction in 888888888888/us-east-1: "
        "116.0 calls/min against a baseline of 26.0"
    )
    assert "4.5x the baseline average of 26.0 calls/min" in start.reason
    assert "ended after 5 min" in end.summary and "for 5 min" in end.reason


def test_attributions_are_the_insight_side_top_three() -> None:
    arns = [(f"arn:aws:iam::1:user/u{i}", float(i)) for i in range(1, 6)]
    facts, _ = pair(call_rate(attributions=(attr("userIdentityArn", arns, [("arn:base", 9.0)]),)))
    (top,) = facts.attributions
    assert top.attribute == "userIdentityArn" and len(top.values) == MAX_TOP_VALUES
    assert [v.value for v in top.values] == [
        "arn:aws:iam::1:user/u5",
        "arn:aws:iam::1:user/u4",
        "arn:aws:iam::1:user/u3",
    ]
    # The record drops the errorCode attribution of an error-rate insight, and so do the facts.
    err, _ = pair(error_rate_start(attributions=(attr("errorCode", [("X", 1.0)], []),)))
    assert err.attributions == () and err.error_code == "QueryIdNotFoundException"


def test_a_zero_baseline_and_a_drop_read_sensibly() -> None:
    facts, _ = pair(error_rate_start())
    assert facts.ratio is None and "had none" in facts.reason and "errors/min" in facts.summary
    down, _ = pair(call_rate(direction="down", baseline_average=20.0, insight_average=0.0))
    assert down.reason.startswith("Calls went down: 0.0 calls/min") and "0.0x the baseline" in down.reason


def test_webhook_v4_shape_for_start_and_end() -> None:
    start, end = pair(call_rate())
    firing: Any = alertmanager_webhook(start, "trailpulse", "http://am:9093", generator_url="http://tp/")
    resolved: Any = alertmanager_webhook(end, "trailpulse", "http://am:9093")
    for body, status in ((firing, "firing"), (resolved, "resolved")):
        assert list(body) == [
            "receiver",
            "status",
            "alerts",
            "groupLabels",
            "commonLabels",
            "commonAnnotations",
            "externalURL",
            "version",
            "groupKey",
            "truncatedAlerts",
        ]
        assert (body["version"], body["status"], body["receiver"]) == ("4", status, "trailpulse")
        assert (body["externalURL"], body["truncatedAlerts"]) == ("http://am:9093", 0)
        (alert,) = body["alerts"]
        assert list(alert) == [
            "status",
            "labels",
            "annotations",
            "startsAt",
            "endsAt",
            "generatorURL",
            "fingerprint",
        ]
        assert alert["status"] == status and alert["startsAt"] == "2024-12-11T16:52:00Z"
        assert body["commonLabels"] == alert["labels"] and body["commonAnnotations"] == alert["annotations"]
        assert re.fullmatch(r"[0-9a-f]{16}", alert["fingerprint"])
        assert alert["fingerprint"] == fingerprint(alert["labels"])
        assert body["groupLabels"] == {"alertname": ALERTNAME, "shared_event_id": start.shared_event_id}
        assert body["groupKey"] == (
            f'{{}}:{{alertname="CloudTrailInsight", shared_event_id="{start.shared_event_id}"}}'
        )
    a, b = firing["alerts"][0], resolved["alerts"][0]
    assert (a["endsAt"], b["endsAt"]) == ("0001-01-01T00:00:00Z", "2024-12-11T16:57:00Z")
    assert (a["generatorURL"], b["generatorURL"]) == ("http://tp/", "")
    # Same insight, same identity: labels, fingerprint and groupKey match; the figures may differ.
    assert a["labels"] == b["labels"] and a["fingerprint"] == b["fingerprint"]
    assert firing["groupKey"] == resolved["groupKey"]
    assert a["labels"] == {
        "account": "888888888888",
        "alertname": "CloudTrailInsight",
        "direction": "up",
        "event_name": "CompleteLifecycleAction",
        "event_source": "autoscaling.amazonaws.com",
        "insight_type": "ApiCallRateInsight",
        "region": "us-east-1",
        "shared_event_id": start.shared_event_id,
    }
    assert set(a["annotations"]) == {
        "summary",
        "description",
        "baseline_average",
        "insight_average",
        "top_user_identity_arn",
        "top_user_agent",
        "top_error_code",
    }
    assert a["annotations"]["summary"] == start.summary and a["annotations"]["description"] == start.reason


def test_error_code_label_only_on_error_rate_insights() -> None:
    call, _ = pair(call_rate())
    err, _ = pair(error_rate_start())
    call_labels: Any = alertmanager_webhook(call, "r", "u")["commonLabels"]
    err_labels: Any = alertmanager_webhook(err, "r", "u")["commonLabels"]
    assert "error_code" not in call_labels
    assert err_labels["error_code"] == "QueryIdNotFoundException"
    other, _ = pair(error_rate_start(error_code="AccessDenied"))
    other_labels: Any = alertmanager_webhook(other, "r", "u")["commonLabels"]
    assert fingerprint(other_labels) != fingerprint(err_labels)


def test_fingerprint_is_prometheus_label_set_fingerprint() -> None:
    # Vectors from prometheus/common model/signature_test.go (as uint64; Alertmanager prints %016x).
    assert int(fingerprint({}), 16) == 14695981039346656037
    assert (
        int(fingerprint({"name": "garland, briggs", "fear": "love is not enough"}), 16) == 5799056148416392346
    )
    assert int(fingerprint({"first-label": "first-label-value"}), 16) == 5146282821936882169
    three = {f"{n}-label": f"{n}-label-value" for n in ("first", "second", "third")}
    assert int(fingerprint(three), 16) == 13843036195897128121


def test_postable_alerts_expire_unless_resent_and_end_resolves() -> None:
    start, end = pair(error_rate_start())
    (firing,) = alertmanager_postable_alerts(start, "http://tp/", valid_for_s=900, now=NOW)
    (resolved,) = alertmanager_postable_alerts(end, "", valid_for_s=900, now=NOW)
    assert list(firing) == ["labels", "annotations", "startsAt", "endsAt", "generatorURL"]
    assert firing["startsAt"] == "2024-12-11T16:52:00Z" and firing["endsAt"] == "2027-01-15T08:15:00Z"
    assert "generatorURL" not in resolved and resolved["endsAt"] == "2024-12-11T16:57:00Z"
    webhook = alertmanager_webhook(start, "r", "u")
    assert firing["labels"] == resolved["labels"] == webhook["commonLabels"]
    # A clock behind the insight never makes endsAt precede startsAt (Alertmanager rejects that).
    (early,) = alertmanager_postable_alerts(start, "", valid_for_s=60, now=0.0)
    assert early["endsAt"] == early["startsAt"]


def test_pagerduty_trigger_and_resolve() -> None:
    start, end = pair(call_rate())
    trigger: Any = pagerduty_event(start, "R0UT1NGKEY")
    assert trigger["event_action"] == "trigger" and trigger["routing_key"] == "R0UT1NGKEY"
    assert trigger["dedup_key"] == start.shared_event_id
    payload = trigger["payload"]
    assert isinstance(payload, dict)
    assert payload["severity"] == "warning" and payload["summary"] == start.summary
    assert payload["timestamp"] == "2024-12-11T16:52:00Z" and payload["class"] == "ApiCallRateInsight"
    assert payload["source"] == "888888888888/us-east-1"
    assert payload["custom_details"]["shared_event_id"] == start.shared_event_id
    assert pagerduty_event(end, "R0UT1NGKEY") == {
        "routing_key": "R0UT1NGKEY",
        "event_action": "resolve",
        "dedup_key": start.shared_event_id,
    }


def test_a_start_with_a_reason_says_which_rule_fired_in_every_format() -> None:
    why = StartReason("sustained_rise", 45, 310.0, 96.0, 11.52, 7.0, "rising")
    start, end = pair(call_rate(reason=why))
    words = why.words()
    assert start.why == words and end.why is None
    assert start.reason.endswith(f" It started on a {words}.")
    firing: Any = alertmanager_webhook(start, "team", "http://am")
    resolved: Any = alertmanager_webhook(end, "team", "http://am")
    assert firing["alerts"][0]["annotations"]["start_reason"] == words
    assert words in firing["alerts"][0]["annotations"]["description"]
    assert "start_reason" not in resolved["alerts"][0]["annotations"]
    posted: Any = alertmanager_postable_alerts(start, "", valid_for_s=300.0, now=NOW)
    assert posted[0]["annotations"]["start_reason"] == words
    slack: Any = slack_message(start)
    assert any(words in json.dumps(block, ensure_ascii=False) for block in slack["blocks"])
    trigger: Any = pagerduty_event(start, "k")
    assert trigger["payload"]["custom_details"]["start_reason"] == words
    plain, _ = pair(call_rate())
    assert plain.why is None and "started on" not in plain.reason
    trigger = pagerduty_event(plain, "k")
    assert "start_reason" not in trigger["payload"]["custom_details"]


def test_long_names_respect_each_receivers_limits() -> None:
    facts, end = pair(call_rate(event_name="X" * 5000, error_code=None))
    event: Any = pagerduty_event(facts, "k")
    summary = event["payload"]["summary"]
    assert len(summary) == 1024 and summary.endswith("…")
    for message in (slack_message(facts), slack_message(end)):
        blocks: Any = message["blocks"]
        assert isinstance(blocks, list)
        assert len(blocks[0]["text"]["text"]) <= 150
        for block in blocks[1:]:
            texts = [f["text"] for f in block.get("fields", [])] + [block.get("text", {}).get("text", "")]
            texts += [e["text"] for e in block.get("elements", [])]
            assert all(len(text) <= (2000 if "fields" in block else 3000) for text in texts)
        assert len(blocks[2]["fields"]) <= 10


def test_slack_names_api_account_region_and_says_resolved() -> None:
    start, end = pair(error_rate_start())
    firing: Any = slack_message(start)
    resolved: Any = slack_message(end)
    for message in (firing, resolved):
        text = message["text"]
        assert isinstance(text, str)
        for name in ("cloudtrail.amazonaws.com", "DescribeQuery", "888888888888", "us-east-1"):
            assert name in text and name in json.dumps(message["blocks"])
    assert not str(firing["text"]).startswith("Resolved") and str(resolved["text"]).startswith("Resolved: ")
    assert "started" in firing["blocks"][0]["text"]["text"]
    assert "resolved" in resolved["blocks"][0]["text"]["text"]


def test_slack_escapes_attacker_text() -> None:
    agent = "<!channel> & <https://evil|click>"
    facts, _ = pair(call_rate(attributions=(attr("userAgent", [(agent, 1.0)], []),)))
    blob = json.dumps(slack_message(facts))
    assert "<!channel>" not in blob and "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;" in blob


def test_generic_body_is_the_aws_record() -> None:
    t = error_rate_start()
    assert generic_body(Insight.of(t)) == insight_event(t)


names = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40)
averages = st.floats(min_value=0.0, max_value=1e9, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    name=names,
    code=names,
    agent=names,
    baseline=averages,
    insight=averages,
    error_rate=st.booleans(),
    direction=st.sampled_from(["up", "down"]),
)
def test_every_body_is_plain_json_and_deterministic(
    name: str, code: str, agent: str, baseline: float, insight: float, error_rate: bool, direction: Direction
) -> None:
    base = error_rate_start(error_code=code) if error_rate else call_rate()
    t = replace(
        base,
        event_name=name,
        direction=direction,
        baseline_average=baseline,
        insight_average=insight,
        attributions=(attr("userAgent", [(agent, insight)], [(agent, baseline)]),),
    )
    for state_t in (replace(t, state="Start"), replace(t, state="End", event_minute=END_MINUTE)):
        insight_ = Insight.of(state_t)
        facts = AlertFacts.of(insight_)

        def bodies(f: AlertFacts = facts, i: Insight = insight_) -> list[object]:
            return [
                alertmanager_webhook(f, "r", "http://am"),
                alertmanager_postable_alerts(f, "http://tp", valid_for_s=300, now=NOW),
                slack_message(f),
                pagerduty_event(f, "k"),
                generic_body(i),
            ]

        first = json.dumps(bodies(), allow_nan=False)
        assert first == json.dumps(bodies(), allow_nan=False)
        assert json.loads(first)[0]["alerts"][0]["labels"]["event_name"] == name
