"""``trailpulse run``: the consumer-group daemon (poll → decode → classify → process → produce).

One :class:`~insights.engine.Engine` covers every partition this process is assigned. One checkpoint
routine, run every ``checkpoint_interval_s``, on revoke and at shutdown, owns the ordering: flush the
output producer (every send acknowledged) → persist the engine state with the offsets it reflects →
commit exactly those offsets. On start the state store is loaded before anything is polled; on
assignment each partition the state knows is sought to its stored next offset (others resume from the
committed offset, else the earliest). An unusable state store stops the daemon with exit status 2.

Nothing twice: insights sent after the last checkpoint are sent again when a restarted daemon
processes those records again. So the state also records ``outputs_since``, the wall time from which
the output topic may hold insights the state does not reflect; on restore the daemon reads the output
topic from there, and an insight it computes again is not sent again if its ``eventID`` is already
there. Once the inputs are processed up to their end offsets of the restart, every such insight has
come round, and the set is dropped.

Records dated more than ``max_future_minutes`` after the wall clock are dropped (counted as
``future``): one bad clock upstream must not move the watermark and close minutes still filling.

The state store belongs to one consumer group and one process: running several processes in one
group is not supported yet (each would hold only some partitions while its state covers all keys);
scale-out through a repartition topic is planned.
"""

from __future__ import annotations

import json
import time
from collections import Counter, deque
from collections.abc import Sequence

from consumers.config.run_config import RunConfig
from consumers.kafka.protocol import (
    Consumer,
    KafkaClientError,
    Producer,
    Received,
    TopicPartitionKey,
)
from consumers.runtime.decode_pool import Decoded, DecodePool, Reject
from consumers.runtime.health import HealthStatus
from consumers.runtime.logs import JsonLog, RateLimited
from consumers.state.directory_store import State, StateStoreError, Store
from insights.engine import Engine
from insights.events import encode_event, insight_event
from insights.snapshot import SnapshotError

POLL_TIMEOUT_S = 0.5
FLUSH_TIMEOUT_S = 20.0
DEFERRABLE_FLUSH_S = 5.0
STALL_S = 120.0
CLOCK_SLACK_S = 60.0
MAX_IN_FLIGHT = 4


