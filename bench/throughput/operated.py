"""(c): ``trailpulse run`` as an operator runs it, to measure what metrics and sinks cost.

Beside (b)'s settings: every alert kind (``webhook`` signed, ``alertmanager_webhook``,
``alertmanager``, ``slack``, ``pagerduty``) posting to a local HTTP receiver in this process that
answers at once, the dead-letter topic, the metrics endpoint with the per-API top-K
(``metrics_top_apis = 20``), scraped every second as Prometheus would. The issue's goal is
(c) >= 0.9 (b) on the same topic, measured in the same run.

The receiver counts what arrives, so the printed line says whether every Insight event reached every
kind (the ``alertmanager`` kind also posts active alerts again each ``resend_interval_s``).
"""

from __future__ import annotations

import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from consumers.alerts.signing import new_secret
from tests.alert_receiver import AlertReceiver

OPERATED_GOAL = 0.9  # the acceptance: with sinks and metrics on >= 0.9 x off
KINDS = ("webhook", "alertmanager_webhook", "alertmanager", "slack", "pagerduty")
TOP_APIS = 20
SCRAPE_S = 1.0


@dataclass
class Operated:
    """The receiver, the configuration file (engine settings + ``[[alert]]`` tables) and the env."""

    receiver: AlertReceiver
    config: Path
    env: dict[str, str]

    @classmethod
    def start(cls, workdir: Path, engine_config: Path | None) -> Operated:
        receiver = AlertReceiver()
        base = receiver.url.rsplit("/", 2)[0]
        tables = [
            "\n".join(
                [
                    "[[alert]]",
                    f'kind = "{kind}"',
                    f'url = "{base}/{kind}"',
                    "allow_private = true",
                    *(['secret_env = "BENCH_HOOK_SECRET"'] if kind == "webhook" else []),
                    *(['routing_key = "bench"'] if kind == "pagerduty" else []),
                ]
            )
            for kind in KINDS
        ]
        engine = engine_config.read_text() if engine_config else ""
        config = workdir / "operated.toml"
        config.write_text(engine + "\n\n" + "\n\n".join(tables) + "\n")
        env = {"BENCH_HOOK_SECRET": new_secret(), "TRAILPULSE_RUN_HEALTH_PORT": "0"}
        return cls(receiver, config, env)

    def args(self, dead_letter_topic: str) -> list[str]:
        return [
            "--config",
            str(self.config),
            "--dead-letter-topic",
            dead_letter_topic,
            "--metrics-top-apis",
            str(TOP_APIS),
        ]

    def delivered(self) -> dict[str, int]:
        """Posts answered 200, by kind (the first segment of the path each kind posts to)."""
        counts = dict.fromkeys(KINDS, 0)
        for post in self.receiver.posts():
            counts[post.path.strip("/").split("/", 1)[0]] += 1
        return counts

    def close(self) -> None:
        self.receiver.close()


@dataclass
class Scraper:
    """GETs ``/metrics`` every second from a thread, as Prometheus would, until stopped."""

    port: int
    scrapes: int = 0
    failures: int = 0
    samples_last: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SCRAPE_S):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as answer:
                    text = answer.read().decode()
                self.scrapes += 1
                self.samples_last = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
            except OSError:
                self.failures += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
