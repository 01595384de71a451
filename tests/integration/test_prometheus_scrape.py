"""``deploy/`` against the real thing: a Prometheus of the test's own scrapes ``trailpulse run`` (fed
from the real broker) with the alert rules loaded; every rule evaluates, and every query of the
Grafana dashboard runs and finds data."""

from __future__ import annotations

import re
import time
from pathlib import Path

import msgspec
import pytest

from tests.builders import START, record
from tests.daemon_process import Daemon, until_committed, wait_for
from tests.deploy_files import (
    RULES,
    PanelQuery,
    dashboard,
    exported_metric_names,
    metric_names,
    panel_queries,
)
from tests.kafka_broker import KafkaBroker, create_topic, produce, unique_topic
from tests.prometheus_server import PrometheusServer

pytestmark = pytest.mark.kafka
MINUTES = 30
JOB = "trailpulse"  # the job name the rules' TrailpulseDown alert selects
#: Targets that find nothing in a healthy run by design; for them the query must only be valid.
NO_DATA_WHEN_HEALTHY = {
    ("Key evictions and refusals", "A"): "no key is evicted in a short run (the family has no label yet)",
}
#: The one alert this run may set off: it dead-letters its malformed message on purpose.
EXPECTED_ALERTS = {"TrailpulseRecordsDeadLettered"}


def traffic(bootstrap: str, source: str) -> int:
    """30 minutes of steady calls (3 a minute, one S3 log file each), a data event the engine skips
    and a message that is not JSON (rejected, dead-lettered); how many messages."""
    messages = [
        msgspec.json.encode({"Records": [record(START + m, name="RunInstances") for _ in range(3)]})
        for m in range(MINUTES)
    ]
    messages.append(msgspec.json.encode(record(START + MINUTES, name="GetObject", category="Data")))
    messages.append(b"not json")
    produce(bootstrap, source, messages, partition=0)
    return len(messages)


def found(prometheus: PrometheusServer, query: PanelQuery) -> bool:
    if query.instant:
        return bool(prometheus.query(query.expr))
    return bool(prometheus.query_range(query.expr, seconds=30))


def rule_names() -> set[str]:
    return set(re.findall(r"^\s*- (?:alert|record): (\S+)$", RULES.read_text(), flags=re.MULTILINE))


def test_prometheus_scrapes_the_daemon_and_runs_the_rules_and_every_dashboard_query(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap
    source, output = unique_topic("prom-in"), unique_topic("prom-out")
    dead, group = unique_topic("prom-dead"), unique_topic("group")
    create_topic(bootstrap, source, partitions=2)
    sent = traffic(bootstrap, source)
    args: tuple[str, ...] = ("--input-topic", source, "--output-topic", output, "--group-id", group)
    args += ("--dead-letter-topic", dead, "--state-dir", str(tmp_path / "state"), "--metrics-top-apis", "3")
    # Minutes close 2 minutes behind the newest (not 35): the per-API series have a closed minute.
    daemon = Daemon(tmp_path, bootstrap, *args, env={"TRAILPULSE_ENGINE_ALLOWED_LATENESS_MINUTES": "2"})
    (tmp_path / "prometheus").mkdir()
    try:
        wait_for("the daemon to start", lambda: any(e["event"] == "started" for e in daemon.events()), daemon)
        port = next(e["health_port"] for e in daemon.events() if e["event"] == "started")
        target = f"127.0.0.1:{port}"
        with PrometheusServer(tmp_path / "prometheus", [target], [RULES], JOB) as prometheus:
            until_committed(daemon, bootstrap, group, source)

            def consumed() -> bool:
                counted = prometheus.query("trailpulse_messages_consumed_total")
                return bool(prometheus.query("trailpulse_build_info")) and [
                    float(s["value"][1]) for s in counted
                ] == [sent]

            wait_for("Prometheus to have scraped every message", consumed, daemon, timeout_s=15)
            [up] = prometheus.query(f'up{{job="{JOB}"}}')
            assert up["metric"]["instance"] == target and up["value"][1] == "1"

            queries = panel_queries(dashboard())
            wanted = [q for q in queries if (q.panel, q.ref_id) not in NO_DATA_WHEN_HEALTHY]
            deadline = time.monotonic() + 20  # rates need two scrapes; histograms a checkpoint or two
            while empty := [q for q in wanted if not found(prometheus, q)]:
                assert time.monotonic() < deadline, (
                    f"panels without data: {[(q.panel, q.ref_id) for q in empty]}"
                )
                time.sleep(1)
            for q in queries:  # those allowed to be empty are still valid queries (status success)
                found(prometheus, q)

            groups = prometheus.api("rules")["groups"]
            rules = [rule for g in groups for rule in g["rules"]]
            assert {g["name"] for g in groups} == {"trailpulse.recording", "trailpulse.alerts"}
            assert {rule["name"] for rule in rules} == rule_names()
            assert all(rule["health"] == "ok" for rule in rules), [r for r in rules if r["health"] != "ok"]
            recorded = {rule["name"] for rule in rules if rule["type"] == "recording"}
            known = exported_metric_names() | recorded | {"up"}
            for rule in rules:
                assert metric_names(rule["query"]) <= known, rule["name"]
            active = {a["labels"]["alertname"] for a in prometheus.api("alerts")["alerts"]}
            assert active <= EXPECTED_ALERTS, f"alerts on a healthy daemon: {active}"
        code, _ = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0
