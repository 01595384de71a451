"""``trailpulse run`` with every alert kind, against the real broker and a local HTTP receiver:
each Insight event the output topic gets reaches every sink in its format, retried through 500 and
429, signed per Standard Webhooks; what a sink's endpoint refuses is dead-lettered to its file."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest

from consumers.alerts.signing import new_secret, verify
from insights.config import EngineConfig
from tests.alert_receiver import AlertReceiver
from tests.daemon_process import SMALL, Daemon, reference_ids, trace_messages, until_committed, wait_for
from tests.kafka_broker import KafkaBroker, create_topic, produce, unique_topic

pytestmark = pytest.mark.kafka


def alert_tables(receiver: AlertReceiver, dead_file: Path) -> str:
    base = receiver.url.rsplit("/", 2)[0]
    local = "allow_private = true\nretry_first_s = 0.05\nretry_cap_s = 0.2\n"
    return f"""
[[alert]]
kind = "webhook"
url = "{base}/webhook"
secret_env = "HOOK_SECRETS"
{local}
[[alert]]
kind = "alertmanager_webhook"
url = "{base}/alertmanager"
{local}
[[alert]]
kind = "slack"
url_env = "SLACK_URL"
{local}
[[alert]]
kind = "pagerduty"
url = "{base}/pagerduty"
routing_key = "R0UT1NG"
{local}
[[alert]]
kind = "webhook"
name = "refusing"
url = "{base}/refusing"
dead_letter_file = "{dead_file}"
{local}"""


def test_every_alert_kind_gets_every_insight(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    bootstrap = kafka_broker.bootstrap
    source, output, group = unique_topic("alerts-in"), unique_topic("alerts-out"), unique_topic("group")
    create_topic(bootstrap, source)
    messages = trace_messages(SMALL)
    produce(bootstrap, source, messages)
    want = reference_ids(messages, dataclasses.replace(EngineConfig(), warmup_minutes=360))
    insights = len(want["Start"]) + len(want["End"])
    assert want["Start"] and want["End"]
    receiver = AlertReceiver()
    refusing = "/refusing"
    receiver.answers = [(500, {}), (429, {"Retry-After": "1"})]
    receiver.refuse_paths = {refusing}
    base = receiver.url.rsplit("/", 2)[0]
    secrets = [new_secret(), new_secret()]  # rotation: the old secret and the new one
    config = tmp_path / "run.toml"
    dead_file = tmp_path / "dead" / "alerts.jsonl"
    config.write_text(alert_tables(receiver, dead_file))
    env = {
        "TRAILPULSE_ENGINE_WARMUP_MINUTES": "360",
        "HOOK_SECRETS": " ".join(secrets),
        "SLACK_URL": f"{base}/slack",
    }
    args = ("--config", str(config), "--input-topic", source, "--output-topic", output)
    daemon = Daemon(
        tmp_path, bootstrap, *args, "--group-id", group, "--state-dir", str(tmp_path / "s"), env=env
    )
    try:
        until_committed(daemon, bootstrap, group, source)

        def delivered() -> bool:
            paths = [r.path for r in receiver.posts()]
            return all(
                paths.count(p) == insights for p in ("/webhook", "/alertmanager", "/slack", "/pagerduty")
            )

        wait_for("every sink to get every insight", delivered, daemon, timeout_s=60)
        wait_for(
            "the refused alerts to be dead-lettered",
            lambda: dead_file.exists() and len(dead_file.read_text().splitlines()) == insights,
            daemon,
            timeout_s=30,
        )
        code, _ = daemon.stop()
    finally:
        daemon.kill()
        receiver.close()
    assert code == 0
    by_path: dict[str, list[dict[str, object]]] = {}
    for r in receiver.posts():
        by_path.setdefault(r.path, []).append(r.json())
    statuses = [r.status for r in receiver.posts(None)]
    assert statuses.count(500) == 1 and statuses.count(429) == 1  # retried, then delivered
    # The generic webhook: the Insight events themselves, signed with every secret.
    hooks = [r for r in receiver.posts() if r.path == "/webhook"]
    assert {h.json()["eventID"] for h in hooks} == want["Start"] | want["End"]
    for hook in hooks:
        assert hook.headers["webhook-id"] == hook.json()["eventID"]
        for secret in secrets:
            assert verify([secret], hook.headers, hook.body, now=time.time())
        assert not verify([new_secret()], hook.headers, hook.body, now=time.time())
    # Alertmanager's webhook payload: firing then resolved, one fingerprint per insight.
    payloads = by_path["/alertmanager"]
    assert all(p["version"] == "4" for p in payloads)
    fired = [p for p in payloads if p["status"] == "firing"]
    resolved = [p for p in payloads if p["status"] == "resolved"]
    assert (len(fired), len(resolved)) == (len(want["Start"]), len(want["End"]))
    fingerprints = {a["fingerprint"] for p in resolved for a in p["alerts"]}  # type: ignore[attr-defined]
    assert fingerprints <= {a["fingerprint"] for p in fired for a in p["alerts"]}  # type: ignore[attr-defined]
    # PagerDuty: trigger then resolve on the sharedEventID.
    events = by_path["/pagerduty"]
    actions = sorted(str(e["event_action"]) for e in events)
    assert actions == sorted(["trigger"] * len(want["Start"]) + ["resolve"] * len(want["End"]))
    assert all(e["routing_key"] == "R0UT1NG" for e in events)
    # Slack: readable text naming the API, account and region.
    assert all("amazonaws.com" in str(m["text"]) for m in by_path["/slack"])
    # The refusing endpoint: every alert dead-lettered to the file, with why.
    dead = [json.loads(line) for line in dead_file.read_text().splitlines()]
    assert {d["insight"]["eventID"] for d in dead} == want["Start"] | want["End"]
    assert {(d["sink"], d["reason"]) for d in dead} == {("refusing", "refused")}
    log = daemon.log_path.read_text()
    assert "R0UT1NG" not in log and secrets[0] not in log and "/slack" not in log


def test_alerts_undelivered_when_the_daemon_is_killed_are_delivered_after_the_restart(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    """The endpoint answers 503 until the daemon has checkpointed all the input (its insights are in
    the persisted outbox, their input committed), then the daemon is killed with SIGKILL; restarted
    with the endpoint answering, it posts every one of them."""
    bootstrap = kafka_broker.bootstrap
    source, output, group = unique_topic("killed-in"), unique_topic("killed-out"), unique_topic("group")
    create_topic(bootstrap, source)
    messages = trace_messages(SMALL)
    produce(bootstrap, source, messages)
    want = reference_ids(messages, dataclasses.replace(EngineConfig(), warmup_minutes=360))
    receiver = AlertReceiver()
    receiver.answers = [(503, {})] * 1_000_000
    config = tmp_path / "run.toml"
    config.write_text(
        f'[[alert]]\nkind = "webhook"\nname = "siem"\nurl = "{receiver.url}"\nallow_private = true\n'
        "retry_first_s = 0.05\nretry_cap_s = 0.2\n"
    )
    args = ("--config", str(config), "--input-topic", source, "--output-topic", output, "--group-id", group)
    args += ("--state-dir", str(tmp_path / "state"))
    env = {"TRAILPULSE_ENGINE_WARMUP_MINUTES": "360"}
    try:
        first = Daemon(tmp_path, bootstrap, *args, env=env)
        try:
            until_committed(first, bootstrap, group, source)
            assert receiver.posts() == [] and receiver.posts(503)
            first.proc.kill()
            first.proc.wait(timeout=10)
        finally:
            first.kill()
        receiver.answers = []
        again = Daemon(tmp_path, bootstrap, *args, env=env)
        try:
            wait_for(
                "the outbox to be delivered",
                lambda: len(receiver.posts()) >= len(want["Start"]) + len(want["End"]),
                again,
                timeout_s=60,
            )
            # The killed member stays in the group until its session expires: stop once joined.
            wait_for(
                "the partition to be assigned again",
                lambda: any(e["event"] == "partitions_assigned" and e["partitions"] for e in again.events()),
                again,
                timeout_s=90,
            )
            code, _ = again.stop()
        finally:
            again.kill()
    finally:
        receiver.close()
    assert code == 0
    [restored] = [e for e in again.events() if e["event"] == "alerts_restored"]
    assert restored["queued"] == len(want["Start"]) + len(want["End"])
    delivered = [r.json()["eventID"] for r in receiver.posts()]
    assert sorted(delivered) == sorted(want["Start"] | want["End"])  # each once, none lost
