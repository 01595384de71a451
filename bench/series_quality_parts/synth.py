"""Labelled count series of three kinds, generated without the engine's assumptions.

Counts are gamma-Poisson (negative binomial) around a daily and weekly profile, which is what public
count series look like after the fact; nothing below knows the engine's hourly ring, its dispersion
estimate or its thresholds. Anomalies are labelled windows of buckets ``[start, end)``; they are placed
from day ``EVAL_DAY`` on, so every scorer has two weeks of history before the first.

* ``social``: mention volume per 5 minutes, strongly daily, with heavy-tailed bursts (Pareto sizes,
  1-3 buckets, a few a day) that are part of normal life and **not** labelled; labelled sustained
  rises (x1.5-3, 1-6 h) and drops (to 20-50 %, 1-6 h).
* ``taxi``: demand per 30 minutes with commute peaks on weekdays and a softer weekend; labelled
  holidays (a whole day at 30-60 %).
* ``web``: requests per 5 minutes, busier in business hours; labelled rises (x1.5-3) and outages (to
  0-10 %), 30 minutes to 6 hours each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
EVAL_DAY = 14


@dataclass(frozen=True)
class Labelled:
    """One series: its step, counts, and labelled anomaly windows (bucket ranges, end exclusive)."""

    kind: str
    step_minutes: int
    counts: F64
    labels: list[tuple[int, int, str]]

    @property
    def per_day(self) -> int:
        return 1440 // self.step_minutes


def _profile(per_day: int, days: int, shape: F64, weekend: F64) -> F64:
    """Mean multipliers per bucket: ``shape`` on weekdays, ``weekend`` on Saturdays and Sundays."""
    days_of_week = np.arange(days) % 7  # day 0 is a Monday
    rows = [weekend if d >= 5 else shape for d in days_of_week]
    return np.concatenate(rows)


def _bump(hours: F64, at: float, width: float) -> F64:
    distance = np.minimum(np.abs(hours - at), 24 - np.abs(hours - at))
    return np.asarray(np.exp(-0.5 * (distance / width) ** 2), dtype=np.float64)


def _nb(rng: np.random.Generator, mean: F64, size: float) -> F64:
    """Negative binomial counts with these means and shape ``size`` (variance ``m + m^2 / size``)."""
    return rng.poisson(rng.gamma(size, mean / size)).astype(np.float64)


def _place(rng: np.random.Generator, per_day: int, days: int, count: int, longest: int) -> list[int]:
    """``count`` start buckets after ``EVAL_DAY``, apart by more than ``longest`` plus a day."""
    starts: list[int] = []
    first, last = EVAL_DAY * per_day, days * per_day - longest - 1
    while len(starts) < count:
        at = int(rng.integers(first, last))
        if all(abs(at - s) > longest + per_day for s in starts):
            starts.append(at)
    return sorted(starts)


def social(rng: np.random.Generator, days: int = 28) -> Labelled:
    per_day = 288
    hours = np.arange(per_day) * 24 / per_day
    shape = 0.25 + _bump(hours, 13, 3.5) + 1.2 * _bump(hours, 21, 2.0)
    mean = rng.uniform(3, 30) * _profile(per_day, days, shape, 0.9 * shape)
    bursts = rng.poisson(3 * days)
    for at in rng.integers(0, days * per_day - 3, bursts):
        size = mean[at] * (rng.pareto(1.3) + 1) * rng.uniform(1, 4)
        for k in range(int(rng.integers(1, 4))):
            mean[at + k] += size * 0.5**k
    labels, mean = _anomalies(rng, mean, per_day, days, (12, 72), ("rise", "drop"))
    return Labelled("social", 5, _nb(rng, mean, rng.uniform(3, 10)), labels)


def taxi(rng: np.random.Generator, days: int = 56) -> Labelled:
    per_day = 48
    hours = np.arange(per_day) * 24 / per_day
    weekday = 0.15 + 1.3 * _bump(hours, 8.5, 1.5) + 1.6 * _bump(hours, 18.5, 2.0) + 0.6 * _bump(hours, 13, 3)
    weekend = 0.3 + 0.9 * _bump(hours, 14, 4) + 0.8 * _bump(hours, 23.5, 2.5)
    mean = rng.uniform(30, 300) * _profile(per_day, days, weekday, weekend)
    labels = []
    for day in _place(rng, 1, days, 4, 1):
        lo, hi = day * per_day, (day + 1) * per_day
        mean[lo:hi] *= rng.uniform(0.3, 0.6)
        labels.append((lo, hi, "holiday"))
    return Labelled("taxi", 30, _nb(rng, mean, rng.uniform(20, 60)), labels)


def web(rng: np.random.Generator, days: int = 28) -> Labelled:
    per_day = 288
    hours = np.arange(per_day) * 24 / per_day
    office = 0.3 + 1.7 * np.clip((hours - 7.5) / 2, 0, 1) * np.clip((19 - hours) / 2, 0, 1)
    mean = rng.uniform(10, 200) * _profile(per_day, days, office, np.full(per_day, 0.45))
    labels, mean = _anomalies(rng, mean, per_day, days, (6, 72), ("rise", "outage"))
    return Labelled("web", 5, _nb(rng, mean, rng.uniform(10, 40)), labels)


def _anomalies(
    rng: np.random.Generator,
    mean: F64,
    per_day: int,
    days: int,
    lengths: tuple[int, int],
    kinds: tuple[str, str],
) -> tuple[list[tuple[int, int, str]], F64]:
    """About one labelled window every two evaluated days, alternating a rise and ``kinds[1]``."""
    mean = mean.copy()
    labels = []
    count = max((days - EVAL_DAY) // 2, 1)
    for i, at in enumerate(_place(rng, per_day, days, count, lengths[1])):
        length = int(rng.integers(lengths[0], lengths[1] + 1))
        kind = kinds[i % 2]
        if kind == "rise":
            factor = rng.uniform(1.5, 3.0)
        elif kind == "drop":
            factor = rng.uniform(0.2, 0.5)
        else:
            factor = rng.uniform(0.0, 0.1)
        mean[at : at + length] *= factor
        labels.append((at, at + length, kind))
    return labels, mean


KINDS = {"social": social, "taxi": taxi, "web": web}
