"""Count statistics: how surprising a count is for a key's reference rate.

Minute counts of API calls are over-dispersed Poisson: a negative binomial with mean ``mu`` and
variance ``phi * mu`` (``phi`` from :mod:`insights.references`) fits them, and reduces to Poisson when
``phi == 1``. Surprise is ``-log10`` of the tail probability, computed with scipy's log-survival
functions so that very small probabilities (1e-40) stay exact instead of rounding to zero, which a
z-score cannot do for small counts.

Detectors only score; :mod:`insights.lifecycle` decides when an insight starts and ends.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats

F64 = npt.NDArray[np.float64]
LN10 = float(np.log(10.0))
MIN_RATE = 1e-4
POISSON_DISPERSION = 1.0 + 1e-6


def _nb_params(mu: F64, phi: F64) -> tuple[F64, F64]:
    """scipy's (n, p) for a negative binomial with mean ``mu`` and variance ``phi * mu``."""
    return mu / (phi - 1.0), 1.0 / phi


def _surprise(count: F64, mu: F64, phi: F64, upper: bool) -> F64:
    """``-log10`` of the upper (``P(X >= count)``) or lower (``P(X <= count)``) tail."""
    count = np.asarray(count, dtype=np.float64)
    raw_mu = np.asarray(mu, dtype=np.float64)
    phi = np.asarray(phi, dtype=np.float64)
    out = np.zeros(count.shape)
    todo = count > raw_mu if upper else count < raw_mu
    if not todo.any():
        return out
    k = count[todo] - 1.0 if upper else count[todo]
    m, d = np.maximum(raw_mu[todo], MIN_RATE), phi[todo]
    poisson = d <= POISSON_DISPERSION
    n, p = _nb_params(m[~poisson], d[~poisson])
    logp = np.empty(k.shape)
    if upper:
        logp[poisson] = stats.poisson.logsf(k[poisson], m[poisson])
        logp[~poisson] = stats.nbinom.logsf(k[~poisson], n, p)
    else:
        logp[poisson] = stats.poisson.logcdf(k[poisson], m[poisson])
        logp[~poisson] = stats.nbinom.logcdf(k[~poisson], n, p)
    out[todo] = np.maximum(-logp / LN10, 0.0)
    return out


def upper_surprise(count: F64, mu: F64, phi: F64) -> F64:
    """``-log10 P(X >= count)``; zero where ``count`` is not above ``mu``.

    >>> float(np.round(upper_surprise(np.array([10.0]), np.array([1.0]), np.array([1.0]))[0], 2))
    6.95
    """
    return _surprise(count, mu, phi, upper=True)


def lower_surprise(count: F64, mu: F64, phi: F64) -> F64:
    """``-log10 P(X <= count)``; zero where ``count`` is not below ``mu``.

    >>> float(np.round(lower_surprise(np.array([0.0]), np.array([20.0]), np.array([1.0]))[0], 2))
    8.69
    """
    return _surprise(count, mu, phi, upper=False)


def unit_score(surprise: F64, start_surprise: F64) -> F64:
    """Map surprise to [0, 1]: 0.5 at the start threshold, 1 at twice the threshold or more."""
    return np.clip(surprise / (2.0 * np.maximum(start_surprise, 1e-9)), 0.0, 1.0)
