"""``trailpulse run``: consume CloudTrail from Kafka, produce Insight events (the daemon's wiring).

Loads the configuration and the state store, builds the Kafka clients and the decode pool, installs
the signal handlers and the HTTP server (health and metrics), and runs
:class:`~consumers.runtime.daemon.Daemon` until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections import Counter
from types import FrameType

from consumers.alerts.channels import alert_sink
from consumers.alerts.dead_letters import DeadAlertWriter, to_file, to_log, to_topic
from consumers.alerts.settings import AlertSettings
from consumers.config import run_config
from consumers.config.reference import reference
from consumers.config.run_config import ConfigError, RunConfig
from consumers.kafka.protocol import ClientFactory, KafkaClientError, client_factory
from consumers.runtime.daemon import Daemon
from consumers.runtime.decode_pool import DecodeError, DecodePool
from consumers.runtime.health import HealthServer
from consumers.runtime.logs import JsonLog
from consumers.runtime.metrics import exposition, registry
from consumers.sinks.base import Sinks
from consumers.sinks.dead_letters import DeadLetterSink
from consumers.sinks.output_topic import OutputTopicSink
from consumers.state.directory_store import StateStoreError
from insights.engine import Engine
from insights.snapshot import SnapshotError


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("run", help="consume CloudTrail from Kafka, produce Insight events")
    run_config.add_arguments(p)


def main(config: RunConfig, log: JsonLog, clients: ClientFactory | None = None) -> int:
    """Run the daemon until SIGTERM/SIGINT; exit status 0, or 2 with one error line.

    ``clients`` defaults to the factory of ``config.client``."""
    store = run_config.open_store(config)
    try:
        state = store.load()  # before connecting: an unusable store fails fast
        engine = None if state is None else Engine.restore(state.engine, config.engine)
        factory = clients or client_factory(config.client)
        consumer, producer = factory(run_config.client_options(config), config.group_id)
    except (StateStoreError, SnapshotError, KafkaClientError, ValueError) as exc:
        log.error("fatal", error=str(exc))
        print(f"trailpulse run: {exc}", file=sys.stderr)
        store.close()
        return 2
    pool = DecodePool(config.decode_workers, config.engine.analyse_data_events)
    counts: Counter[str] = Counter()
    dead_letters = DeadLetterSink(producer, config.dead_letter_topic) if config.dead_letter_topic else None
    sinks = Sinks(
        output=OutputTopicSink(producer, config.output_topic, counts),
        dead_letters=dead_letters,
        alerts=[alert_sink(alert, _dead_alerts(alert, dead_letters, log)) for alert in config.alerts],
    )
    daemon = Daemon(config, consumer, sinks, store, pool, log, counts)
    health = None

    def stop(signum: int, frame: FrameType | None) -> None:
        daemon.stop()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        daemon.restore(state, engine)
        if config.health_port >= 0:
            metrics = registry(lambda: daemon.report.figures, config.client, config.metrics_top_apis > 0)
            health = HealthServer(daemon.status, config.health_port, config.health_host, exposition(metrics))
        log.info("started", group_id=config.group_id, health_port=health.port if health else None)
        daemon.run()
    except (StateStoreError, KafkaClientError, DecodeError) as exc:
        log.error("fatal", error=str(exc))
        print(f"trailpulse run: {exc}", file=sys.stderr)
        return 2
    finally:
        pool.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
        if health is not None:
            health.close()
        sinks_first = [sink.close for sink in sinks.all()]  # before the producer they write to
        for close in [*sinks_first, consumer.close, producer.close, store.close]:
            try:
                close()
            except Exception as exc:
                log.error("close_failed", error=repr(exc))
    log.info("stopped", counts=dict(daemon.counts))
    return 0


def _dead_alerts(alert: AlertSettings, topic: DeadLetterSink | None, log: JsonLog) -> DeadAlertWriter:
    """Where ``alert``'s sink puts what it gives up on: its file, else the dead-letter topic, else
    the log (never nowhere)."""
    if alert.dead_letter_file:
        return to_file(alert.dead_letter_file)
    return to_log(log) if topic is None else to_topic(topic)


def run(args: argparse.Namespace) -> int:
    if args.print_config_reference:
        print(reference(), end="")
        return 0
    log = JsonLog()
    try:
        config = run_config.load(args)
    except ConfigError as exc:
        print(f"trailpulse run: {exc}", file=sys.stderr)
        return 2
    if args.check_config:
        import json

        print(json.dumps(config.effective(), indent=2, default=str))
        return 0
    return main(config, log)
