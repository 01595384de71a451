"""``trailpulse run`` against the real broker, scraped over HTTP: kafka-python's lag, the input and
sink counts, and the per-API series when asked for."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.builders import START, record
from tests.daemon_process import Daemon, until_committed, wait_for
from tests.kafka_broker import KafkaBroker, create_topic, produce, unique_topic

pytestmark = pytest.mark.kafka
MINUTES = 30


def scrape(port: int) -> list[Sample]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def one(found: list[Sample], name: str, **labels: str) -> float:
    [match] = [s.value for s in found if s.name == name and s.labels == labels]
    return match


def test_a_running_daemon_serves_its_metrics(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    bootstrap = kafka_broker.bootstrap
    source, output, group = unique_topic("metrics-in"), unique_topic("metrics-out"), unique_topic("group")
    create_topic(bootstrap, source, partitions=2)
    messages = [
        msgspec.json.encode({"Records": [record(START + m, name="RunInstances") for _ in range(3)]})
        for m in range(MINUTES)
    ]
    produce(bootstrap, source, [*messages, b"not json"], partition=0)
    args = ("--input-topic", source, "--output-topic", output, "--group-id", group)
    args += ("--state-dir", str(tmp_path / "state"), "--metrics-top-apis", "3")
    # Minutes close 2 minutes behind the newest (not 35): the per-API series have a closed minute.
    daemon = Daemon(tmp_path, bootstrap, *args, env={"TRAILPULSE_ENGINE_ALLOWED_LATENESS_MINUTES": "2"})
    try:
        until_committed(daemon, bootstrap, group, source)
        port = next(e["health_port"] for e in daemon.events() if e["event"] == "started")
        found: list[Sample] = []

        def published() -> bool:  # the figures are at most a second behind the loop
            found[:] = scrape(port)
            return [s.value for s in found if s.name == "trailpulse_messages_consumed_total"] == [MINUTES + 1]

        wait_for("the metrics to show every message", published, daemon, timeout_s=10)
        code, _ = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0
    assert one(found, "trailpulse_records_decoded_total") == 3 * MINUTES
    assert one(found, "trailpulse_records_rejected_total", reason="invalid_json") == 1
    for partition in ("0", "1"):
        assert one(found, "trailpulse_consumer_lag_records", topic=source, partition=partition) == 0
    assert one(found, "trailpulse_consumer_lag_seconds", topic=source, partition="0") > 0
    assert one(found, "trailpulse_keys_tracked") == 1
    # Steady traffic: no insight, nothing waiting in the output sink.
    assert one(found, "trailpulse_sink_deliveries_total", sink="output_topic") == 0
    assert one(found, "trailpulse_sink_queue_depth", sink="output_topic") == 0
    assert {s.value for s in found if s.name == "trailpulse_insights_emitted_total"} == {0}
    [build] = [s for s in found if s.name == "trailpulse_build_info"]
    assert build.labels["client"] == "kafka-python"
    [top] = [s for s in found if s.name == "trailpulse_top_api_calls"]
    assert top.labels["event_name"] == "RunInstances" and top.value == 3
