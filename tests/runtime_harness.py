"""The daemon on the in-memory Kafka (:mod:`consumers.kafka.memory`): runtime tests in milliseconds.

:class:`Harness` is one in-memory cluster and one state store that outlive the daemons started on
them, so a test can crash a daemon (an ``ABORT`` marker) and start another as ``trailpulse run``
would after a restart. :func:`traffic` is five hours of CloudTrail, one S3 log file per minute, with
an engine warm-up of two hours and spikes on two APIs: insights to send, quickly.
"""

from __future__ import annotations

import functools
import io
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import msgspec

from consumers.config.run_config import RunConfig
from consumers.kafka.memory import MemoryCluster, MemoryConsumer, MemoryProducer
from consumers.kafka.protocol import TopicPartitionKey
from consumers.runtime.daemon import Daemon
from consumers.runtime.decode_pool import DecodePool
from consumers.runtime.logs import JsonLog
from consumers.sinks.base import AlertOutbox, Insight, Sinks
from consumers.sinks.dead_letters import DeadLetterSink
from consumers.sinks.metered import SinkFigures
from consumers.sinks.output_topic import OutputTopicSink
from consumers.state.directory_store import State
from insights.config import EngineConfig
from insights.decode import Decoder
from insights.engine import Engine
from insights.events import insight_event
from tests.builders import DAY, HOUR, api, merge, poisson_counts, steady_with, stream

SOURCE, OUTPUT, DEAD = "cloudtrail", "insights", "rejects"
ENGINE = EngineConfig(window_minutes=DAY, warmup_minutes=2 * HOUR, allowed_lateness_minutes=10)
MINUTES = 5 * HOUR
FIRST_SPIKE = (200, 203)  # minutes (= message indexes) of a spike on RunInstances
SECOND_SPIKE = (270, 273)  # and of one on CreateBucket


@functools.cache
def traffic() -> tuple[bytes, ...]:
    """One ``{"Records": [...]}`` message per minute: steady writes, and the two spikes."""
    series = merge(
        stream({api("PutObject", source="s3.amazonaws.com"): poisson_counts(5.0, MINUTES, 1)}),
        stream({api("RunInstances"): steady_with(3.0, MINUTES, 2, {FIRST_SPIKE: 60})}),
        stream(
            {api("CreateBucket", source="s3.amazonaws.com"): steady_with(2.0, MINUTES, 3, {SECOND_SPIKE: 50})}
        ),
    )
    return tuple(msgspec.json.encode({"Records": series[m]}) for m in sorted(series))


def expected_event_ids(messages: tuple[bytes, ...]) -> list[str]:
    """The eventIDs the engine gives for ``messages`` fed one by one with no daemon around it."""
    return list(_engine_event_ids(messages))


@functools.cache
def _engine_event_ids(messages: tuple[bytes, ...]) -> tuple[str, ...]:
    engine, decoder = Engine(ENGINE), Decoder()
    return tuple(
        str(insight_event(t)["eventID"]) for m in messages for t in engine.process(decoder.decode(m).records)
    )


class Journal(list[str]):
    """What happened, in order, across the parts that record into it."""


