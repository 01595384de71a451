"""``replay --metrics-file``: what a replay read and found, in the Prometheus text format.

A replay is a batch job (a nightly ``aws s3 sync`` and ``replay``, say): nothing stays up to be
scraped, so its figures go to a file that node_exporter's textfile collector serves, the way
Prometheus suggests for batch jobs. The families are the daemon's (see the README's metrics
reference) where they mean the same thing, so one dashboard and one set of rules read both:
records decoded and rejected, skipped and late records, Insight events emitted and active, keys,
event-time sources. Four are replay's own: files read, paths skipped, the run's duration, and when
it last succeeded (for an alert on a job that stopped running). ``build_info`` says ``client="none"``.

The file is written whole to a temporary name and renamed, so a scrape never reads half of it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from consumers.files.replay import ReplaySummary
from consumers.runtime.metric_families import by_label, engine_families, record_families
from consumers.runtime.metrics import build_info
from consumers.runtime.report import engine_figures

if TYPE_CHECKING:
    from insights.engine import Engine

REPLAY_CLIENT = "none"  # build_info's Kafka client label: replay reads files


class ReplayCollector(Collector):
    """The figures of one finished replay (``finished_at``: Unix time)."""

    def __init__(self, summary: ReplaySummary, engine: Engine, finished_at: float) -> None:
        self.summary = summary
        self.engine = engine
        self.finished_at = finished_at

    def collect(self) -> Iterator[Metric]:
        s = self.summary
        yield build_info(REPLAY_CLIENT)
        yield CounterMetricFamily(
            "trailpulse_replay_files_total",
            "log files replay read (pieces of a large file count once)",
            s.files,
        )
        yield by_label(
            CounterMetricFamily(
                "trailpulse_replay_files_skipped_total",
                "paths replay did not read, by reason: digest and Insight files, other files, unreadable",
                labels=("reason",),
            ),
            {**s.skipped, **({"unreadable": s.unreadable} if s.unreadable else {})},
        )
        yield from record_families(s.records, s.rejected)
        yield from engine_families(engine_figures(self.engine), s.emitted)
        yield GaugeMetricFamily(
            "trailpulse_replay_duration_seconds",
            "how long the last replay took, from its first read to its summary",
            s.seconds,
        )
        yield GaugeMetricFamily(
            "trailpulse_replay_last_success_timestamp_seconds",
            "when the last replay that read its input finished (Unix time)",
            self.finished_at,
        )


def write_metrics_file(path: str | Path, summary: ReplaySummary, engine: Engine) -> None:
    """Write the replay's figures to ``path`` (atomically: a temporary file, then a rename)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReplayCollector(summary, engine, time.time()))
    write_to_textfile(str(path), registry)
