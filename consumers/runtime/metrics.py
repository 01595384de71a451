"""``/metrics``: the daemon's figures in the Prometheus text format, from a private registry.

Custom collectors, as prometheus/client_python recommends for exporters: at each scrape they read
the :class:`~consumers.runtime.figures.Figures` the loop last published (nothing on the hot path
calls a metric). Names follow Prometheus's rules: prefix ``trailpulse_``, base units (seconds,
bytes), ``_total`` for counters, ``trailpulse_build_info``. No label carries a value from the input
(API names, ARNs, user agents) except the per-API series of :class:`TopApisCollector`, which is
opt-in (``metrics_top_apis``) and bounded to that many keys, whatever names the input invents. The
README's "Metrics reference" lists every family; a test keeps it complete.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector, CollectorRegistry

from consumers.runtime.figures import Figures
from consumers.runtime.metric_families import engine_families, input_families, runtime_families

FiguresSource = Callable[[], Figures | None]
TOP_LABELS = ("insight_type", "account", "region", "event_source", "event_name", "error_code")


def build_version() -> str:
    try:
        return version("trailpulse")
    except PackageNotFoundError:
        return "unknown"


def build_info(client: str) -> GaugeMetricFamily:
    """``trailpulse_build_info``: value 1, the versions as labels (``client``: the Kafka client
    library, ``none`` for replay)."""
    info = GaugeMetricFamily(
        "trailpulse_build_info",
        "trailpulse's version, the Python version and the Kafka client library (value 1)",
        labels=("version", "python_version", "client"),
    )
    info.add_metric((build_version(), platform.python_version(), client), 1)
    return info


class DaemonCollector(Collector):
    """Every family but the per-API ones, from the last published figures (none before the first)."""

    def __init__(self, figures: FiguresSource, client: str, clock: Callable[[], float] = time.time) -> None:
        self.figures = figures
        self.client = client
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        yield build_info(self.client)
        f = self.figures()
        if f is None:
            return
        yield from input_families(f)
        yield from engine_families(f.engine, f.emitted)
        yield from runtime_families(f, self.clock())


class TopApisCollector(Collector):
    """The per-API gauges of the busiest keys of the last closed minute: at most ``k`` label sets
    per family, as taken by :func:`insights.census.top_keys`."""

    def __init__(self, figures: FiguresSource) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        families = (
            GaugeMetricFamily(
                "trailpulse_top_api_calls",
                "calls (error-rate keys: errors) of one of the busiest APIs in the last closed minute",
                labels=TOP_LABELS,
            ),
            GaugeMetricFamily(
                "trailpulse_top_api_baseline_calls",
                "the baseline of that API: calls per minute over its baseline window, zero minutes included",
                labels=TOP_LABELS,
            ),
            GaugeMetricFamily(
                "trailpulse_top_api_score",
                "the detector's score of that API in the last closed minute (compare with start_surprise)",
                labels=TOP_LABELS,
            ),
        )
        f = self.figures()
        for top in () if f is None else f.top:
            key = top.key
            labels = ("ApiErrorRateInsight" if len(key) > 5 else "ApiCallRateInsight", *key[1:5])
            labels += (key[5] if len(key) > 5 else "",)
            for family, value in zip(families, (top.rate, top.baseline, top.score), strict=True):
                family.add_metric(labels, value)
        yield from families


def registry(figures: FiguresSource, client: str, top_apis: bool) -> CollectorRegistry:
    """A private registry of the daemon's collectors (no process or platform collectors: the
    figures are the daemon's own); the per-API collector only if ``top_apis``."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(DaemonCollector(figures, client))
    if top_apis:
        reg.register(TopApisCollector(figures))
    return reg


def exposition(reg: CollectorRegistry) -> Callable[[], tuple[bytes, str]]:
    """What ``/metrics`` answers: the text exposition of ``reg`` and its content type, format 0.0.4
    (every name here is a classic one, so its text is that of 1.0.0, which Prometheus 2 does not name)."""
    return lambda: (generate_latest(reg), CONTENT_TYPE_PLAIN_0_0_4)