class JournaledStore:
    """A state store in memory that notes each save in the journal."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.saved: list[State] = []

    @property
    def location(self) -> str:
        return "memory"

    def load(self) -> State | None:
        return self.saved[-1] if self.saved else None

    def save(self, state: State) -> None:
        self.journal.append("store.save")
        self.saved.append(state)

    def close(self) -> None:
        """Nothing to release: the states stay for the next daemon."""


class JournaledConsumer(MemoryConsumer):
    def __init__(self, cluster: MemoryCluster, group_id: str, journal: Journal) -> None:
        super().__init__(cluster, group_id)
        self.journal = journal

    def commit(self, offsets: Mapping[TopicPartitionKey, int]) -> None:
        self.journal.append("consumer.commit")
        super().commit(offsets)


class JournaledProducer(MemoryProducer):
    def __init__(self, cluster: MemoryCluster, journal: Journal) -> None:
        super().__init__(cluster)
        self.journal = journal

    def flush(self, timeout_s: float) -> bool:
        self.journal.append("producer.flush")
        return super().flush(timeout_s)


class AlertSink:
    """An insight sink beside the output topic, as an alert webhook would be; its flush can fail.
    What it holds unacknowledged goes into the outbox a checkpoint persists."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.received: list[Insight] = []
        self.pending: list[Insight] = []
        self.restored: list[Insight] = []
        self.acknowledging = True
        self.delivered = self.failures = 0

    @property
    def name(self) -> str:
        return "alerts"

    @property
    def label(self) -> str:
        return "alerts"

    def add(self, item: Insight) -> None:
        self.received.append(item)
        self.pending.append(item)

    def flush(self, timeout_s: float) -> bool:
        self.journal.append("alerts.flush")
        if self.acknowledging:
            self.delivered += len(self.pending)
            self.pending.clear()
        else:
            self.failures += 1
        return self.acknowledging

    def snapshot(self) -> tuple[list[Insight], list[Insight]]:
        return list(self.pending), []

    def restore(self, queued: list[Insight], active: list[Insight]) -> None:
        self.restored = list(queued)

    def figures(self) -> SinkFigures:
        return SinkFigures("alerts", self.delivered, self.failures, 0, len(self.pending))

    def close(self) -> None:
        """Nothing to release."""


@dataclass
class Started:
    """One daemon on the harness, and the clients and sinks it was given."""

    daemon: Daemon
    consumer: JournaledConsumer
    producer: JournaledProducer
    output: OutputTopicSink
    alerts: AlertSink

    def run_to_eof(self) -> None:
        """Run until every assigned partition is at an EOF marker, then stop (final checkpoint)."""
        self.consumer.on_exhausted = self.daemon.stop
        self.daemon.run()

    def turn_to_eof(self) -> None:
        """Turn the loop until every assigned partition is at an EOF marker; no final checkpoint."""
        while not self.consumer.exhausted:
            self.daemon.turn()


@dataclass
class Harness:
    """An in-memory cluster, a state store and a log that outlive the daemons started on them."""

    cluster: MemoryCluster = field(default_factory=MemoryCluster)
    journal: Journal = field(default_factory=Journal)
    log_lines: io.StringIO = field(default_factory=io.StringIO)

    def __post_init__(self) -> None:
        self.store = JournaledStore(self.journal)

    def start(
        self,
        dead_letters: bool = True,
        pool: DecodePool | None = None,
        alert_sink: AlertOutbox | None = None,
        **run: object,
    ) -> Started:
        """A daemon as ``trailpulse run`` starts one: state loaded, restored, subscribed. ``run``:
        settings of :class:`RunConfig`; ``pool``: decoding inline by default; ``alert_sink``: a real
        one beside the journaled one."""
        settings: dict[str, object] = {"checkpoint_interval_s": 3600.0, "poll_max_records": 25, **run}
        config = RunConfig(
            input_topics=[SOURCE],
            output_topic=OUTPUT,
            dead_letter_topic=DEAD if dead_letters else None,
            decode_workers=0,
            engine=ENGINE,
            **settings,  # type: ignore[arg-type]
        )
        consumer = JournaledConsumer(self.cluster, config.group_id, self.journal)
        producer = JournaledProducer(self.cluster, self.journal)
        counts: Counter[str] = Counter()
        output, alerts = OutputTopicSink(producer, OUTPUT, counts), AlertSink(self.journal)
        extra = [] if alert_sink is None else [alert_sink]
        sinks = Sinks(output, DeadLetterSink(producer, DEAD) if dead_letters else None, [alerts, *extra])
        log = JsonLog(self.log_lines)
        pool = DecodePool(0, False) if pool is None else pool
        daemon = Daemon(config, consumer, sinks, self.store, pool, log, counts)
        daemon.restore(self.store.load())
        daemon.start()
        return Started(daemon, consumer, producer, output, alerts)

    def events(self, name: str) -> list[dict[str, object]]:
        """The log lines of event ``name``, every daemon's, in order."""
        lines = [json.loads(line) for line in self.log_lines.getvalue().splitlines()]
        return [line for line in lines if line["event"] == name]

    def sent_event_ids(self) -> list[str]:
        return [json.loads(value or b"")["eventID"] for value in self.cluster.values(OUTPUT)]
