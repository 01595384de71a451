"""The daemon on the in-memory Kafka, scraped over HTTP as Prometheus would: ``/metrics`` says what
the checkpoint log line says, and what the output and dead-letter topics received."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterable

import msgspec
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry
from prometheus_client.samples import Sample

from consumers.kafka.memory import EOF
from consumers.runtime.health import HealthServer
from consumers.runtime.metrics import exposition, registry
from tests.builders import api, stream
from tests.runtime_harness import DEAD, OUTPUT, SOURCE, Harness, traffic

OTHER = "444455556666"
JUNK = [b"not json", b'{"Records": 5}', b"[1, 2"]


def other_account_first_hour() -> bytes:
    """An account-region that sends for an hour and then stops: it falls silent within the partition."""
    minutes = stream({api("PutObject", source="s3.amazonaws.com", account=OTHER): [2] * 60})
    return msgspec.json.encode({"Records": [r for m in sorted(minutes) for r in minutes[m]]})


def scrape(port: int) -> list[Sample]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(found: Iterable[Sample], name: str, **labels: str) -> float:
    [match] = [s.value for s in found if s.name == name and s.labels == labels]
    return match


def by_label(found: Iterable[Sample], name: str, label: str) -> dict[str, float]:
    return {s.labels[label]: s.value for s in found if s.name == name}


def test_a_scrape_after_the_run_matches_the_checkpoint_log_and_the_topics() -> None:
    harness = Harness()
    harness.cluster.produce(SOURCE, [other_account_first_hour(), *JUNK, *traffic(), EOF])
    started = harness.start(metrics_top_apis=5, checkpoint_interval_s=0.0)
    daemon = started.daemon
    metrics = registry(lambda: daemon.report.figures, "kafka-python", top_apis=True)
    server = HealthServer(daemon.status, 0, metrics=exposition(metrics))
    try:
        started.run_to_eof()
        found = scrape(server.port)
    finally:
        server.close()

    checkpoints = harness.events("checkpoint")
    last = checkpoints[-1]
    counts, skipped = last["counts"], last["skipped"]
    assert value(found, "trailpulse_messages_consumed_total") == counts["messages"] == len(traffic()) + 4
    assert value(found, "trailpulse_records_decoded_total") == counts["records"]
    rejected = {k.removeprefix("rejected."): v for k, v in counts.items() if k.startswith("rejected.")}
    assert sum(rejected.values()) == len(JUNK)
    assert by_label(found, "trailpulse_records_rejected_total", "reason") == rejected
    assert by_label(found, "trailpulse_records_skipped_total", "reason") == {
        k: v for k, v in skipped.items() if k != "late"
    }
    assert value(found, "trailpulse_records_late_total") == skipped.get("late", 0)
    assert value(found, "trailpulse_late_observations_amended_total") == last["amended"]

    emitted = {
        state: value(
            found, "trailpulse_insights_emitted_total", insight_type="ApiCallRateInsight", state=state
        )
        for state in ("Start", "End")
    }
    assert (
        emitted
        == {"Start": counts["insights.start"], "End": counts["insights.end"]}
        == {"Start": 2, "End": 2}
    )
    assert by_label(found, "trailpulse_insights_active", "insight_type") == {
        "ApiCallRateInsight": 0,
        "ApiErrorRateInsight": 0,
    }
    assert value(found, "trailpulse_sink_deliveries_total", sink="output_topic") == len(
        harness.sent_event_ids()
    )
    assert value(found, "trailpulse_sink_deliveries_total", sink="dead_letter_topic") == len(
        harness.cluster.records(DEAD)
    )
    assert (
        value(found, "trailpulse_sink_deliveries_total", sink="alerts") == len(started.alerts.received) == 4
    )
    assert by_label(found, "trailpulse_sink_queue_depth", "sink") == {
        "output_topic": 0,
        "alerts": 0,
        "dead_letter_topic": 0,
    }
    assert value(found, "trailpulse_checkpoints_total") == len(checkpoints)
    assert value(found, "trailpulse_state_bytes") == len(harness.store.saved[-1].engine)
    assert value(found, "trailpulse_checkpoint_duration_seconds_count") == len(checkpoints)

    assert value(found, "trailpulse_consumer_lag_records", topic=SOURCE, partition="0") == 0
    newest = daemon.engine.clocks.input_newest(f"{SOURCE}:0")
    assert newest is not None
    lag_s = value(found, "trailpulse_consumer_lag_seconds", topic=SOURCE, partition="0")
    assert 0 <= time.time() - newest * 60 - lag_s < 60
    assert value(found, "trailpulse_processing_latency_seconds_count") > 0

    assert value(found, "trailpulse_silent_sources") == 1
    assert value(found, "trailpulse_sources_fallen_silent_total") == len(harness.events("source_silent")) == 1
    assert value(found, "trailpulse_keys_tracked") == len(daemon.engine.track.keys) == 4
    top = [s for s in found if s.name == "trailpulse_top_api_calls"]
    assert 0 < len(top) <= 5 and {s.labels["account"] for s in top} <= {"111122223333", OTHER}
    assert harness.cluster.records(OUTPUT)


def test_an_unacknowledging_broker_shows_as_deferred_checkpoints_and_a_queue() -> None:
    harness = Harness()
    harness.cluster.produce(SOURCE, [*traffic(), EOF])
    started = harness.start()
    daemon = started.daemon
    metrics = registry(lambda: daemon.report.figures, "kafka-python", top_apis=False)
    started.producer.away = True
    started.turn_to_eof()
    assert not daemon.checkpoint.take() and not daemon.checkpoint.take()
    daemon.publish()
    away = samples(metrics)
    started.producer.away = False
    assert daemon.checkpoint.take()
    daemon.publish()
    back = samples(metrics)

    assert value(away, "trailpulse_checkpoint_failures_total", reason="deferred") == 2
    assert value(away, "trailpulse_checkpoints_total") == 0
    assert value(away, "trailpulse_sink_queue_depth", sink="output_topic") == 4
    assert value(away, "trailpulse_sink_failures_total", sink="output_topic") == 2
    assert value(away, "trailpulse_sink_retries_total", sink="output_topic") == 1
    assert value(away, "trailpulse_sink_deliveries_total", sink="output_topic") == 0
    assert value(back, "trailpulse_sink_queue_depth", sink="output_topic") == 0
    assert value(back, "trailpulse_sink_retries_total", sink="output_topic") == 2
    assert value(back, "trailpulse_sink_deliveries_total", sink="output_topic") == 4
    assert value(back, "trailpulse_checkpoints_total") == 1
    assert value(back, "trailpulse_state_bytes") == len(harness.store.saved[-1].engine)


def samples(reg: CollectorRegistry) -> list[Sample]:
    text = exposition(reg)()[0].decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]
