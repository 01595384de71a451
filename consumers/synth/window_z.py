"""How unusual an anomaly is under the generator's own (true) model: its window z and tier.

The generator draws each API's calls per minute from its expected rate ``lam``: plain Poisson, or
Poisson with a gamma(``dispersion``) multiplier per minute (busy and medium APIs), or, for bursty
sparse APIs, bursts of 1-3 calls (``events ~ Poisson(lam / 1.5)``, each adding Bernoulli(0.35) and
Bernoulli(0.15) calls). A background error code takes a binomial share of the calls plus a steady
Poisson stream. Minutes are independent given ``lam``, so the variance of a window's count is the sum
of the per-minute variances.

An anomaly's window z is ``|expected count with it - expected count without| / sqrt(variance of the
count without it)`` over its window, for what its insight type counts (calls, or that code's
failures). A window where the count is almost surely zero (a new error code, a rare API) would give
an infinite z, so the variance is floored at one count: there z is the number of extra calls.
The tier says what a detector is held to: *clear* (z >= 8) must be found, *edge* (4-6) mostly.

>>> tier_of(9.0), tier_of(5.0), tier_of(7.0), tier_of(2.0)
('clear', 'edge', 'between', 'faint')
"""

from __future__ import annotations

import math

import numpy as np

from consumers.synth.api_roster import Api, ErrorSpec

BURST_MEAN = 1.5  # calls per burst: 1 + 0.35 + 0.15
BURST_SQUARE = 1.0 + 2 * (0.35 + 0.15) + 0.35 + 0.15 + 2 * 0.35 * 0.15  # E[calls per burst ** 2]
TIERS = {"clear": (8.0, 20.0), "edge": (4.0, 6.0)}  # ranges placement aims at
VARIANCE_FLOOR = 1.0


def tier_of(z: float) -> str:
    """``clear`` (z >= 8), ``edge`` (4 <= z <= 6), ``between`` (6-8) or ``faint`` (< 4)."""
    if z >= 8.0:
        return "clear"
    if z > 6.0:
        return "between"
    return "edge" if z >= 4.0 else "faint"


def call_variance(api: Api, lam: np.ndarray) -> np.ndarray:
    """Per-minute variance of an API's calls where the expected count is ``lam``."""
    per_call = BURST_SQUARE / BURST_MEAN if api.bursty else 1.0
    var: np.ndarray = per_call * lam
    if api.dispersion > 0:
        var = var + lam * lam / api.dispersion
    return var


def failure_mean(api: Api, spec: ErrorSpec, lam: np.ndarray) -> np.ndarray:
    """Expected failures per minute of a background code."""
    out: np.ndarray = spec.fraction * lam + spec.steady
    return out


def failure_variance(api: Api, spec: ErrorSpec, lam: np.ndarray) -> np.ndarray:
    """Per-minute variance of a background code's failures: binomial thinning of the calls, plus Poisson.

    The codes' chained binomials (each on what the previous ones left) multiply out to a thinning by
    ``spec.fraction`` of all calls.
    """
    p = spec.fraction
    out: np.ndarray = p * p * call_variance(api, lam) + p * (1 - p) * lam + spec.steady
    return out


def window_z(extra: float, variance: float) -> float:
    """z of a change of ``extra`` expected counts over a window whose count varies by ``variance``."""
    return abs(extra) / math.sqrt(max(variance, VARIANCE_FLOOR))


def base_variance(api: Api, lam: np.ndarray, code: str | None) -> float:
    """Variance of the window's count without anomaly: calls, or failures of ``code`` (0 if new)."""
    if code is None:
        return float(call_variance(api, lam).sum())
    spec = next((e for e in api.errors if e.code == code), None)
    return 0.0 if spec is None else float(failure_variance(api, spec, lam).sum())


def base_mean(api: Api, lam: np.ndarray, code: str | None) -> float:
    """Expected window count without anomaly: calls (``lam``), or failures of ``code`` (0 if new)."""
    if code is None:
        return float(lam.sum())
    spec = next((e for e in api.errors if e.code == code), None)
    return 0.0 if spec is None else float(failure_mean(api, spec, lam).sum())
