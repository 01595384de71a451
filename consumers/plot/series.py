"""One API's per-minute series as the engine saw it, for ``trailpulse plot``.

The engine calls :meth:`SeriesRecorder.observe` after each minute it closes
(:attr:`~insights.engine.Engine.on_minute_closed`). The recorder keeps, for every key that matches
the user's filter, the minute's count and the references the detector judged it against: the
rising reference (what a rise is measured from: the seasonal level, or the recent level when that
is higher) and the falling one. A key is judged only in minutes it is active or watched; in other
minutes its references have not moved since, so the last ones carry forward. Insight windows come
from the transitions replay emits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from insights.engine import Engine
from insights.keys import ApiKey
from insights.track import ClosedMinute
from insights.transition import CALL_RATE, InsightTransition, insight_type_of

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class KeyFilter:
    """Which keys to record: ``None`` matches anything. An error code selects error-rate keys."""

    event_name: str
    event_source: str | None = None
    account: str | None = None
    region: str | None = None
    insight_type: str = CALL_RATE
    error_code: str | None = None

    def matches(self, key: ApiKey) -> bool:
        if insight_type_of(key) != self.insight_type or key[4] != self.event_name:
            return False
        wanted = (self.account, self.region, self.event_source)
        if any(w is not None and w != got for w, got in zip(wanted, key[1:4], strict=True)):
            return False
        return self.error_code is None or key[5] == self.error_code


@dataclass
class Window:
    """One insight of the key: its first unusual minute, the first minute after it (None if still
    open at the end), direction and the averages its Start reported."""

    start: int
    end: int | None
    direction: str
    baseline_average: float
    insight_average: float


@dataclass
class KeySeries:
    """Per closed minute since the key was first tracked: count and the two references."""

    key: ApiKey
    minutes: list[int] = field(default_factory=list)
    counts: list[float] = field(default_factory=list)
    rising: list[float] = field(default_factory=list)
    falling: list[float] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)

    def arrays(self, first: int, last: int) -> tuple[npt.NDArray[np.int64], F64, F64, F64]:
        """Minutes, counts, rising and falling references from ``first`` to ``last`` (inclusive)."""
        minutes = np.asarray(self.minutes, dtype=np.int64)
        keep = (minutes >= first) & (minutes <= last)
        return (
            minutes[keep],
            np.asarray(self.counts)[keep],
            np.asarray(self.rising)[keep],
            np.asarray(self.falling)[keep],
        )


class SeriesRecorder:
    """Records the series of the keys of ``engine`` that ``wanted`` matches (see module docstring)."""

    def __init__(self, engine: Engine, wanted: KeyFilter) -> None:
        self.engine = engine
        self.wanted = wanted
        self.series: dict[ApiKey, KeySeries] = {}
        self._table_size = -1
        self._slots: dict[ApiKey, int] = {}
        engine.on_minute_closed = self.observe

    def observe(self, minute: int, counts: F64, judged: ClosedMinute) -> None:
        table = self.engine.track.keys.table
        moved = any(table.keys[slot] != key for key, slot in self._slots.items())
        if len(table) != self._table_size or moved:  # keys were added or evicted: match again
            self._table_size = len(table)
            self._slots = {k: s for k, s in table.index.items() if self.wanted.matches(k)}
        view = judged.view
        for key, slot in self._slots.items():
            series = self.series.get(key)
            if series is None:
                series = self.series[key] = KeySeries(key)
            rising = series.rising[-1] if series.rising else np.nan
            falling = series.falling[-1] if series.falling else np.nan
            if view is not None:
                at = int(np.searchsorted(view.slots, slot))
                if at < len(view.slots) and view.slots[at] == slot:
                    rising, falling = float(view.refs.mu_up[at]), float(view.refs.mu_down[at])
            series.minutes.append(minute)
            series.counts.append(float(counts[slot]) if slot < len(counts) else 0.0)
            series.rising.append(rising)
            series.falling.append(falling)

    def add_transitions(self, transitions: Sequence[InsightTransition]) -> None:
        """Open and close the windows of the recorded keys' insights."""
        for t in transitions:
            key: ApiKey = (t.source_event_category, t.account_id, t.region, t.event_source, t.event_name)
            if t.error_code is not None:
                key = (*key, t.error_code)
            if not self.wanted.matches(key):
                continue
            series = self.series.setdefault(key, KeySeries(key))
            if t.state == "Start":
                series.windows.append(
                    Window(t.start_minute, None, t.direction, t.baseline_average, t.insight_average)
                )
            elif series.windows and series.windows[-1].end is None:
                series.windows[-1].end = t.event_minute
