"""The engine: decoded records in, Insight transitions out, driven by event time.

It owns the event-time clock: a minute closes once the newest event time seen is more than
``allowed_lateness_minutes`` past it, and closing a minute scores every key of both insight types at once.
Upward spikes may start before their minute closes (:mod:`insights.early`).
Feed it batches with :meth:`Engine.process`; call :meth:`Engine.finish` at the end of a bounded
input to close the minutes still open. Same records in the same order give the same output.
"""

from __future__ import annotations

from collections.abc import Iterable

from insights import snapshot
from insights.classify import ColumnBatch, classify
from insights.config import EngineConfig
from insights.early import early_starts
from insights.keys import StringTable
from insights.normalise import Normaliser
from insights.record import CloudTrailRecord
from insights.track import Track
from insights.transition import InsightTransition


class Engine:
    """Classify, normalise and score behind one event-time clock.

    >>> engine = Engine()
    >>> engine.process([])
    []
    >>> engine.finish()
    []
    """

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self.strings = StringTable()
        self.track = Track(self.config, self.strings)
        self.normaliser = Normaliser(self.track, self.strings, self.config.allowed_lateness_minutes)
        self.closed_through: int | None = None
        self._strings_after_compaction = 0
        self._minute_cache: dict[str, int | None] = {}

    def process(self, records: Iterable[CloudTrailRecord]) -> list[InsightTransition]:
        """Ingest a batch and close every minute the watermark has passed."""
        return self.process_classified([self.classify(records)])

    def classify(self, records: Iterable[CloudTrailRecord], latest_minute: int | None = None) -> ColumnBatch:
        """Stage one of :meth:`process` (stateless; may run elsewhere, see ``replay --workers``).

        Records dated after ``latest_minute`` are skipped as ``future`` (see :func:`classify`)."""
        return classify(records, self.config.analyse_data_events, self._minute_cache, latest_minute)

    def process_classified(self, batches: list[ColumnBatch]) -> list[InsightTransition]:
        """Stage two of :meth:`process`: ingest classified batches, in order, and close passed minutes."""
        self.normaliser.normalise(batches, self.closed_through)
        newest = self.normaliser.max_minute
        if newest is None:
            return []
        out = self._close_through(newest - self.config.allowed_lateness_minutes - 1)
        if self.config.early_starts:
            out.extend(early_starts(self.track, self.closed_through, self.config.warmup_minutes))
        self.track.touched_minutes.clear()
        return out

    def finish(self) -> list[InsightTransition]:
        """Close all minutes up to the newest seen (end of a bounded input)."""
        newest = self.normaliser.max_minute
        return [] if newest is None else self._close_through(newest)

    def snapshot(self) -> bytes:
        """All state, as bytes that :meth:`restore` turns back into an identical engine."""
        return snapshot.encode(
            {
                "closed_through": self.closed_through,
                "strings": self.strings.values,
                "normaliser": self.normaliser.to_state(),
                "track": self.track.to_state(),
            }
        )

    @classmethod
    def restore(cls, data: bytes, config: EngineConfig | None = None) -> Engine:
        """An engine in the state :meth:`snapshot` saved; raises ``SnapshotError`` if unusable."""
        state = snapshot.decode(data)
        engine = cls(config)
        try:
            engine.closed_through = state["closed_through"]
            engine.strings.load_state(state["strings"])
            engine.normaliser.load_state(state["normaliser"])
            engine.track.load_state(state["track"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise snapshot.SnapshotError(f"snapshot does not match this engine: {exc!r}") from exc
        return engine

    def _close_through(self, last: int) -> list[InsightTransition]:
        if self.closed_through is None:
            first = self._earliest_buffered()
            if first is None or first > last:
                return []
            self.closed_through = first - 1
        out: list[InsightTransition] = []
        warmup = self.config.warmup_minutes
        for minute in range(self.closed_through + 1, last + 1):
            out.extend(self.track.close_minute(minute, warmup))
            self.normaliser.forget_minute(minute)
            self.closed_through = minute
        self._compact_strings()
        return out

    def _compact_strings(self) -> None:
        """Forget attribution values no state refers to any more, once the table is full.

        Compaction runs again only after a tenth of the capacity has been refilled, so a table
        full of values that are all still referenced is not compacted on every call.
        """
        strings = self.strings
        if (
            len(strings) < strings.capacity
            or len(strings) - self._strings_after_compaction < strings.capacity // 10
        ):
            return
        mapping = strings.compact(self.track.referenced_values())
        self.track.remap_values(mapping)
        self._strings_after_compaction = len(strings)

    def _earliest_buffered(self) -> int | None:
        return min(self.track.buffers) if self.track.buffers else None
