"""``trailpulse run``'s loop: poll → decode pool → engine → sinks, and the rebalance callbacks.

One :class:`~insights.engine.Engine` covers every partition this process is assigned, each partition
an input with event-time clocks of its own (:mod:`insights.clock`), so a partition read from behind
never makes another's records late; :class:`~consumers.runtime.partition_time.PartitionTime` tells
the clocks which partitions are still to deliver or idle, and pauses those far ahead. Each poll's
messages go to the decode pool in one task per partition; decoded tasks are applied in that order:
rejects to the dead-letter sink, records through the engine, Insight events to the insight sinks. The
:class:`~consumers.runtime.checkpoint.Checkpoint` (every ``checkpoint_interval_s``, on revoke and at
shutdown) makes that progress durable. On start the state store is loaded before anything is polled;
on assignment each partition the state knows is sought to its stored next offset (others resume from
the committed offset, else the earliest), and :class:`~consumers.runtime.recall.Recall` keeps a
restart from sending an insight twice. An unusable state store stops the daemon with exit status 2.

Records dated more than ``max_future_minutes`` after the wall clock are dropped (counted as
``future``): one bad clock upstream must not move the watermark and close minutes still filling.

Each sink is wrapped in a :class:`~consumers.sinks.metered.MeteredSink`, and about once a second
the loop publishes its figures for ``/metrics`` (:mod:`consumers.runtime.report`).

The state store belongs to one consumer group and one process: running several processes in one
group is not supported yet (each would hold only some partitions while its state covers all keys);
scale-out through a repartition topic is planned.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Sequence
from typing import Any

from consumers.alerts.outbox import decode_outbox, encode_outbox
from consumers.config.run_config import RunConfig
from consumers.kafka.protocol import Consumer, KafkaClientError, Received, TopicPartitionKey
from consumers.runtime.checkpoint import Checkpoint, offset_doc
from consumers.runtime.decode_pool import Decoded, DecodePool
from consumers.runtime.health import HealthStatus
from consumers.runtime.logs import JsonLog, RateLimited, start_fields
from consumers.runtime.partition_time import PartitionTime, input_id
from consumers.runtime.recall import Recall
from consumers.runtime.report import Report
from consumers.sinks.base import AlertOutbox, Insight, Sink, Sinks
from consumers.sinks.dead_letters import DeadLetter
from consumers.sinks.metered import MeteredSink
from consumers.state.directory_store import State, StateStoreError, Store
from insights.engine import Engine
from insights.eventtime import minute_to_iso
from insights.snapshot import SnapshotError
from insights.transition import InsightTransition

POLL_TIMEOUT_S = 0.5
STALL_S = 120.0
MAX_IN_FLIGHT = 16  # decode tasks (one per partition of a poll) queued before the loop waits
STARTS_LOGGED = 20  # Start lines per rule a minute; a flood (a region going silent) is counted instead


class Daemon:
    """The loop on any :class:`Consumer`, writing to ``sinks``; :meth:`run` until :meth:`stop`.

    ``counts`` (messages, records, rejects by reason, deferred checkpoints, sources fallen silent)
    is shared with the sinks, which count what they send, and logged as a whole.
    """

    def __init__(
        self,
        config: RunConfig,
        consumer: Consumer,
        sinks: Sinks,
        store: Store,
        pool: DecodePool,
        log: JsonLog,
        counts: Counter[str],
    ) -> None:
        self.config = config
        self.consumer = consumer
        self.sinks = sinks
        # In the order a checkpoint flushes them; alert sinks count their own posts, the others are
        # counted per flush.
        output = MeteredSink("output_topic", sinks.output)
        dead_letters = sinks.dead_letters
        self.dead_letters = None if dead_letters is None else MeteredSink("dead_letter_topic", dead_letters)
        self.insight_sinks: list[Sink[Insight]] = [output, *sinks.alerts]
        self.sink_meters: list[MeteredSink[Any] | AlertOutbox] = [output, *sinks.alerts]
        if self.dead_letters is not None:
            self.sink_meters.append(self.dead_letters)
        self.store = store
        self.log = log
        self.record_log = RateLimited(log)
        self.start_log = RateLimited(log, per_reason=STARTS_LOGGED)
        self.status = HealthStatus(STALL_S)
        self.pool = pool
        self.in_flight: deque[tuple[list[Received], TopicPartitionKey, float]] = deque()
        self.polled: dict[TopicPartitionKey, int] = {}
        self.engine = Engine(config.engine)
        self.partition_time = self._partition_time()
        self.offsets: dict[TopicPartitionKey, int] = {}
        self.counts = counts
        self.stopping = False
        self.busy = False
        self.callback_error: BaseException | None = None
        self.recall = Recall(sinks.output, log, time.time())
        self.checkpoint = Checkpoint(self, self.sink_meters, store, consumer, log)
        self.report = Report(config.metrics_top_apis)

    def _partition_time(self) -> PartitionTime:
        c = self.config
        return PartitionTime(
            self.consumer,
            self.engine.clocks,
            c.partition_wait_s,
            c.partition_idle_s,
            c.align_minutes,
            log=self.log.info,
        )

    def restore(self, state: State | None, engine: Engine | None = None) -> None:
        """Take the engine (``engine`` if already restored) and offsets of ``state``; recall the output."""
        if state is None:
            # Saved at once, so that a crash before the first checkpoint still finds outputs_since.
            self.store.save(self.state())
            self.log.info("state_fresh", state=self.store.location)
            return
        try:
            self.engine = engine or Engine.restore(state.engine, self.config.engine)
        except SnapshotError as exc:
            raise StateStoreError(f"state {self.store.location} is unusable: {exc}") from exc
        self.partition_time = self._partition_time()
        self.offsets = dict(state.offsets)
        self.polled = dict(state.offsets)
        self.checkpoint.persisted = dict(state.offsets)
        self.recall.outputs_since = state.outputs_since
        self._restore_outbox(state.outbox)
        self.log.info("state_restored", state=self.store.location, offsets=offset_doc(self.offsets))
        self.recall.start(
            self.consumer,
            self.offsets,
            self.engine.closed_through,
            self.config.input_topics,
            self.config.input_pattern,
        )

    # Rebalance callbacks (kafka-python calls them from inside poll/close).
    def on_assigned(self, partitions: list[TopicPartitionKey]) -> None:
        try:
            for tp in partitions:
                if tp in self.offsets:
                    self.consumer.seek(tp, self.offsets[tp])
            self.partition_time.assigned(partitions)
            self.status.ready = True
            self.log.info("partitions_assigned", partitions=[f"{t}:{p}" for t, p in partitions])
        except BaseException as exc:
            self.callback_error = exc
            raise

    def on_revoked(self, partitions: list[TopicPartitionKey]) -> None:
        try:
            self.checkpoint.take(revoked=partitions)
            self.partition_time.revoked(partitions)
            self.log.info("partitions_revoked", partitions=[f"{t}:{p}" for t, p in partitions])
        except BaseException as exc:
            self.callback_error = exc
            raise

    def handle(self, messages: Sequence[Received]) -> None:
        """Queue one poll's new messages for decoding, a task per partition; apply the tasks whose
        decoding is done."""
        fresh: dict[TopicPartitionKey, list[Received]] = {}
        polled = self.polled
        for m in messages:
            tp = (m.topic, m.partition)
            if m.offset < polled.get(tp, 0):
                continue  # already reflected by the state (a partition resumed before it)
            polled[tp] = m.offset + 1
            fresh.setdefault(tp, []).append(m)
        latest = int(time.time() // 60) + self.config.max_future_minutes
        for tp, part in fresh.items():
            self.pool.submit([m.value or b"" for m in part], latest)
            self.in_flight.append((part, tp, time.monotonic()))
        self.apply_decoded(drain=False)

    def apply_decoded(self, drain: bool) -> None:
        """Process decoded tasks in submission order: all of them if ``drain``, else those done
        (waiting only while more than ``MAX_IN_FLIGHT`` are queued)."""
        while self.in_flight:
            decoded = self.pool.take(block=drain or len(self.in_flight) > MAX_IN_FLIGHT)
            if decoded is None:
                return
            messages, tp, submitted = self.in_flight.popleft()
            self._apply(decoded, messages, tp)
            self.report.processed(time.monotonic() - submitted)

    def drain(self) -> None:
        self.apply_decoded(drain=True)

    def _apply(self, decoded: Decoded, messages: list[Received], tp: TopicPartitionKey) -> None:
        """Dead-letter the rejects, run the engine on the records of partition ``tp``, hand the
        transitions to the insight sinks; the offsets now reflect it."""
        self.counts["messages"] += decoded.messages
        self.counts["records"] += decoded.batch.records
        for reject in decoded.rejects:
            m = messages[reject.index]
            letter = DeadLetter(
                reject.raw, reject.reason, reject.detail, f"{m.topic}:{m.partition}:{m.offset}"
            )
            self.counts[f"rejected.{letter.reason}"] += 1
            self.record_log.warning(
                "record_rejected", letter.reason, detail=letter.detail[:200], source=letter.source
            )
            if self.dead_letters is not None:
                self.dead_letters.add(letter)
        self._emit(self.engine.process_classified([decoded.batch], input_id(tp)))
        self.partition_time.delivered(tp)
        self.offsets[tp] = messages[-1].offset + 1
        if self.recall.active:
            self.recall.progress(self.offsets, self.engine.closed_through)

    def _emit(self, transitions: list[InsightTransition]) -> None:
        """Hand Insight events to the insight sinks; log each Start with its reason (at most
        :data:`STARTS_LOGGED` a minute per rule) and sources that fell silent (once each); tell the
        report (counts by type and state, the busiest keys)."""
        self.report.engine_ran(self.engine, transitions)
        for transition in transitions:
            insight = Insight.of(transition, self.config.reason_field)
            for sink in self.insight_sinks:
                sink.add(insight)
            if transition.reason is not None:
                self.start_log.info("insight_started", transition.reason.rule, **start_fields(transition))
        for source, channel, account, region, newest in self.engine.clocks.take_silent():
            self.counts["sources_silent"] += 1
            self.log.info(
                "source_silent",
                input=source,
                channel=channel,
                account=account,
                region=region,
                newest=minute_to_iso(newest),
            )

    def _restore_outbox(self, blob: bytes) -> None:
        """Hand each alert sink what it had not delivered at the checkpoint (see ``alerts.sink``)."""
        outbox = decode_outbox(blob, self.config.reason_field)
        for sink in self.sinks.alerts:
            queued, active = outbox.pop(sink.label, ([], []))
            sink.restore(queued, active)
            if queued or active:
                self.log.info("alerts_restored", sink=sink.label, queued=len(queued), active=len(active))
        for name, (queued, _) in outbox.items():
            self.log.warning("alerts_unconfigured", sink=name, queued=len(queued))

    def state(self) -> State:
        return State(
            dict(self.offsets),
            self.engine.snapshot(),
            self.recall.since_for_checkpoint(time.time()),
            encode_outbox({sink.label: sink.snapshot() for sink in self.sinks.alerts}),
        )

    def summary(self) -> dict[str, object]:
        normaliser, closed = self.engine.normaliser, self.engine.closed_through
        return {
            "counts": dict(self.counts),
            "skipped": dict(normaliser.skipped),
            "amended": normaliser.amended,
            # Every minute up to this one is judged; later ones wait for their slowest source.
            "closed_through": None if closed is None else minute_to_iso(closed),
        }

    def start(self) -> None:
        """Join the consumer group (the assignment arrives with a later poll)."""
        self.consumer.subscribe(self.config.input_topics, self.config.input_pattern, self)

    def turn(self) -> None:
        """One turn of the loop: poll, hand over, checkpoint when due. Raises on a store or client failure."""
        c = self.config
        messages = self.consumer.poll(POLL_TIMEOUT_S, c.poll_max_records)
        if self.callback_error is not None:
            error = self.callback_error
            if isinstance(error, StateStoreError | KafkaClientError):
                raise error
            raise KafkaClientError(f"rebalance handling failed: {error!r}") from error
        if messages:
            self.handle(messages)
            self.busy = True
        elif self.busy:  # an empty poll after work: logged once per catch-up, not per poll
            self.drain()
            self.log.info("caught_up", offsets=offset_doc(self.offsets), counts=dict(self.counts))
            self.busy = False
        if self.partition_time.update(self.offsets, self.engine.closed_through):
            self._emit(self.engine.advance())
            if self.recall.active:
                self.recall.progress(self.offsets, self.engine.closed_through)
        self.status.progress()
        if time.monotonic() - self.checkpoint.last_taken >= c.checkpoint_interval_s:
            self.checkpoint.take()
            self.publish()
        elif self.report.due():
            self.publish()

    def publish(self) -> None:
        """Publish the figures ``/metrics`` shows (see :mod:`consumers.runtime.report`)."""
        self.report.publish(
            self.counts, self.engine, self.consumer, self.partition_time, self.checkpoint, self.sink_meters
        )

    def run(self) -> None:
        """Poll until :meth:`stop`; then a final checkpoint. Raises on a store or client failure."""
        self.start()
        while not self.stopping:
            self.turn()
        self.checkpoint.take(final=True)
        self.publish()

    def stop(self) -> None:
        """Finish the current turn, then checkpoint and return from :meth:`run` (signal-safe)."""
        self.stopping = True