class Daemon:
    """The loop and the checkpoint routine, on any :class:`Consumer` / :class:`Producer` pair."""

    def __init__(
        self,
        config: RunConfig,
        clients: tuple[Consumer, Producer],
        store: Store,
        pool: DecodePool,
        log: JsonLog,
    ) -> None:
        consumer, producer = clients
        self.config = config
        self.consumer = consumer
        self.producer = producer
        self.store = store
        self.log = log
        self.record_log = RateLimited(log)
        self.status = HealthStatus(STALL_S)
        self.pool = pool
        self.in_flight: deque[tuple[list[Received], dict[TopicPartitionKey, int]]] = deque()
        self.polled: dict[TopicPartitionKey, int] = {}
        self.engine = Engine(config.engine)
        self.offsets: dict[TopicPartitionKey, int] = {}
        self.counts: Counter[str] = Counter()
        self.dirty = False
        self.stopping = False
        self.callback_error: BaseException | None = None
        self.last_checkpoint = time.monotonic()
        self.outputs_since = time.time()
        self.already_sent: set[str] = set()
        self.replay_ends: dict[TopicPartitionKey, int] = {}

    def restore(self, state: State | None, engine: Engine | None = None) -> None:
        """Take the engine (``engine`` if already restored) and offsets of ``state``."""
        if state is None:
            # Saved at once, so that a crash before the first checkpoint still finds outputs_since.
            self.store.save(State({}, self.engine.snapshot(), self.outputs_since))
            self.log.info("state_fresh", state=self.store.location)
            return
        try:
            self.engine = engine or Engine.restore(state.engine, self.config.engine)
        except SnapshotError as exc:
            raise StateStoreError(f"state {self.store.location} is unusable: {exc}") from exc
        self.offsets = dict(state.offsets)
        self.polled = dict(state.offsets)
        self.outputs_since = state.outputs_since
        self.log.info("state_restored", state=self.store.location, offsets=self._offset_doc())
        self._recall_sent()

    def _recall_sent(self) -> None:
        """Read what was sent after the checkpoint: processing those records again sends nothing twice."""
        c = self.config
        since = self.outputs_since - CLOCK_SLACK_S
        for value in self.consumer.read_since(c.output_topic, since):
            try:
                event_id = json.loads(value)["eventID"]
            except (ValueError, KeyError, TypeError):
                continue
            if isinstance(event_id, str):
                self.already_sent.add(event_id)
        ends = self.consumer.end_offsets(c.input_topics, c.input_pattern)
        self.replay_ends = {tp: o for tp, o in ends.items() if o > self.offsets.get(tp, 0)}
        self.log.info(
            "outputs_recalled",
            since=since,
            event_ids=len(self.already_sent),
            replay_ends=len(self.replay_ends),
        )
        self._replay_done()

    def _replay_done(self) -> None:
        """Once the inputs are processed up to their ends of the restart, nothing can come round again."""
        if self.replay_ends and all(self.offsets.get(tp, 0) >= o for tp, o in self.replay_ends.items()):
            self.replay_ends = {}
        if not self.replay_ends and self.already_sent:
            self.log.info("replay_done", not_recomputed=len(self.already_sent))
            self.already_sent.clear()

    # Rebalance callbacks (kafka-python calls them from inside poll/close).
    def on_assigned(self, partitions: list[TopicPartitionKey]) -> None:
        try:
            for tp in partitions:
                if tp in self.offsets:
                    self.consumer.seek(tp, self.offsets[tp])
            self.status.ready = True
            self.log.info("partitions_assigned", partitions=[f"{t}:{p}" for t, p in partitions])
        except BaseException as exc:
            self.callback_error = exc
            raise

    def on_revoked(self, partitions: list[TopicPartitionKey]) -> None:
        try:
            self.checkpoint(extra=partitions)
            self.log.info("partitions_revoked", partitions=[f"{t}:{p}" for t, p in partitions])
        except BaseException as exc:
            self.callback_error = exc
            raise

    def handle(self, messages: Sequence[Received]) -> None:
        """Queue one poll's new messages for decoding; apply the polls whose decoding is done."""
        fresh: list[Received] = []
        reached: dict[TopicPartitionKey, int] = {}
        polled = self.polled
        for m in messages:
            tp = (m.topic, m.partition)
            if m.offset < polled.get(tp, 0):
                continue  # already reflected by the state (a partition resumed before it)
            polled[tp] = reached[tp] = m.offset + 1
            fresh.append(m)
        if fresh:
            latest = int(time.time() // 60) + self.config.max_future_minutes
            self.pool.submit([m.value or b"" for m in fresh], latest)
            self.in_flight.append((fresh, reached))
        self.apply_decoded(drain=False)

    def apply_decoded(self, drain: bool) -> None:
        """Process decoded polls in poll order: all of them if ``drain``, else those done (waiting
        only while more than ``MAX_IN_FLIGHT`` are queued)."""
        while self.in_flight:
            decoded = self.pool.take(block=drain or len(self.in_flight) > MAX_IN_FLIGHT)
            if decoded is None:
                return
            messages, reached = self.in_flight.popleft()
            self._apply(decoded, messages, reached)

    def _apply(
        self, decoded: Decoded, messages: list[Received], reached: dict[TopicPartitionKey, int]
    ) -> None:
        """Dead-letter the rejects, run the engine, send the transitions; the offsets now reflect it."""
        self.counts["messages"] += decoded.messages
        self.counts["records"] += decoded.batch.records
        for reject in decoded.rejects:
            m = messages[reject.index]
            self._reject(reject, f"{m.topic}:{m.partition}:{m.offset}")
        for t in self.engine.process_classified([decoded.batch]):
            event = insight_event(t)
            event_id = str(event["eventID"])
            if event_id in self.already_sent:
                self.already_sent.discard(event_id)
                self.counts["insights.already_sent"] += 1
                continue
            key = str(event["sharedEventID"]).encode()
            self.producer.send(self.config.output_topic, encode_event(event), key, [])
            self.counts[f"insights.{t.state.lower()}"] += 1
        self.offsets.update(reached)
        self.dirty = True
        if self.replay_ends or self.already_sent:
            self._replay_done()

    def _reject(self, reject: Reject, source: str) -> None:
        self.counts[f"rejected.{reject.reason}"] += 1
        self.record_log.warning("record_rejected", reject.reason, detail=reject.detail[:200], source=source)
        dead_letter = self.config.dead_letter_topic
        if dead_letter:
            headers = [
                ("trailpulse.reason", reject.reason.encode()),
                ("trailpulse.detail", reject.detail.encode("utf-8", "replace")[:1000]),
                ("trailpulse.source", source.encode()),
            ]
            self.producer.send(dead_letter, reject.raw, None, headers)

    def checkpoint(self, extra: Sequence[TopicPartitionKey] = (), final: bool = False) -> None:
        """Flush the producer → persist state and offsets → commit those offsets.

        While the broker is away the flush cannot finish: the checkpoint is put off (the state on
        disk stays the previous one, which is always safe) and tried again on the next interval; a
        final checkpoint that cannot finish raises, so the exit status says the state is behind.
        """
        self.last_checkpoint = time.monotonic()
        self.apply_decoded(drain=True)
        if not self.dirty:
            return
        if not self.producer.flush(FLUSH_TIMEOUT_S if final else DEFERRABLE_FLUSH_S):
            if final:
                raise KafkaClientError(
                    "insights not acknowledged by the broker; state left at the last checkpoint"
                )
            self.counts["checkpoints_deferred"] += 1
            self.log.warning("checkpoint_deferred", reason="output not acknowledged yet")
            return
        offsets = dict(self.offsets)
        if not self.replay_ends:  # while replaying, older sends may still come round
            self.outputs_since = time.time()
        self.store.save(State(offsets, self.engine.snapshot(), self.outputs_since))
        owned = self.consumer.assignment() | set(extra)
        self.consumer.commit({tp: o for tp, o in offsets.items() if tp in owned})
        self.dirty = False
        self.log.info(
            "checkpoint",
            offsets=self._offset_doc(),
            counts=dict(self.counts),
            skipped=dict(self.engine.normaliser.skipped),
        )

    def run(self) -> None:
        """Poll until :attr:`stopping`; then checkpoint. Raises on a store or client failure."""
        c = self.config
        self.consumer.subscribe(c.input_topics, c.input_pattern, self)
        busy = False
        while not self.stopping:
            messages = self.consumer.poll(POLL_TIMEOUT_S, c.poll_max_records)
            if self.callback_error is not None:
                error = self.callback_error
                if isinstance(error, StateStoreError | KafkaClientError):
                    raise error
                raise KafkaClientError(f"rebalance handling failed: {error!r}") from error
            if messages:
                self.handle(messages)
                busy = True
            elif busy:  # an empty poll after work: logged once per catch-up, not per poll
                self.apply_decoded(drain=True)
                self.log.info("caught_up", offsets=self._offset_doc(), counts=dict(self.counts))
                busy = False
            self.status.progress()
            if time.monotonic() - self.last_checkpoint >= c.checkpoint_interval_s:
                self.checkpoint()
        self.checkpoint(final=True)

    def _offset_doc(self) -> dict[str, int]:
        return {f"{t}:{p}": o for (t, p), o in sorted(self.offsets.items())}
