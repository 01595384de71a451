"""The references a baseline's keys are judged against, refreshed once an hour for all keys at once
from the hourly ring of :mod:`insights.baseline` (sum, sum of squares, busiest minute, minutes
counted, per hour and key):

* seasonal references: the robust mean (busiest minute left out, so an hourly job does not inflate
  it) of the same hour of day, +/- one hour, on each earlier day of the window — the highest of all
  for judging rises; for judging drops, the median over days of each day's lowest of the three
  hours, so the ramp at the end of business hours and the quiet weekend are both normal;
* the windowed evidence's: the plain means of the same hour +/- two (the rising sum's) and pooled
  over those hours (the steep sum's), see :meth:`SeasonalReferences._plain_means`;
* the peak references: the busiest minute of the last 24 hours; and, for bursty keys (whose hourly
  busiest minute is well above what their other minutes predict, or holds most of their hours'
  repeat calls, like an hourly job), the mean of the hourly busiest minutes, so a burst that happens
  every hour (whatever minute it moves to) is normal;
* dispersion: how much more variable than Poisson the key is within an hour (busiest minute left
  out again), for the negative-binomial tails of :mod:`insights.detector`.

Apart from :mod:`insights.baseline`, which learns the minutes and keeps the ring, because this is
where the judgement of "normal" lives: the choice of days and hours, and why each.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from insights.alike_days import ALIKE_HOURS, alike
from insights.columns import Columns

if TYPE_CHECKING:
    from insights.baseline import RingLayout

F64 = npt.NDArray[np.float64]

MAX_DISPERSION = 50.0
#: Keys refreshed at a time (bounds the temporaries of an hour roll).
CHUNK = 8192
BURSTY = 1.5
EVIDENCE_HOURS = 2
RECENT_HOURS = 3
RECENT_CAP = 1.5
WEEK = 7  # days: the same weekday a week ago
#: Calls added to each day's count over the steep sum's hours: a Jeffreys prior for a Poisson rate.
#: A key seen twice in five hours could as well call at three times that rate; without it, its next
#: few calls in an afternoon it happened to be quiet on the day before are a "surprise" of 1e6.
STEEP_PRIOR_CALLS = 0.5


def _expected_peak(mean: npt.NDArray[np.floating], dispersion: npt.NDArray[np.floating]) -> F64:
    """Roughly the busiest of 60 minutes for a negative binomial with this mean and dispersion."""
    mean = np.asarray(mean, dtype=np.float64)
    return mean + 2.4 * np.sqrt(np.asarray(dispersion, dtype=np.float64) * mean) + 0.5


def _burst(
    maxima: F64, sums: npt.NDArray[np.floating], minutes: F64, dispersion: npt.NDArray[np.floating]
) -> F64:
    """The mean hourly busiest minute of each bursty key (a row of hours: its last day), 0 for others.

    A key is bursty when its hourly busiest minute is well above what its other minutes predict (a
    busy key's hourly job), or when most of its calls beyond each hour's first share that hour's
    busiest minute. The second tells a quiet job from a trickle where sizes cannot: a job failing
    with a code now and then (0, 1, 2 errors a run) has a busiest minute that is mostly its only
    call, no bigger than a trickle's, but its repeat calls all land in the job's minute, where a
    trickle's meet in one minute about once in sixty pairs. Its runs, not the near-zero mean of the
    minutes between them, are then what a spike is judged against.
    """
    counted = np.maximum((minutes > 0).sum(axis=1), 1)
    peak_mean = maxima.sum(axis=1) / counted
    rest = (sums - maxima).sum(axis=1) / np.maximum((minutes - 1).clip(0).sum(axis=1), 1)
    above = peak_mean > BURSTY * _expected_peak(rest, dispersion)
    repeats = (sums - 1.0).clip(0).sum(axis=1, dtype=np.float64)
    piled = (maxima - 1.0).clip(0).sum(axis=1)
    burst: F64 = np.where(above | (piled > repeats / 2), peak_mean, 0.0)
    return burst


def row_medians(values: F64) -> F64:
    """Each row's median over its values not NaN (NaN for a row of none): ``np.nanmedian(values,
    axis=1)``, without its per-row Python work (twenty times slower on thousands of keys)."""
    ordered = np.sort(values, axis=1)  # NaN last
    known = (~np.isnan(values)).sum(axis=1)
    last = max(values.shape[1] - 1, 0)
    low = np.take_along_axis(ordered, np.maximum((known - 1) // 2, 0)[:, None], axis=1)[:, 0]
    high = np.take_along_axis(ordered, np.minimum(known // 2, last)[:, None], axis=1)[:, 0]
    medians: F64 = np.where(known > 0, (low + high) / 2, np.nan)
    return medians


def _shrunk(hourly: F64, pooled: F64, minutes: F64, dispersion: npt.NDArray[np.floating]) -> F64:
    """Each day's hourly means (keys x days x hours) drawn towards that day's mean over the hours
    by as much as their differences are noise: a quiet key's hourly means differ by chance (at 0.3
    calls a minute an hour's mean is 0.3 +/- 0.07, and the highest of 35 is about 1.7 times the
    rate), a business day's ramp by its shape. The weight kept is an empirical-Bayes one: the
    variance between the day's hours beyond what counting noise explains, over their variance."""
    with warnings.catch_warnings():  # days with no hour learnt: NaN, as meant
        warnings.simplefilter("ignore", RuntimeWarning)
        noise = (
            pooled[:, :, None]
            * np.asarray(dispersion, dtype=np.float64)[:, None, None]
            / np.maximum(minutes, 1)
        )
        spread = np.nanmean(np.square(hourly - pooled[:, :, None]) - noise, axis=2)
        between = np.maximum(spread, 0.0)[:, :, None]
        kept = np.where(between > 0, between / (between + noise), 0.0)
    shrunk: F64 = pooled[:, :, None] + kept * (hourly - pooled[:, :, None])
    return shrunk


