"""The plain baseline score-series is compared with: a negative binomial around a weekly profile.

For the buckets of week ``w`` it is fit on the (up to four) weeks before: the mean of each
(weekday, time of day) bucket over those weeks and its two neighbours, and one dispersion for the
series by the method of moments on the same weeks (``1/r = sum((x - m)^2 - m) / sum(m^2)``). A
bucket's score is ``-log10`` of its two-sided tail probability (twice the smaller tail, capped at
1); the windowed score adds the trailing sums over one and six hours, as a negative binomial with
the summed mean and variance, and keeps the largest of the three.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats

F64 = npt.NDArray[np.float64]
LN10 = float(np.log(10.0))
TRAILING_WEEKS = 4


def _two_sided(x: F64, mean: F64, var: F64) -> F64:
    """``-log10`` of the two-sided tail of ``x`` under a negative binomial with these moments."""
    mean = np.maximum(mean, 1e-3)
    var = np.maximum(var, mean * (1 + 1e-6))
    n, p = mean * mean / (var - mean), mean / var
    upper = stats.nbinom.logsf(x - 1, n, p)
    lower = stats.nbinom.logcdf(x, n, p)
    logp = np.minimum(np.minimum(upper, lower) + np.log(2.0), 0.0)
    return np.asarray(-logp / LN10, dtype=np.float64)


def weekly_fit(counts: F64, per_day: int) -> tuple[F64, F64]:
    """Per bucket from the second week on: the profile mean and NB variance fit on the weeks before
    (NaN in the first week, which has none)."""
    week = 7 * per_day
    mean = np.full(len(counts), np.nan)
    var = np.full(len(counts), np.nan)
    for w in range(1, -(-len(counts) // week)):
        lo = max(w - TRAILING_WEEKS, 0) * week
        past = counts[lo : w * week].reshape(-1, week)
        profile = past.mean(axis=0)
        profile = (np.roll(profile, 1) + profile + np.roll(profile, -1)) / 3
        fitted = np.tile(profile, len(past))
        shape_inv = max(float(((past.ravel() - fitted) ** 2 - fitted).sum() / (fitted**2).sum()), 1e-6)
        part = slice(w * week, min((w + 1) * week, len(counts)))
        m = profile[: part.stop - part.start]
        mean[part], var[part] = m, m + m * m * shape_inv
    return mean, var


def nb_scores(counts: F64, per_day: int) -> tuple[F64, F64]:
    """The single-bucket and the windowed score of every bucket (0 where no fit exists yet)."""
    mean, var = weekly_fit(counts, per_day)
    known = ~np.isnan(mean)
    single = np.zeros(len(counts))
    single[known] = _two_sided(counts[known], mean[known], var[known])
    windowed = single.copy()
    for hours in (1, 6):
        width = max(round(hours * per_day / 24), 1)
        if width == 1:
            continue
        kernel = np.ones(width)
        total = np.convolve(counts, kernel)[: len(counts)]
        m = np.convolve(np.where(known, mean, 0.0), kernel)[: len(counts)]
        v = np.convolve(np.where(known, var, 0.0), kernel)[: len(counts)]
        whole = np.convolve(known.astype(float), kernel)[: len(counts)] == width
        score = np.zeros(len(counts))
        score[whole] = _two_sided(total[whole], m[whole], v[whole])
        windowed = np.maximum(windowed, score)
    return single, windowed
