"""Nothing twice after a restart: what the output topic already holds, and until when it matters.

Insights sent after the last checkpoint are computed again when a restarted daemon processes those
records again. So the state records ``outputs_since``, the wall time from which the output topic may
hold insights the state does not reflect. On restore, :meth:`Recall.start` reads the output topic from
there (less :data:`CLOCK_SLACK_S` for clocks that disagree) and hands the eventIDs to the output sink,
which does not send them again. It also notes the inputs' end offsets at the restart: once the engine
reflects them, every insight sent before the restart has come round, and the eventIDs are dropped.
Until then ``outputs_since`` stays where it was, since older sends may still come round after
another crash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from consumers.kafka.protocol import Consumer, TopicPartitionKey
from consumers.runtime.logs import JsonLog
from consumers.sinks.output_topic import OutputTopicSink

CLOCK_SLACK_S = 60.0


class Recall:
    """The recalled eventIDs' lifetime, and the ``outputs_since`` each checkpoint persists."""

    def __init__(self, output: OutputTopicSink, log: JsonLog, outputs_since: float) -> None:
        self.output = output
        self.log = log
        self.outputs_since = outputs_since
        self.replay_ends: dict[TopicPartitionKey, int] = {}

    def start(
        self,
        consumer: Consumer,
        offsets: Mapping[TopicPartitionKey, int],
        topics: Sequence[str],
        pattern: str | None,
    ) -> None:
        """After a restore from ``offsets``: read what was sent since the state, note how far to replay."""
        since = self.outputs_since - CLOCK_SLACK_S
        recalled = self.output.recall(consumer.read_since(self.output.topic, since))
        ends = consumer.end_offsets(topics, pattern)
        self.replay_ends = {tp: o for tp, o in ends.items() if o > offsets.get(tp, 0)}
        self.log.info("outputs_recalled", since=since, event_ids=recalled, replay_ends=len(self.replay_ends))
        self.progress(offsets)

    @property
    def active(self) -> bool:
        """Whether the restart's replay is still going on (and :meth:`progress` has work to do)."""
        return bool(self.replay_ends or self.output.recalled)

    def progress(self, offsets: Mapping[TopicPartitionKey, int]) -> None:
        """The engine now reflects ``offsets``: once past the ends of the restart, forget the eventIDs."""
        if self.replay_ends and all(offsets.get(tp, 0) >= o for tp, o in self.replay_ends.items()):
            self.replay_ends = {}
        if not self.replay_ends and self.output.recalled:
            self.log.info("replay_done", not_recomputed=self.output.forget_recalled())

    def since_for_checkpoint(self, now: float) -> float:
        """The ``outputs_since`` of a state persisted at ``now``: ``now``, unless still replaying."""
        if not self.replay_ends:
            self.outputs_since = now
        return self.outputs_since