class SeasonalReferences:
    """Writes the reference columns (``ref_*``, ``dispersion``) of a baseline's keys from its ring."""

    def __init__(self, cols: Columns, layout: RingLayout) -> None:
        self.cols = cols
        self.layout = layout
        self.hours = layout.blocks

    def refresh(self, hour: int, rows: int) -> None:
        """Recompute the seasonal, peak and dispersion references used during ``hour``.

        Row by row, in blocks of :data:`CHUNK` keys: the seasonal grid gathers 21 ring entries a
        key, and a block bounds those temporaries (they would otherwise cost more at peak than the
        keys themselves).
        """
        for first in range(0, rows, CHUNK):
            self._refresh(hour, slice(first, min(first + CHUNK, rows)))

    def _refresh(self, hour: int, part: slice) -> None:
        c = self.cols
        per_day = self.layout.per_day
        # The rising reference looks one hour either side, the falling one two: an hour that ramps
        # down, moved an hour earlier by daylight saving, takes its quiet end into the hour before,
        # whose own mean (its busy start kept) would call that ramp a drop.
        slots, in_ring = self._same_hours(hour)
        near = slice(EVIDENCE_HOURS - 1, EVIDENCE_HOURS + 2)
        n = c["hour_n"][part][:, slots].astype(np.float64)
        total = c["hour_sum"][part][:, slots]
        peak = c["hour_max"][part][:, slots]
        usable = in_ring & (n >= max(self.layout.block // 2, 1))
        robust = np.where(usable, (total - peak) / np.maximum(n - 1, 1), np.nan)
        plain, pooled = self._plain_means(hour, part)
        has_day = ~np.all(np.isnan(robust), axis=2)
        has_near = ~np.all(np.isnan(robust[:, :, near]), axis=(1, 2))
        up = np.zeros(part.stop - part.start)
        down = np.zeros(part.stop - part.start)
        mean = np.zeros(part.stop - part.start)
        with np.errstate(all="ignore"):
            up[has_near] = np.nanmax(robust[has_near][:, :, near], axis=(1, 2))
            has_plain = ~np.all(np.isnan(plain), axis=1)
            mean[has_plain] = np.nanmax(plain[has_plain], axis=1)
            steep = np.zeros(part.stop - part.start)
            has_pooled = ~np.all(np.isnan(pooled), axis=1)
            steep[has_pooled] = np.nanmax(pooled[has_pooled], axis=1)
            day_low = np.full(has_day.shape, np.nan)
            day_low[has_day] = np.nanmin(robust[has_day], axis=1)
            down[has_near] = row_medians(day_low[has_near])
        c["ref_up"][part] = up
        level = self._recent_mean(hour, part)
        c["ref_mean"][part] = np.maximum(mean, np.minimum(level, RECENT_CAP * mean))
        c["ref_steep"][part] = np.maximum(steep, np.minimum(level, RECENT_CAP * steep))
        c["ref_down"][part] = np.minimum(down, up)
        recent = np.array([(hour - 1 - i) % self.hours for i in range(min(per_day, self.hours))])
        maxima = c["hour_max"][part][:, recent].astype(np.float64)
        minutes = c["hour_n"][part][:, recent].astype(np.float64)
        c["ref_peak"][part] = maxima.max(axis=1)
        c["ref_burst"][part] = _burst(maxima, c["hour_sum"][part][:, recent], minutes, c["dispersion"][part])
        mean = c["disp_sum"][part] / np.maximum(c["disp_n"][part], 1.0)
        var = c["disp_num"][part] / np.maximum(c["disp_den"][part], 1.0)
        ratio = np.where(mean > 1e-3, var / np.maximum(mean, 1e-9), 1.0)
        c["dispersion"][part] = np.clip(ratio, 1.0, MAX_DISPERSION)

    def _recent_mean(self, hour: int, part: slice) -> F64:
        """The plain mean of the last :data:`RECENT_HOURS` hours learnt (0 for keys with fewer than
        half of their minutes): the rise reference never falls below it.

        The seasonal means are days old: a key growing 10 % a day, or wobbling slowly with its
        workload, sits near 1.2 times them, where a CUSUM of "x1.5" has no drift to hold it down and
        crosses any threshold within hours. Hours in an insight are not learnt, and a rise shows in
        this mean only an hour after it began, a third of it, by when a clear one has been found;
        and it raises the reference by at most :data:`RECENT_CAP` times (a rare error code surging
        for hours would otherwise lift its own reference out of reach after the first hour).
        """
        recent = np.array([(hour - 1 - i) % self.hours for i in range(min(RECENT_HOURS, self.hours))])
        c = self.cols
        n = c["hour_n"][part][:, recent].sum(axis=1, dtype=np.float64)
        total = c["hour_sum"][part][:, recent].sum(axis=1, dtype=np.float64)
        enough = n >= len(recent) * self.layout.block / 2
        recent_mean: F64 = np.where(enough, total / np.maximum(n, 1), 0.0)
        return recent_mean

    def _same_hours(self, hour: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """The ring slots of the same hour of day +/- :data:`EVIDENCE_HOURS` on each earlier day
        (days x hours; the middle column is the hour itself), and which of them the ring still holds."""
        per_day = self.layout.per_day
        days = range(1, max(self.hours // per_day, 1) + 1)
        offsets = range(-EVIDENCE_HOURS, EVIDENCE_HOURS + 1)
        grid = np.array([[hour - per_day * day + offset for offset in offsets] for day in days])
        held: npt.NDArray[np.bool_] = (grid >= hour - self.hours) & (grid < hour)
        slots: npt.NDArray[np.int64] = np.where(held, grid, hour) % self.hours
        return slots, held

    def _plain_means(self, hour: int, part: slice) -> tuple[F64, F64]:
        """The plain hourly means the windowed evidence weighs rises against: the same hour of day
        +/- :data:`EVIDENCE_HOURS` on each earlier day (NaN where not learnt); and per day, the
        steep sum's: the mean over those hours taken together (:data:`STEEP_PRIOR_CALLS` more calls
        counted each day), or where higher the same hour's
        median over the days (a daily job's hour) or its mean a week ago (a weekly job's).

        The steep sum is for rare counts (a known error code, a seldom-called API), whose hourly
        means are mostly noise: for a code failing once in two hours the highest of 35 is three to
        five times its rate. Pooling five hours a day tames that, but dilutes a job that runs for
        an hour to a fifth: its hour is kept, by a median (one noisy hour does not lift it) and the
        week-ago day.

        Wider than the robust references' one hour: an hourly mean hides how the hour went, and a
        schedule that moves by an hour (daylight saving) brings the busy start of an hour that
        ramps down into the next one, well above that hour's mean for a quarter of an hour or more.
        Two hours either side reach the busy hour before the ramp.
        """
        days_by_hours, held = self._same_hours(hour)
        days, hours_a_day = days_by_hours.shape
        slots, in_ring = days_by_hours.ravel(), held.ravel()
        c = self.cols
        n = c["hour_n"][part][:, slots].astype(np.float64)
        usable = in_ring & (n >= max(self.layout.block // 2, 1))
        total = c["hour_sum"][part][:, slots]
        plain: F64 = np.where(usable, total / np.maximum(n, 1), np.nan)
        shape = (len(plain), days, hours_a_day)
        n_day = np.where(usable, n, 0.0).reshape(shape).sum(axis=2)
        sum_day = np.where(usable, total, 0.0).reshape(shape).sum(axis=2)
        pooled: F64 = np.where(n_day > 0, sum_day / np.maximum(n_day, 1), np.nan)
        shrunk = _shrunk(plain.reshape(shape), pooled, n.reshape(shape), c["dispersion"][part]).reshape(
            plain.shape
        )
        # The steep sum's days: those like today only (insights.alike_days).
        like_today = self._alike_days(hour, part, days)
        n_day, sum_day = np.where(like_today, n_day, 0.0), np.where(like_today, sum_day, 0.0)
        same_hour = np.where(like_today, plain.reshape(shape)[:, :, EVIDENCE_HOURS], np.nan)
        daily_job = row_medians(same_hour)
        if days >= WEEK:
            daily_job = np.fmax(daily_job, same_hour[:, WEEK - 1])
        steep = np.where(n_day > 0, (sum_day + STEEP_PRIOR_CALLS) / np.maximum(n_day, 1), np.nan)
        return shrunk, np.fmax(steep, daily_job[:, None])

    def _alike_days(self, hour: int, part: slice, days: int) -> npt.NDArray[np.bool_]:
        """Which of the ``days`` earlier days were like today (keys x days; see
        :mod:`insights.alike_days`), by the :data:`ALIKE_HOURS` hours before ``hour``."""
        per_day, c = self.layout.per_day, self.cols
        back = np.arange(1, ALIKE_HOURS + 1)
        grid = hour - per_day * np.arange(days + 1)[:, None] - back[None, :]
        held = grid >= hour - self.hours
        slots = np.where(held, grid, hour) % self.hours
        n = np.where(held, c["hour_n"][part][:, slots.ravel()].reshape(-1, *grid.shape), 0).astype(np.float64)
        total = np.where(held, c["hour_sum"][part][:, slots.ravel()].reshape(-1, *grid.shape), 0.0)
        sums, minutes = total.sum(axis=2, dtype=np.float64), n.sum(axis=2)
        phi = c["dispersion"][part].astype(np.float64)
        return alike(sums[:, 0], minutes[:, 0], sums[:, 1:], minutes[:, 1:], phi)
