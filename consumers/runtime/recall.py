"""Nothing twice after a restart: what the output topic already holds, and until when it matters.

Insights sent after the last checkpoint are computed again when a restarted daemon processes those
records again. So the state records ``outputs_since``, the wall time from which the output topic may
hold insights the state does not reflect. On restore, :meth:`Recall.start` reads the output topic from
there (less :data:`CLOCK_SLACK_S` for clocks that disagree) and hands the eventIDs to the output sink,
which does not send them again.

The eventIDs are kept until every insight sent before the restart has come round, which takes two
things: the engine reflects the inputs' end offsets at the restart (the killed daemon read no further),
and it has closed the latest minute that decided a recalled insight (its header, see
:mod:`consumers.sinks.output_topic`), plus :data:`RECOMPUTE_MARGIN_MINUTES`. Reading the input again
is not enough: a minute closes when its slowest partition delivers or goes idle, and an idle partition
waits ``partition_idle_s`` of wall time, so with partitions hours apart the restarted daemon closes the
killed one's last minutes well after it has read their records. The margin is for minutes the killed
daemon closed on an idle partition before some of their records came: the restarted daemon, having
them, may decide the same insight a few minutes later. Until the eventIDs are dropped,
``outputs_since`` stays where it was, since those sends may still come round after another crash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from consumers.kafka.protocol import Consumer, TopicPartitionKey
from consumers.runtime.logs import JsonLog
from consumers.sinks.output_topic import OutputTopicSink

CLOCK_SLACK_S = 60.0
RECOMPUTE_MARGIN_MINUTES = 15


class Recall:
    """The recalled eventIDs' lifetime, and the ``outputs_since`` each checkpoint persists."""

    def __init__(self, output: OutputTopicSink, log: JsonLog, outputs_since: float) -> None:
        self.output = output
        self.log = log
        self.outputs_since = outputs_since
        self.replay_ends: dict[TopicPartitionKey, int] = {}
        # The engine must close this minute before the recalled eventIDs are dropped (None: no wait).
        self.close_through: int | None = None

    def start(
        self,
        consumer: Consumer,
        offsets: Mapping[TopicPartitionKey, int],
        closed_through: int | None,
        topics: Sequence[str],
        pattern: str | None,
    ) -> None:
        """After a restore from ``offsets``: read what was sent since the state, note how far to replay."""
        since = self.outputs_since - CLOCK_SLACK_S
        decided = self.output.recall(consumer.read_since(self.output.topic, since))
        self.close_through = None if decided is None else decided + RECOMPUTE_MARGIN_MINUTES
        ends = consumer.end_offsets(topics, pattern)
        self.replay_ends = {tp: o for tp, o in ends.items() if o > offsets.get(tp, 0)}
        self.log.info(
            "outputs_recalled",
            since=since,
            event_ids=len(self.output.recalled),
            replay_ends=len(self.replay_ends),
            close_through=self.close_through,
        )
        self.progress(offsets, closed_through)

    @property
    def active(self) -> bool:
        """Whether sends before the restart may still come round (and :meth:`progress` has work to do)."""
        return bool(self.replay_ends or self.output.recalled)

    def progress(self, offsets: Mapping[TopicPartitionKey, int], closed_through: int | None) -> None:
        """The engine now reflects ``offsets`` and has closed ``closed_through``: once past the ends of
        the restart and the minutes that decided what was recalled, forget the eventIDs."""
        if self.replay_ends and all(offsets.get(tp, 0) >= o for tp, o in self.replay_ends.items()):
            self.replay_ends = {}
        if self.replay_ends or not self.output.recalled:
            return
        if self.close_through is not None and (closed_through is None or closed_through < self.close_through):
            return
        self.close_through = None
        self.log.info("replay_done", not_recomputed=self.output.forget_recalled())

    def since_for_checkpoint(self, now: float) -> float:
        """The ``outputs_since`` of a state persisted at ``now``: ``now``, unless sends before the
        restart may still come round."""
        if not self.active:
            self.outputs_since = now
        return self.outputs_since
