"""Rolling 7-day baselines of per-minute counts, for every key at once.

Storing 10080 raw minutes per key would cost ~40 KB a key; instead each key keeps one row of
hourly summaries (sum, sum of squares, busiest minute, minutes counted) in a ring covering the
window, plus the running hour. From those the module derives, once an hour and for all keys:

* the baseline average AWS reports (total calls / minutes counted, zero minutes included);
* seasonal references: the robust mean (busiest minute left out, so an hourly job does not inflate
  it) of the same hour of day, +/- one hour, on each earlier day of the window — the highest of all
  for judging rises; for judging drops, the median over days of each day's lowest of the three
  hours, so the ramp at the end of business hours and the quiet weekend are both normal;
* the peak references: the busiest minute of the last 24 hours; and, for bursty keys (whose hourly
  busiest minute is well above what their other minutes predict, or holds most of their hours'
  repeat calls, like an hourly job), the mean of the hourly busiest minutes, so a burst that happens
  every hour (whatever minute it moves to) is normal;
* dispersion: how much more variable than Poisson the key is within an hour (busiest minute left
  out again), for the negative-binomial tails of :mod:`insights.detector`.

A recent-level EWMA (half-life one hour) follows slow growth between hourly refreshes. Minutes
inside an open insight are not learnt: they are unusual by definition.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from insights import decay_kernel
from insights.alike_days import ALIKE_HOURS, alike
from insights.columns import Columns, Field
from insights.decay_kernel import decay
from insights.snapshot import pack_array, unpack_array

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

MAX_DISPERSION = 50.0
HOUR_SUMMARY = ("hour_sum", "hour_sumsq", "hour_max")
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


@dataclass(frozen=True, slots=True)
class References:
    """What a minute's counts are judged against, per key: the rising and falling references
    (seasonal, or the recent level when that is beyond them), the busiest recent minute, the mean
    hourly peak of bursty keys (0 for others) and the dispersion."""

    mu_up: F64
    mu_down: F64
    peak: F64
    burst: F64
    phi: F64
    # The windowed evidence's rising reference (:mod:`insights.evidence`): the highest plain mean of
    # the same hour (+/- two, see ``Baseline._plain_means``) on earlier days. Plain, because the
    # evidence weighs sums over many minutes, an hourly job's busiest minute included; not the recent
    # level, which follows a rise within the hour and takes away the evidence of one lasting hours.
    # Only keys with a day of history (``seasoned``; the track also asks a call-rate key for a day
    # of its own calls) have one: a new key's trickle is no rise. Drops are weighed against
    # ``mu_down``: the recent level follows a business day's ramp into a quiet weekend.
    evidence_up: F64 | None = None
    # The steep rising sum's reference: the highest over days of the plain mean of the same five
    # hours pooled, or a daily or weekly job's hour where higher; see ``Baseline._plain_means``.
    evidence_steep: F64 | None = None
    seasoned: npt.NDArray[np.bool_] | None = None


@dataclass(frozen=True)
class RingLayout:
    """How buckets group into ring blocks: for minute data a block is an hour, 24 to a day.

    ``score-series`` handles other intervals by choosing other numbers (e.g. 5-minute buckets:
    12 to a block); everything below says "hour" and "minute" for the common case.
    """

    blocks: int = 168
    block: int = 60
    per_day: int = 24

    @property
    def ewma_alpha(self) -> float:
        """Half-life of the recent level: one block."""
        return float(1.0 - 0.5 ** (1.0 / self.block))


def baseline_fields(layout: RingLayout) -> dict[str, Field]:
    """The per-key columns of a baseline."""
    ring = (layout.blocks,)
    return {
        "hour_sum": Field("float32", ring),
        "hour_sumsq": Field("float32", ring),
        "hour_max": Field("float32", ring),
        "hour_n": Field("uint8", ring),
        "cur_sum": Field("float64"),
        "cur_sumsq": Field("float64"),
        "cur_max": Field("float32"),
        "cur_n": Field("int32"),
        "tot_sum": Field("float64"),
        "tot_n": Field("int32"),
        "disp_num": Field("float64"),
        "disp_den": Field("float64"),
        "disp_sum": Field("float64"),
        "disp_n": Field("float64"),
        "ewma": Field("float32"),
        "ref_up": Field("float32"),
        "ref_mean": Field("float32"),
        "ref_steep": Field("float32"),
        "ref_down": Field("float32"),
        "ref_peak": Field("float32"),
        "ref_burst": Field("float32"),
        "dispersion": Field("float32", fill=1.0),
    }


def _dispersion_terms(
    total: npt.NDArray[np.floating], sumsq: npt.NDArray[np.floating], peak: npt.NDArray[np.floating], n: F64
) -> tuple[F64, F64, F64, F64]:
    """Within-hour variance terms with the busiest minute left out (robust to one burst an hour)."""
    rest_n = np.maximum(n - 1.0, 0.0)
    rest_sum = np.asarray(total, dtype=np.float64) - peak
    rest_sumsq = np.asarray(sumsq, dtype=np.float64) - np.square(np.asarray(peak, dtype=np.float64))
    valid = n >= 3
    ss = np.where(valid, rest_sumsq - np.square(rest_sum) / np.maximum(rest_n, 1.0), 0.0)
    return (
        np.maximum(ss, 0.0),
        np.where(valid, rest_n - 1.0, 0.0),
        np.where(valid, rest_sum, 0.0),
        np.where(valid, rest_n, 0.0),
    )


class Baseline:
    """Hourly-ring baselines of every key, in columns only this class writes.

    >>> b = Baseline(RingLayout())
    >>> b.cols.ensure(1)
    >>> for minute in range(120):
    ...     b.learn(np.array([0]), np.array([3.0]))
    ...     if minute % 60 == 59:
    ...         b.roll_hour(minute // 60 + 1, rows=1)
    >>> float(b.average(slice(0, 1))[0]), int(b.minutes(slice(0, 1))[0])
    (3.0, 120)
    """

    def __init__(self, layout: RingLayout) -> None:
        self.cols = Columns(baseline_fields(layout))
        self.layout = layout
        self.hours = layout.blocks
        self.alpha = layout.ewma_alpha
        decay_kernel.load()  # compiled (or loaded from the cache) here, not in the first close

    def learn(self, slots: I64, counts: F64) -> None:
        """Add one closed minute's ``counts`` for the keys ``slots`` (others keep their state)."""
        c = self.cols
        c["cur_sum"][slots] += counts
        c["cur_sumsq"][slots] += counts * counts
        c["cur_max"][slots] = np.maximum(c["cur_max"][slots], counts)
        c["cur_n"][slots] += 1
        ewma = c["ewma"]
        ewma[slots] += (self.alpha * (counts - ewma[slots])).astype(np.float32)

    def learn_zeros(self, slots: I64, owed: I64) -> None:
        """Learn ``owed`` zero minutes for each of ``slots``, as :meth:`learn` would one by one.

        Sums and the busiest minute do not move; the recent level decays step by step in float32
        exactly as :meth:`learn` does it (no closed form gives the same bits), in compiled code
        (:mod:`insights.decay_kernel`).
        """
        due = owed > 0
        slots, owed = slots[due], owed[due]
        c = self.cols
        c["cur_n"][slots] += owed.astype(np.int32)
        decay(c["ewma"], slots.astype(np.int64, copy=False), owed.astype(np.int64, copy=False), self.alpha)

    def roll_hour(self, new_hour: int, rows: int) -> None:
        """Close the running hour into the ring and refresh every reference for ``new_hour``."""
        c = self.cols
        slot = (new_hour - 1) % self.hours
        old_n = c["hour_n"][:rows, slot].astype(np.float64)
        old = _dispersion_terms(
            c["hour_sum"][:rows, slot], c["hour_sumsq"][:rows, slot], c["hour_max"][:rows, slot], old_n
        )
        cur_n = c["cur_n"][:rows].astype(np.float64)
        new = _dispersion_terms(c["cur_sum"][:rows], c["cur_sumsq"][:rows], c["cur_max"][:rows], cur_n)
        for name, before, after in zip(("disp_num", "disp_den", "disp_sum", "disp_n"), old, new, strict=True):
            c[name][:rows] += after - before
        c["tot_sum"][:rows] += c["cur_sum"][:rows] - c["hour_sum"][:rows, slot]
        c["tot_n"][:rows] += c["cur_n"][:rows] - old_n.astype(np.int32)
        c["hour_sum"][:rows, slot] = c["cur_sum"][:rows]
        c["hour_sumsq"][:rows, slot] = c["cur_sumsq"][:rows]
        c["hour_max"][:rows, slot] = c["cur_max"][:rows]
        c["hour_n"][:rows, slot] = c["cur_n"][:rows]
        for name in ("cur_sum", "cur_sumsq", "cur_max", "cur_n"):
            c[name][:rows] = 0
        self.refresh(new_hour, rows)

    def backfill(self, slot: int, first_minute: int, through_minute: int) -> None:
        """Count the closed minutes ``[first_minute, through_minute]`` as zeros for a new key.

        A key first seen after its account and region have been observed for a while has had zero
        calls all that time: that is its true baseline, and AWS counts zero minutes too.
        """
        if through_minute < first_minute:
            return
        c = self.cols
        block = self.layout.block
        current_hour = (through_minute + 1) // block
        c["cur_n"][slot] = through_minute + 1 - max(first_minute, current_hour * block)
        oldest_hour = max(first_minute // block, current_hour - self.hours)
        for hour in range(oldest_hour, current_hour):
            minutes = min(block, (hour + 1) * block - max(first_minute, hour * block))
            c["hour_n"][slot, hour % self.hours] = minutes
            # The dispersion terms an hour of zeros adds when learned (and takes back when it leaves
            # the ring): a key's state must not depend on when it was first seen.
            zero = np.zeros(1)
            terms = _dispersion_terms(zero, zero, zero, np.array([float(minutes)]))
            for name, term in zip(("disp_num", "disp_den", "disp_sum", "disp_n"), terms, strict=True):
                c[name][slot] += term[0]
        c["tot_n"][slot] = int(c["hour_n"][slot].sum())

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

    def references(
        self,
        index: slice | npt.NDArray[np.int64],
        evidence: bool = False,
        known: npt.NDArray[np.bool_] | None = None,
    ) -> References:
        """The references of the keys in ``index`` (a slice of slots, or slots); with ``evidence``,
        the windowed evidence's too (left out when no key weighs it: the close is a hot path), for
        keys with a day of baseline and, if ``known`` says so, known to the key space for a day (see
        ``KeySpace.known_for``)."""
        c = self.cols
        ewma = c["ewma"][index].astype(np.float64)
        evidence_up = evidence_steep = seasoned = None
        if evidence:
            evidence_up = c["ref_mean"][index].astype(np.float64)
            evidence_steep = c["ref_steep"][index].astype(np.float64)
            seasoned = self.minutes(index) >= self.layout.block * self.layout.per_day
            if known is not None:
                seasoned &= known
        return References(
            mu_up=np.maximum(ewma, c["ref_up"][index]),
            mu_down=np.minimum(ewma, c["ref_down"][index]),
            peak=np.maximum(c["ref_peak"][index], c["cur_max"][index]).astype(np.float64),
            burst=c["ref_burst"][index].astype(np.float64),
            phi=c["dispersion"][index].astype(np.float64),
            evidence_up=evidence_up,
            evidence_steep=evidence_steep,
            seasoned=seasoned,
        )

    def accept_level(self, slot: int, level: float) -> None:
        """Take ``level`` as the key's recent level (an insight too long to stay one is the new normal)."""
        self.cols["ewma"][slot] = level

    def average(self, index: slice | I64) -> F64:
        """The AWS baseline average of the keys in ``index``: calls per minute over the window,
        zero minutes included."""
        c = self.cols
        minutes = self.minutes(index)
        total = c["tot_sum"][index] + c["cur_sum"][index]
        return np.where(minutes > 0, total / np.maximum(minutes, 1), 0.0)

    def settled(self, slots: I64, minute: int, lateness: int) -> tuple[F64, I64]:
        """The baseline average and minutes (``baselineDuration``) of ``slots`` for an insight
        decided at ``minute``, over the ring's hours that are certainly learnt by then.

        An upward spike may start while its minute is open, anywhere from ``lateness + 1`` minutes
        after the last closed one to just after it, so the running hour and the hour before it may or
        may not be learnt when it goes out, depending on how far the other sources have come. The
        figures therefore cover the hours from the oldest still in the ring however far the closes
        got, through the last hour closed before ``minute - lateness``: the same records give the
        same figures whichever way they were read (only a record later than the lateness, amended
        into its hour afterwards, can still move them).
        """
        block, hours = self.layout.block, self.hours
        ring = np.arange(minute // block - hours, (minute - lateness) // block) % hours
        c = self.cols
        total = c["hour_sum"][slots][:, ring].sum(axis=1, dtype=np.float64)
        n: I64 = c["hour_n"][slots][:, ring].sum(axis=1, dtype=np.int64)
        return np.where(n > 0, total / np.maximum(n, 1), 0.0), n

    def minutes(self, index: slice | I64) -> npt.NDArray[np.int64]:
        """Minutes the baselines of the keys in ``index`` cover (``baselineDuration``)."""
        c = self.cols
        total: npt.NDArray[np.int64] = c["tot_n"][index].astype(np.int64) + c["cur_n"][index]
        return total

    def to_state(self, rows: int) -> dict[str, Any]:
        return {name: pack_array(a) for name, a in self.cols.to_state(rows).items()}

    def load_state(self, state: dict[str, Any], rows: int) -> None:
        later = frozenset({"ref_mean", "ref_steep"})
        self.cols.load_state({n: unpack_array(a) for n, a in state.items()}, rows, later)
        if "ref_mean" not in state:  # saved before the windowed evidence: the robust mean until the roll
            self.cols["ref_mean"][:rows] = self.cols["ref_up"][:rows]
        if "ref_steep" not in state:  # saved before the steep sum had its own: the rise's until the roll
            self.cols["ref_steep"][:rows] = self.cols["ref_mean"][:rows]

    def amend(self, slots: npt.NDArray[np.int64], minutes: npt.NDArray[np.int64], running_hour: int) -> int:
        """Add late records (a slot and minute each, minutes already learnt) to the call totals of
        their hours while those hours are in the baseline; returns how many were added.

        A record that arrives after its minute was judged cannot change that decision, but it is
        part of the API's normal volume: dropping it would bias the baseline low for exactly the
        sources that deliver late. Only totals are amended (the baseline average, the seasonal
        means): the minute's own count is not kept, so its square and the hour's busiest minute
        cannot be, and a record late for a minute still open is learnt the same way
        (:meth:`add_late`), so the result does not depend on when the minute closed.
        """
        block, hours = self.layout.block, self.hours
        hour_of = minutes // block
        inside = (hour_of <= running_hour) & (hour_of > running_hour - hours)
        if not inside.any():
            return 0
        pairs, added = np.unique(np.stack([slots[inside], hour_of[inside]]), axis=1, return_counts=True)
        c = self.cols
        for (slot, hour), k in zip(pairs.T.tolist(), added.astype(np.float64).tolist(), strict=True):
            if hour == running_hour:
                c["cur_sum"][slot] += k
                continue
            ring = hour % hours
            n = np.array([float(c["hour_n"][slot, ring])])
            total, sumsq, peak = (np.array([float(c[name][slot, ring])]) for name in HOUR_SUMMARY)
            old = _dispersion_terms(total, sumsq, peak, n)
            new = _dispersion_terms(total + k, sumsq, peak, n)
            for name, was, now in zip(("disp_num", "disp_den", "disp_sum", "disp_n"), old, new, strict=True):
                c[name][slot] += now[0] - was[0]
            c["hour_sum"][slot, ring] += k
            c["tot_sum"][slot] += k
        return int(added.sum())

    def add_late(self, slots: I64, late: F64) -> None:
        """``late`` records of the minute closing now for the keys ``slots``: into the running hour's
        total only, as :meth:`amend` does for minutes already learnt."""
        self.cols["cur_sum"][slots] += late
