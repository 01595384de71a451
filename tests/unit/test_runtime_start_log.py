"""The daemon says why each Start started: one log line per Start (bounded in a flood), and with
``[run] reason_field`` a last ``trailpulse`` key in the Start records it sends, the ids unchanged."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from typing import Any

import msgspec

from consumers.alerts.outbox import decode_outbox, encode_outbox
from consumers.kafka.memory import EOF
from consumers.runtime.logs import JsonLog, RateLimited
from consumers.sinks.base import Insight
from insights.reason import StartReason
from tests.insight_transitions import call_rate
from tests.runtime_harness import OUTPUT, SOURCE, Harness, expected_event_ids, traffic


def _records(harness: Harness) -> list[Any]:
    return [json.loads(value or b"") for value in harness.cluster.values(OUTPUT)]


def test_each_start_is_logged_with_its_key_time_and_reason_and_the_records_keep_aws_shape() -> None:
    harness = Harness()
    harness.cluster.produce(SOURCE, [*traffic(), EOF])
    harness.start().run_to_eof()
    records = _records(harness)
    starts = [r for r in records if r["insightDetails"]["state"] == "Start"]
    lines = harness.events("insight_started")
    assert len(starts) == len(lines) == 2
    assert all("trailpulse" not in r for r in records)
    for line, start in zip(lines, starts, strict=True):
        assert line["level"] == "info" and line["event_time"] == start["eventTime"]
        assert line["event_name"] == start["insightDetails"]["eventName"]
        assert line["account"] == start["recipientAccountId"] and line["region"] == start["awsRegion"]
        assert line["reason"] in ("spike", "early_spike")  # the rule, which the rate limit counts by
        assert line["window_minutes"] == 1 and line["observed"] >= 50 > line["expected"]
        assert str(line["why"]).startswith("spike") and "surprise" in str(line["why"])


def test_reason_field_adds_the_reason_to_start_records_and_alerts_and_changes_no_id() -> None:
    harness = Harness()
    harness.cluster.produce(SOURCE, [*traffic(), EOF])
    started = harness.start(reason_field=True)
    started.run_to_eof()
    records = _records(harness)
    assert [r["eventID"] for r in records] == expected_event_ids(traffic())
    alerted: list[Any] = [i.record for i in started.alerts.received]
    for record in [*records, *alerted]:
        details = record["insightDetails"]
        if details["state"] == "Start":
            assert list(record)[-1] == "trailpulse"
            reason = record["trailpulse"]["reason"]
            assert reason["rule"] in ("spike", "early_spike") and reason["windowMinutes"] == 1
        else:
            assert "trailpulse" not in record


def test_a_flood_of_starts_is_logged_up_to_a_bound_per_rule_then_counted() -> None:
    out = io.StringIO()
    now = [0.0]
    limited = RateLimited(JsonLog(out), per_reason=3, interval_s=60.0, clock=lambda: now[0])
    for _ in range(10):
        limited.info("insight_started", "drop", event_name="X")
    limited.info("insight_started", "spike", event_name="Y")
    now[0] = 61.0
    limited.info("insight_started", "drop", event_name="Z")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(x["event"], x.get("event_name")) for x in lines] == [
        *[("insight_started", "X")] * 3,
        ("insight_started", "Y"),
        ("log_lines_suppressed", "insight_started"),
        ("insight_started", "Z"),
    ]
    assert lines[0]["level"] == "info" and lines[4]["counts"] == {"drop": 7}


def test_the_alert_outbox_keeps_a_starts_reason_and_reads_an_outbox_saved_without_one() -> None:
    why = StartReason("spike", 1, 50.0, 5.0, 33.0, 7.0, "burst", 40.0)
    start = call_rate(reason=why)
    restored = decode_outbox(encode_outbox({"pager": ([Insight.of(start, True)], [])}), True)
    assert restored == {"pager": ([Insight.of(start, True)], [])}
    assert restored["pager"][0][0].record["trailpulse"] == {"reason": why.as_record()}
    before = {k: v for k, v in msgspec.to_builtins(start).items() if k != "reason"}
    older = decode_outbox(msgspec.msgpack.encode({"pager": {"queued": [before], "active": []}}))
    assert older["pager"][0][0].transition == replace(start, reason=None)
