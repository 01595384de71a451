"""The engine's detector on one count series of any interval (``trailpulse score-series``).

A series is the one key of a :class:`~insights.track.Track` whose "minute" is the series' own bucket.
The bucket is the median step of the first steps seen; warm-up is 36 hours. The seasonal ring
compares a row with the same time of day on the 7 days before (``season_days=1``) or with the same
time of the week on the four weeks before (``season_days=7``), in blocks of at least
:data:`MIN_BLOCK` buckets, up to 24 a day: the dispersion is the variance within blocks, the busiest
bucket left out, so blocks of two 30-minute buckets left it unmeasured and over-dispersed series
were judged as Poisson (an ordinary busy half hour had the surprise of a rare one).

Unlike the CloudTrail defaults, the windowed evidence (:mod:`insights.evidence`) is on
(:func:`series_params`): a sustained rise or drop is found from its sum over any number of rows, and
the drop it weighs is to 40 % of the reference (a holiday, a partial outage), not 10 %. A burst of one
row adds at most a third of the threshold to the sum (:data:`SERIES_MINUTE_SHARE`), so heavy-tailed
bursts are left to the single-row spike rule, which judges them against the busiest row of the last day.

Each row's ``score`` ranks it by its evidence, inside an insight or not (:mod:`insights.series_score`):
0.5 where the evidence reaches a threshold. Until the step is known (the first ``STEP_SAMPLES``
steps) rows are warm-up and their baseline is the plain running mean, so every output row depends
only on the rows up to it.

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
from typing import Any

import numpy as np

from insights.config import DetectorParams, EngineConfig
from insights.keys import StringTable
from insights.series_score import SeriesEvidence
from insights.track import Track

STEP_SAMPLES = 10
SERIES_KEY = ("Series", "series", "series", "series", "series")
WINDOW_SECONDS = 7 * 86400
WARMUP_SECONDS = 36 * 3600
SEASONS = 4
#: Fewest buckets in a block of the ring: the dispersion is the variance within blocks.
MIN_BLOCK = 4
#: The windowed evidence's threshold and drop for series (see :func:`series_params`).
SERIES_EVIDENCE_SURPRISE = 4.0
SERIES_DROP_RATIO = 0.4
#: A single-row spike exceeds the busiest row of the last day by this factor (heavy-tailed bursts).
SERIES_PEAK_MARGIN = 3.0
#: The most of the threshold one row adds (``evidence_minute_share``; CloudTrail's is half). A
#: series' bursts (a mention storm of one to three rows) are heavy-tailed: at half, the social
#: series of ``bench/series_quality.py`` had 0.43 false insights a day instead of 0.29.
SERIES_MINUTE_SHARE = 1 / 3


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """The output of one row: the baseline before it, its score in [0, 1], inside an insight?, and
    the side of the evidence its score weighs (1 up, -1 down, 0 none)."""

    baseline: float
    score: float
    insight: bool
    direction: int = 0


def series_params(evidence_surprise: float | None = None, **changes: Any) -> DetectorParams:
    """The detector's parameters for series: the windowed evidence on at ``evidence_surprise``
    (default :data:`SERIES_EVIDENCE_SURPRISE`; 0 switches it off), weighing drops to
    :data:`SERIES_DROP_RATIO` of the reference, and single-row spikes beyond
    :data:`SERIES_PEAK_MARGIN` times the busiest row of the last day; ``changes`` replace any other
    parameter. The choices and their figures: ``bench/series_quality.py``."""
    surprise = SERIES_EVIDENCE_SURPRISE if evidence_surprise is None else evidence_surprise
    chosen = {
        "evidence_surprise": surprise,
        "evidence_drop_ratio": SERIES_DROP_RATIO,
        "peak_margin": SERIES_PEAK_MARGIN,
        "evidence_minute_share": SERIES_MINUTE_SHARE,
    }
    return DetectorParams(**{**chosen, **changes})


def layout_for(step_seconds: float, season_days: int = 1) -> EngineConfig:
    """Engine settings in buckets of ``step_seconds``: a ring "day" of ``season_days`` days, with up
    to 24 blocks a day of at least :data:`MIN_BLOCK` buckets (hours for 1- and 5-minute buckets, two
    hours for 30-minute ones), a window of 7 days or four seasons, whichever is longer, and a 36 h
    warm-up."""
    per_day = max(round(86400 / step_seconds), 1)
    blocks = next((b for b in range(24, 0, -1) if per_day % b == 0 and per_day // b >= MIN_BLOCK), 1)
    blocks_per_day = blocks * season_days
    block = max(per_day // blocks, 1)
    window_seconds = max(WINDOW_SECONDS, SEASONS * season_days * 86400)
    window = max(round(window_seconds / step_seconds), 2)
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

    def __init__(self, params: DetectorParams | None = None, season_days: int = 1) -> None:
        self.params = params or series_params()
        self.season_days = season_days
        # With the windowed evidence off, the score still weighs it, on the scale it has for series.
        self.evidence = SeriesEvidence(self.params, self.params.evidence_surprise or SERIES_EVIDENCE_SURPRISE)
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
        config = layout_for(self.step, self.season_days)
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
        # The references the close judges this bucket on (one key, judged every bucket: nothing
        # owed to catch up first), the windowed evidence's included whether or not it is on.
        refs = track.baseline.references(slice(0, 1), evidence=True)
        counts = np.array([value])
        empty = np.zeros(0, np.int64)
        closed = track.close(self.bucket, counts, empty, empty.reshape(0, 3), every_key=True)
        self.bucket += 1
        view = closed.view
        assert view is not None and refs.seasoned is not None
        score, side = self.evidence.score(value, refs, bool(view.eligible[0] and refs.seasoned[0]))
        return SeriesPoint(baseline, score, track.lifecycle.direction(0) != 0, side)
