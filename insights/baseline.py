"""Rolling 7-day baselines of per-minute counts, for every key at once.

Storing 10080 raw minutes per key would cost ~40 KB a key; instead each key keeps one row of
hourly summaries (sum, sum of squares, busiest minute, minutes counted) in a ring covering the
window, plus the running hour. From those it gives the baseline average AWS reports (total calls
/ minutes counted, zero minutes included) and, refreshed once an hour for all keys by
:mod:`insights.references`, the seasonal, peak and dispersion references a minute is judged against.

A recent-level EWMA (half-life one hour) follows slow growth between hourly refreshes. Minutes
inside an open insight are not learnt: they are unusual by definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from insights import decay_kernel
from insights.columns import Columns, Field
from insights.decay_kernel import decay
from insights.references import SeasonalReferences
from insights.snapshot import pack_array, unpack_array

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

HOUR_SUMMARY = ("hour_sum", "hour_sumsq", "hour_max")


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
    # the same hour (+/- two, see :mod:`insights.references`) on earlier days. Plain, because the
    # evidence weighs sums over many minutes, an hourly job's busiest minute included; not the recent
    # level, which follows a rise within the hour and takes away the evidence of one lasting hours.
    # Only keys with a day of history (``seasoned``; the track also asks a call-rate key for a day
    # of its own calls) have one: a new key's trickle is no rise. Drops are weighed against
    # ``mu_down``: the recent level follows a business day's ramp into a quiet weekend.
    evidence_up: F64 | None = None
    # The steep rising sum's reference: the highest over days of the plain mean of the same five
    # hours pooled, or a daily or weekly job's hour where higher; see :mod:`insights.references`.
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
    """Hourly-ring baselines of every key, in columns only this class writes (the references, ``ref_*``
    and ``dispersion``, through its :class:`~insights.references.SeasonalReferences`).

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
        self.seasonal = SeasonalReferences(self.cols, layout)
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
        """Recompute the seasonal, peak and dispersion references used during ``hour``
        (:mod:`insights.references`)."""
        self.seasonal.refresh(hour, rows)

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
