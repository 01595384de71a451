"""The engine's detector on one count series of any interval (``trailpulse score-series``).

A series is the one key of a :class:`~insights.track.Track` whose "minute" is the series' own bucket.
The bucket is the median step of the first steps seen; the baseline still spans 7 days, warm-up
36 hours, and the seasonal ring keeps 24 blocks a day when the interval divides a day into a
multiple of 24 buckets (otherwise one block a day). Until the step is known (the first
``STEP_SAMPLES`` steps) rows are warm-up and their baseline is the plain running mean, so every
output row depends only on the rows up to it.

>>> from datetime import datetime, timedelta, UTC
>>> scorer = SeriesScorer()
>>> t0 = datetime(2026, 1, 5, tzinfo=UTC)
>>> points = [scorer.score(t0 + timedelta(minutes=i), 10.0) for i in range(3000)]
>>> spike = scorer.score(t0 + timedelta(minutes=3000), 200.0)
>>> points[-1].insight, spike.insight, spike.score > 0.5
(False, True, True)
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from insights.config import DetectorParams, EngineConfig
from insights.detector import lower_surprise, unit_score, upper_surprise
from insights.keys import StringTable
from insights.lifecycle import UP
from insights.track import Track

STEP_SAMPLES = 10
SERIES_KEY = ("Series", "series", "series", "series", "series")
WINDOW_SECONDS = 7 * 86400
WARMUP_SECONDS = 36 * 3600


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """The output of one row: the baseline before it, its score in [0, 1], inside an insight?"""

    baseline: float
    score: float
    insight: bool


def layout_for(step_seconds: float) -> EngineConfig:
    """Engine settings in buckets of ``step_seconds`` (7-day window, 36 h warm-up)."""
    per_day = max(round(86400 / step_seconds), 1)
    blocks_per_day = 24 if per_day % 24 == 0 else 1
    block = max(per_day // blocks_per_day, 1)
    window = max(round(WINDOW_SECONDS / step_seconds), 2)
    return EngineConfig(
        window_minutes=window,
        warmup_minutes=max(round(WARMUP_SECONDS / step_seconds), 1),
        block_minutes=block,
        blocks_per_day=blocks_per_day,
        max_keys=1,
        idle_evict_minutes=window * 1000,
    )


class SeriesScorer:
    """Streams (timestamp, value) rows through one track; one :class:`SeriesPoint` per row."""

    def __init__(self, params: DetectorParams | None = None) -> None:
        self.params = params or DetectorParams()
        self.times: list[datetime] = []
        self.pending: list[float] = []
        self.track: Track | None = None
        self.bucket = 0
        self.step = 0.0
        self.last_time: datetime | None = None
        self.total = 0.0
        self.rows = 0

    def score(self, when: datetime, value: float) -> SeriesPoint:
        """Score one row; timestamps must increase."""
        if self.last_time is not None and when <= self.last_time:
            raise ValueError(
                f"timestamps must increase: {when.isoformat()} after {self.last_time.isoformat()}"
            )
        value = max(float(value), 0.0)
        if self.track is None:
            point = SeriesPoint(self.total / self.rows if self.rows else 0.0, 0.0, False)
            self.times.append(when)
            self.pending.append(value)
            if len(self.times) > STEP_SAMPLES:
                self._start()
        else:
            assert self.last_time is not None
            gap = max(round((when - self.last_time).total_seconds() / self.step), 1)
            for _ in range(gap - 1):
                self._close(0.0)
            point = self._close(value)
        self.last_time = when
        self.total += value
        self.rows += 1
        return point

    def _start(self) -> None:
        steps = [(b - a).total_seconds() for a, b in zip(self.times, self.times[1:], strict=False)]
        self.step = max(statistics.median(steps), 1e-3)
        config = layout_for(self.step)
        config = EngineConfig(**{**config.__dict__, "detector": self.params})
        self.track = Track(config, StringTable())
        self.track.slot_for(SERIES_KEY, 0, 0, None)
        for previous, (a, b) in zip(
            self.pending, zip(self.times, [*self.times[1:], None], strict=True), strict=True
        ):
            self._close(previous)
            if b is not None:
                for _ in range(max(round((b - a).total_seconds() / self.step), 1) - 1):
                    self._close(0.0)

    def _close(self, value: float) -> SeriesPoint:
        track = self.track
        assert track is not None
        baseline = float(track.baseline.average(slice(0, 1))[0])
        counts = np.array([value])
        empty = np.zeros(0, np.int64)
        closed = track.close(self.bucket, counts, empty, empty.reshape(0, 3), every_key=True)
        self.bucket += 1
        view, decided = closed.view, closed.decisions
        assert view is not None and decided is not None
        direction = track.lifecycle.direction(0)
        surprise = float(decided.surprise[0])
        if direction:
            tail = upper_surprise if direction == UP else lower_surprise
            mu = view.refs.mu_up if direction == UP else view.refs.mu_down
            surprise = max(surprise, float(tail(counts, mu, view.refs.phi)[0]))
        score = float(unit_score(np.array([surprise]), view.params["start_surprise"])[0])
        return SeriesPoint(baseline, score, direction != 0)
