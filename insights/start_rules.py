"""The Start rules: when a key's minutes are unusual enough to open an insight.

Three shapes start an insight (each gated as :class:`~insights.config.DetectorParams` describes):

* a **spike**: one minute whose count passes ``min_count``, ``min_ratio`` times the rising reference and
  ``peak_margin`` times the busiest recent minute, and whose upper-tail surprise against the larger of
  the rising reference and the bursty keys' hourly peak reaches ``start_surprise``;
* a **sustained rise**: ``sustained_minutes`` minutes in a row each raised (≥ 1 call and
  ``sustained_ratio`` times the reference) whose sum is that surprising;
* a **drop**: ``drop_minutes`` minutes in a row at ≤ ``drop_ratio`` times the falling reference of a key
  normally at ≥ ``drop_min_level``, whose sum is that surprising (lower tail).

These rules are the only copy: :mod:`insights.lifecycle` applies them to closed minutes and
:mod:`insights.early` to the counts so far of open minutes, so an early Start is one the close would
have made. Every function works on aligned arrays (one entry per key); ``params`` are the keys'
detector parameters, aligned the same way.

>>> import numpy as np
>>> params = {"min_count": np.array([5.0]), "min_ratio": np.array([2.0]), "peak_margin": np.array([1.25]),
...           "start_surprise": np.array([7.0])}
>>> counts, mu, peak = np.array([40.0]), np.array([5.0]), np.array([9.0])
>>> gates = spike_gates(counts, mu, peak, params)
>>> spiking, surprise = spike_starts(gates, counts, mu, np.array([1.0]), params)
>>> bool(spiking[0]), bool(surprise[0] > 7)
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from insights.detector import lower_surprise, upper_surprise

F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
Params = dict[str, F64]


def masked_surprise(tail: Callable[[F64, F64, F64], F64], mask: Bool, count: F64, mu: F64, phi: F64) -> F64:
    """``tail`` surprise where ``mask`` holds, zero elsewhere; scipy is not called for nothing."""
    out = np.zeros(len(mask))
    if mask.any():
        out[mask] = tail(count[mask], mu[mask], phi[mask])
    return out


def spike_gates(counts: F64, mu_up: F64, peak: F64, params: Params) -> Bool:
    """The count gates of a single-minute spike (the surprise is judged by :func:`spike_starts`)."""
    p = params
    gates: Bool = (
        (counts >= p["min_count"]) & (counts >= p["min_ratio"] * mu_up) & (counts > p["peak_margin"] * peak)
    )
    return gates


def spike_starts(gates: Bool, counts: F64, reference: F64, phi: F64, params: Params) -> tuple[Bool, F64]:
    """Keys whose spike starts: ``gates`` passed and the surprise against ``reference`` (the larger
    of the rising reference and the hourly burst peak) reaches ``start_surprise``; and that surprise."""
    surprise = masked_surprise(upper_surprise, gates, counts, reference, phi)
    return gates & (surprise >= params["start_surprise"]), surprise


def raised(counts: F64, mu_up: F64, params: Params) -> Bool:
    """Minutes that extend a sustained rise."""
    up: Bool = (counts >= 1) & (counts >= params["sustained_ratio"] * mu_up)
    return up


def sustained(streak: npt.NDArray[np.number], total: F64, params: Params) -> Bool:
    """Rises long and large enough to be judged (on their sum, see :func:`sum_surprise`)."""
    long_enough: Bool = (streak >= params["sustained_minutes"]) & (total >= 2 * params["min_count"])
    return long_enough


def dropping(counts: F64, mu_down: F64, params: Params) -> Bool:
    """Minutes that extend a drop of a normally busy key."""
    p = params
    low: Bool = (mu_down >= p["drop_min_level"]) & (counts <= p["drop_ratio"] * mu_down)
    return low


def dropped(streak: npt.NDArray[np.number], params: Params) -> Bool:
    """Drops long enough to be judged."""
    long_enough: Bool = streak >= params["drop_minutes"]
    return long_enough


def sum_surprise(upward: bool, mask: Bool, total: F64, expected: F64, phi: F64) -> F64:
    """Surprise of a streak's observed sum against its expected sum, where ``mask`` holds."""
    return masked_surprise(upper_surprise if upward else lower_surprise, mask, total, expected, phi)
