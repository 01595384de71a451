"""The engine: decoded records in, Insight transitions out, driven by event time.

The steps, in the order a record meets them (one module each):
:mod:`~insights.classify` and :mod:`~insights.normalise` (CloudTrail semantics, the event-time clock),
:mod:`~insights.aggregate` (per-minute buffers), then for every key at once when a minute closes
(:mod:`~insights.track`): :mod:`~insights.baseline`, :mod:`~insights.detector` and
:mod:`~insights.start_rules` judged by :mod:`~insights.lifecycle`, :mod:`~insights.attribution`, and
the transitions that :mod:`~insights.events` turns into AWS records. Upward spikes may start before
their minute closes (:mod:`~insights.early`).

Event time is kept per source (:mod:`insights.clock`): a minute closes once every active source is
more than ``allowed_lateness_minutes`` past it. Feed batches with :meth:`Engine.process`, naming the
input they were read from when there are several (Kafka partitions); call :meth:`Engine.finish` at
the end of a bounded input to close the minutes still open. The same records give the same output
however they are batched and however the inputs interleave, as long as none arrives late.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import numpy.typing as npt

from insights import snapshot
from insights.aggregate import MinuteBuffers
from insights.classify import ColumnBatch, classify
from insights.clock import SourceClocks
from insights.config import EngineConfig
from insights.early import early_starts
from insights.keys import StringTable
from insights.normalise import Normaliser
from insights.record import CloudTrailRecord
from insights.track import ClosedMinute, Track
from insights.transition import InsightTransition

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


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
        self.minutes = MinuteBuffers()
        self.clocks = SourceClocks(self.config.allowed_lateness_minutes, self.config.source_idle_minutes)
        self.normaliser = Normaliser(
            self.track, self.strings, self.clocks, self.minutes, self.config.amend_late_records
        )
        self._strings_after_compaction = 0
        self._minute_cache: dict[str, int | None] = {}
        self._early_through: int | None = None  # the last open minute early Starts were judged up to
        # The last minute closed with keys tracked: what it judged, for reports (:mod:`insights.census`).
        self.last_close: ClosedMinute | None = None
        # Called after each minute closes with the minute, every slot's count and what the close
        # judged: how a picture or an explanation sees the series behind the decisions (it must not
        # change the engine; it sees the minute's view, not a copy).
        self.on_minute_closed: Callable[[int, F64, ClosedMinute], None] | None = None

    @property
    def closed_through(self) -> int | None:
        """The last closed minute (None before the first close)."""
        return self.minutes.closed_through

    def process(self, records: Iterable[CloudTrailRecord], input_id: str = "") -> list[InsightTransition]:
        """Ingest a batch read from ``input_id`` and close every minute all sources have passed."""
        return self.process_classified([self.classify(records)], input_id)

    def classify(self, records: Iterable[CloudTrailRecord], latest_minute: int | None = None) -> ColumnBatch:
        """Stage one of :meth:`process` (stateless; may run elsewhere, see ``replay --workers``).

        Records dated after ``latest_minute`` are skipped as ``future`` (see :func:`classify`)."""
        return classify(records, self.config.analyse_data_events, self._minute_cache, latest_minute)

    def process_classified(self, batches: list[ColumnBatch], input_id: str = "") -> list[InsightTransition]:
        """Stage two of :meth:`process`: ingest classified batches read from ``input_id``, in order,
        and close the minutes every source has passed."""
        observed = self.normaliser.normalise(batches, self.closed_through, input_id)
        if observed is not None:
            self._ingest(*observed)
        return self.advance()

    def advance(self) -> list[InsightTransition]:
        """Close the minutes every source has passed (also after the caller changed which inputs
        are waited for or idle), and announce early Starts."""
        frontier = self.clocks.frontier()
        out = [] if frontier is None else self._close_through(frontier)
        touched = self.minutes.take_touched()
        closed = self.closed_through
        if self.config.early_starts and closed is not None:
            latest = closed + self.config.allowed_lateness_minutes + 1
            # A minute is judged when its records arrive within reach of the closed minutes, or when
            # the closed minutes come within reach of it (a partition read hours ahead of the others):
            # judging it only on arrival would depend on whether records happened to arrive after.
            since = self._early_through
            touched.update(
                m for m in self.minutes.open_minutes() if (since is None or m > since) and m <= latest
            )
            self._early_through = latest if since is None else max(since, latest)
            out.extend(early_starts(self.track, self.minutes, touched, latest))
        return out

    def _ingest(self, minutes: I64, slots: I64, values: I64) -> None:
        """Buffer observations of tracked keys (all for open minutes) until their minute closes."""
        self.track.keys.touch(slots, minutes)
        self.minutes.add(minutes, slots, values)

    def finish(self) -> list[InsightTransition]:
        """Close all minutes up to the newest seen (end of a bounded input)."""
        newest = self.clocks.newest_overall()
        return [] if newest is None else self._close_through(newest)

    def snapshot(self) -> bytes:
        """All state, as bytes that :meth:`restore` turns back into an identical engine."""
        return snapshot.encode(
            {
                "strings": self.strings.values,
                "normaliser": self.normaliser.to_state(),
                "minutes": self.minutes.to_state(),
                "track": self.track.to_state(),
            }
        )

    @classmethod
    def restore(cls, data: bytes, config: EngineConfig | None = None) -> Engine:
        """An engine in the state :meth:`snapshot` saved; raises ``SnapshotError`` if unusable."""
        state = snapshot.decode(data)
        engine = cls(config)
        try:
            engine.strings.load_state(state["strings"])
            engine.normaliser.load_state(state["normaliser"])
            engine.minutes.load_state(state["minutes"])
            engine.track.load_state(state["track"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise snapshot.SnapshotError(f"snapshot does not match this engine: {exc!r}") from exc
        return engine

    def _close_through(self, last: int) -> list[InsightTransition]:
        """Close every minute up to ``last``, starting after the last closed one (or, on the very
        first close, at the earliest buffered minute)."""
        closed = self.minutes.closed_through
        if closed is None:
            first = self.minutes.earliest()
            if first is None or first > last:
                return []
        else:
            first = closed + 1
        out: list[InsightTransition] = []
        silent = self.clocks.silent_scopes()
        for minute in range(first, last + 1):
            rows = self.track.keys.high_water
            late = self.minutes.take_late(minute, rows)
            counts, slots, values = self.minutes.close(minute, rows)
            judged = self.track.close(minute, counts, slots, values, late, silent)
            out.extend(judged.transitions)
            if judged.view is not None:
                self.last_close = judged
            if self.on_minute_closed is not None:
                self.on_minute_closed(minute, counts, judged)
            self.normaliser.forget_minute(minute)
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
        track = self.track
        referenced = [track.attributions.referenced_values(track.keys.high_water)]
        mapping = strings.compact(np.concatenate(referenced + self.minutes.referenced_values()))
        track.attributions.remap(mapping, track.keys.high_water)
        self.minutes.remap_values(mapping)
        self._strings_after_compaction = len(strings)
