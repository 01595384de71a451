"""``/metrics``: the exposition of published figures, the bound on per-API series, the HTTP path."""

from __future__ import annotations

import dataclasses
import urllib.request
from collections.abc import Iterable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry
from prometheus_client.samples import Sample

from consumers.kafka.protocol import KafkaClientError
from consumers.runtime.figures import (
    Buckets,
    CheckpointFigures,
    EngineFigures,
    Figures,
    HistogramFigures,
    PartitionFigures,
)
from consumers.runtime.health import HealthServer, HealthStatus
from consumers.runtime.metrics import DaemonCollector, exposition, registry
from consumers.runtime.report import Report
from consumers.sinks.metered import MeteredSink, SinkFigures
from insights.census import top_keys
from insights.config import EngineConfig
from insights.engine import Engine
from insights.record import CloudTrailRecord
from tests.builders import ACCOUNT, REGION, SOURCE, START, record

NOW = 1_800_000_000.0


def samples(reg: CollectorRegistry) -> list[Sample]:
    text = exposition(reg)()[0].decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(found: Iterable[Sample], name: str, **labels: str) -> float:
    [match] = [s.value for s in found if s.name == name and s.labels == labels]
    return match


def figures(**changes: object) -> Figures:
    checkpoint = Buckets((0.1, 1.0))
    checkpoint.observe(0.05)
    checkpoint.observe(2.0)
    base = Figures(
        counts={"messages": 10, "records": 40, "rejected.invalid_json": 2, "sources_silent": 1},
        emitted={("ApiCallRateInsight", "Start"): 3, ("ApiCallRateInsight", "End"): 2},
        engine=EngineFigures(
            skipped={"late": 4, "duplicate": 5},
            amended=1,
            tracked_keys=7,
            max_keys=100,
            evicted={"idle": 2},
            refused_keys=0,
            open_insights={"ApiCallRateInsight": 1},
            closed_through=START + 9,
            sources=3,
            silent_sources=1,
        ),
        checkpoints=CheckpointFigures(2, checkpoint.copy(), NOW - 5, 1234),
        processing=HistogramFigures((0.01,), (4, 1), 0.5),
        partitions=(
            PartitionFigures(("cloudtrail", 0), 12, int(NOW // 60) - 3, False),
            PartitionFigures(("cloudtrail", 1), None, None, True),
        ),
        sinks=(SinkFigures("output_topic", 5, 1, 1, 0),),
        top=(),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_published_figures_become_samples_with_their_labels() -> None:
    reg = registry(lambda: figures(), "kafka-python", top_apis=False)
    found = samples(reg)
    assert value(found, "trailpulse_messages_consumed_total") == 10
    assert value(found, "trailpulse_records_decoded_total") == 40
    assert value(found, "trailpulse_records_rejected_total", reason="invalid_json") == 2
    assert value(found, "trailpulse_records_skipped_total", reason="duplicate") == 5
    assert not [
        s for s in found if s.name == "trailpulse_records_skipped_total" and s.labels["reason"] == "late"
    ]
    assert value(found, "trailpulse_records_late_total") == 4
    assert (
        value(found, "trailpulse_insights_emitted_total", insight_type="ApiCallRateInsight", state="Start")
        == 3
    )
    assert value(found, "trailpulse_insights_active", insight_type="ApiCallRateInsight") == 1
    assert value(found, "trailpulse_keys_tracked") == 7
    assert value(found, "trailpulse_keys_evicted_total", reason="idle") == 2
    assert value(found, "trailpulse_closed_minute_timestamp_seconds") == (START + 10) * 60
    assert value(found, "trailpulse_silent_sources") == 1
    assert value(found, "trailpulse_sources_fallen_silent_total") == 1
    assert value(found, "trailpulse_checkpoints_total") == 2
    assert value(found, "trailpulse_checkpoint_failures_total", reason="deferred") == 0
    assert value(found, "trailpulse_checkpoint_duration_seconds_bucket", le="0.1") == 1
    assert value(found, "trailpulse_checkpoint_duration_seconds_bucket", le="+Inf") == 2
    assert value(found, "trailpulse_checkpoint_duration_seconds_count") == 2
    assert value(found, "trailpulse_checkpoint_duration_seconds_sum") == 2.05
    assert value(found, "trailpulse_state_bytes") == 1234
    assert value(found, "trailpulse_consumer_lag_records", topic="cloudtrail", partition="0") == 12
    assert [s for s in found if s.name == "trailpulse_consumer_lag_records"] == [
        s for s in found if s.name == "trailpulse_consumer_lag_records" and s.labels["partition"] == "0"
    ]  # unknown lag: no sample rather than a made-up one
    assert value(found, "trailpulse_partition_paused", topic="cloudtrail", partition="1") == 1
    assert value(found, "trailpulse_processing_latency_seconds_count") == 5
    assert value(found, "trailpulse_sink_deliveries_total", sink="output_topic") == 5
    assert value(found, "trailpulse_sink_retries_total", sink="output_topic") == 1
    assert value(found, "trailpulse_sink_queue_depth", sink="output_topic") == 0
    [info] = [s for s in found if s.name == "trailpulse_build_info"]
    assert info.value == 1 and info.labels["client"] == "kafka-python"


def test_event_time_lag_is_now_minus_the_newest_minute_delivered() -> None:
    newest = int(NOW // 60) - 3
    f = figures(partitions=(PartitionFigures(("cloudtrail", 0), 0, newest, False),))

    reg = CollectorRegistry()
    reg.register(DaemonCollector(lambda: f, "kafka-python", clock=lambda: NOW))
    lag = value(samples(reg), "trailpulse_consumer_lag_seconds", topic="cloudtrail", partition="0")
    assert lag == NOW - newest * 60 and 180 <= lag < 240


def test_before_the_first_publication_only_build_info_is_shown() -> None:
    found = samples(registry(lambda: None, "confluent-kafka", top_apis=True))
    assert {s.name for s in found} == {"trailpulse_build_info"}


def invented_names(n: int, minute: int) -> list[CloudTrailRecord]:
    return [record(minute, name=f"Junk{i:06d}") for i in range(n)]


def test_per_api_series_stay_bounded_whatever_names_the_input_invents() -> None:
    engine = Engine(EngineConfig(warmup_minutes=0, allowed_lateness_minutes=0, max_keys=200_000))
    busy = [record(START, name="RunInstances") for _ in range(50)]
    busy += [record(START, name="StopInstances") for _ in range(30)]
    engine.process([*busy, *invented_names(100_000, START)])
    report = Report(top_apis=20)
    report.engine_ran(engine, engine.process([record(START + 1, name="RunInstances")]))  # closes START
    assert engine.closed_through == START and len(engine.track.keys) > 100_000
    f = figures(top=report.top)

    found = samples(registry(lambda: f, "kafka-python", top_apis=True))
    for name in ("trailpulse_top_api_calls", "trailpulse_top_api_baseline_calls", "trailpulse_top_api_score"):
        assert len([s for s in found if s.name == name]) == 20
    labels = {"insight_type": "ApiCallRateInsight", "account": ACCOUNT, "region": REGION}
    labels |= {"event_source": SOURCE, "event_name": "RunInstances", "error_code": ""}
    first = report.top[0]
    assert first.key[4] == "RunInstances" and first.rate == 50
    assert value(found, "trailpulse_top_api_calls", **labels) == 50
    assert value(found, "trailpulse_top_api_baseline_calls", **labels) == first.baseline
    assert value(found, "trailpulse_top_api_score", **labels) == first.score
    assert [k.key[4] for k in top_keys(engine, 2)] == ["RunInstances", "StopInstances"]
    without = samples(registry(lambda: f, "kafka-python", top_apis=False))
    assert not [s for s in without if s.name.startswith("trailpulse_top_api")]
    assert len(without) < 100


def test_metrics_are_served_beside_the_health_endpoints() -> None:
    reg = registry(lambda: figures(), "kafka-python", top_apis=False)
    server = HealthServer(HealthStatus(60.0), 0, metrics=exposition(reg))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as answer:
            body, content_type = answer.read().decode(), answer.headers["Content-Type"]
        assert content_type == "text/plain; version=0.0.4; charset=utf-8"
        assert "trailpulse_messages_consumed_total 10.0" in body
    finally:
        server.close()


def every_family() -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """Each family the registry exposes with every figure present: its type, help and labels."""
    engine = Engine(EngineConfig(warmup_minutes=0, allowed_lateness_minutes=0))
    engine.process([record(START, name="RunInstances")])
    report = Report(top_apis=20)
    report.engine_ran(engine, engine.process([record(START + 1, name="RunInstances")]))
    text = exposition(registry(lambda: figures(top=report.top), "kafka-python", top_apis=True))()[0].decode()
    out = {}
    for family in text_string_to_metric_families(text):
        name = family.name + ("_total" if family.type == "counter" else "")
        labels = {k for s in family.samples for k in s.labels if k not in ("le",)}
        out[name] = (family.type, family.documentation, tuple(sorted(labels)))
    return out


def readme_reference() -> dict[str, tuple[str, str, tuple[str, ...]]]:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start, end = "<!-- metrics-reference:start -->\n", "\n<!-- metrics-reference:end -->"
    table = readme.split(start, 1)[1].split(end)[0]
    rows = {}
    for line in table.splitlines()[2:]:
        name, kind, labels, meaning = (cell.strip() for cell in line.strip("|").split(" | "))
        listed = tuple(sorted(label.strip("`") for label in labels.split(", ") if label))
        rows[name.strip("`")] = (kind, meaning, listed)
    return rows


REPLAY_ONLY = "trailpulse_replay_"  # the families of replay --metrics-file alone (see its test)


def test_the_readme_lists_every_metric_with_its_type_labels_and_meaning() -> None:
    daemon = {k: v for k, v in readme_reference().items() if not k.startswith(REPLAY_ONLY)}
    assert daemon == every_family(), "README.md's Metrics reference is out of date"


class LosingSink:
    """A sink whose flush fails for good (a send lost), as the Kafka sinks raise then."""

    name = "losing"

    def add(self, item: str) -> None:
        """Kept nowhere."""

    def flush(self, timeout_s: float) -> bool:
        raise KafkaClientError("a send failed")

    def close(self) -> None:
        """Nothing to release."""


def test_a_flush_that_raises_counts_as_a_failure_and_leaves_the_items_queued() -> None:
    sink = MeteredSink("losing", LosingSink())
    sink.add("a")
    sink.add("b")
    with pytest.raises(KafkaClientError):
        sink.flush(1.0)
    with pytest.raises(KafkaClientError):
        sink.flush(1.0)
    assert sink.figures() == SinkFigures("losing", delivered=0, failures=2, retries=1, queued=2)
