"""The :class:`Sink` protocol (``add`` / ``flush`` / ``close``), the :class:`Insight` insight sinks take,
and :class:`Sinks`, every sink of one daemon.

The checkpoint (:mod:`consumers.runtime.checkpoint`) flushes every sink before it persists the state:
a sink that reports a failed flush keeps the state and the committed offsets where they were, so the
input is processed again after a crash and whatever that sink lost is produced again. A new sink
(an alert webhook, say) implements :class:`Sink` and is listed in :class:`Sinks`; nothing else
changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from insights.events import insight_event
from insights.transition import InsightTransition

if TYPE_CHECKING:
    from consumers.sinks.dead_letters import DeadLetter
    from consumers.sinks.metered import SinkFigures
    from consumers.sinks.output_topic import OutputTopicSink

Item = TypeVar("Item", contravariant=True)


class Sink(Protocol[Item]):
    """Somewhere output goes, acknowledged in batches."""

    @property
    def name(self) -> str:
        """What the sink writes to, for logs and error messages."""
        ...

    def add(self, item: Item) -> None:
        """Hand over one item; it may be sent at once or buffered until :meth:`flush`."""
        ...

    def flush(self, timeout_s: float) -> bool:
        """Whether everything added so far is acknowledged after waiting up to ``timeout_s``.

        ``False`` while the destination is away (the items stay pending; a later flush waits for them
        again); an exception once an item is lost for good."""
        ...

    def close(self) -> None:
        """Release what the sink holds; it is not used afterwards."""
        ...


@dataclass(frozen=True, slots=True)
class Insight:
    """One Start or End as insight sinks receive it: the transition and its AWS record, built once."""

    transition: InsightTransition
    record: dict[str, object]

    @classmethod
    def of(cls, transition: InsightTransition, reason: bool = False) -> Insight:
        """``transition`` and its record; with ``reason``, a Start's record says why it started
        (``[run] reason_field``, :func:`~insights.events.insight_event`)."""
        return cls(transition, insight_event(transition, reason))

    @property
    def event_id(self) -> str:
        return str(self.record["eventID"])

    @property
    def shared_event_id(self) -> str:
        return str(self.record["sharedEventID"])


class AlertOutbox(Sink[Insight], Protocol):
    """An alert sink (:class:`consumers.alerts.sink.AlertSink`): it counts its own deliveries, and
    what it has not delivered at a checkpoint is persisted with the state (its outbox) and handed
    back after a restart, so a slow endpoint never holds a checkpoint up."""

    @property
    def label(self) -> str:
        """Its name in the metrics and in the persisted outbox."""
        ...

    def snapshot(self) -> tuple[list[Insight], list[Insight]]:
        """(queued, active) Insights, as they are now."""
        ...

    def restore(self, queued: list[Insight], active: list[Insight]) -> None:
        """Take back what :meth:`snapshot` gave, ahead of anything added since."""
        ...

    def figures(self) -> SinkFigures: ...


@dataclass(frozen=True)
class Sinks:
    """Every sink of one daemon.

    ``output`` gets every Insight event; after a restart it also knows which of them are already on
    its topic (see :mod:`consumers.runtime.recall`). ``alerts`` get every Insight event too (alert
    webhooks go here). ``dead_letters``, if configured, gets the rejected input.
    """

    output: OutputTopicSink
    dead_letters: Sink[DeadLetter] | None = None
    alerts: Sequence[AlertOutbox] = ()

    def all(self) -> list[Sink[Any]]:
        """Every sink, in the order a checkpoint flushes them (dead letters last: alert sinks hand
        theirs over when flushed)."""
        dead_letters = [] if self.dead_letters is None else [self.dead_letters]
        return [self.output, *self.alerts, *dead_letters]
