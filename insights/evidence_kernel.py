"""The windowed evidence's minute step (:func:`insights.evidence.advance`), compiled.

A close judges the keys with calls this minute, often a few dozen: array operations over so few
keys cost their call overhead, not their length, and the step takes some fifty of them, which made
the evidence the most expensive part of a close. Compiled with numba it is one call, looping over the
keys and sides in machine code; the arithmetic is the same, step by step, in float64.

The loop is written in plain Python over arrays, so it also runs uncompiled (``step_keys.py_func``),
which is how the tests check that compiling changes nothing. Compiled code is cached beside the
module (``cache=True``): a process loads it rather than compiling again (about two seconds).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import numba
import numpy as np
import numpy.typing as npt

#: An upward reference below this many calls a minute counts as this. A key the baseline saw (almost)
#: never call is not evidence of a rise with each call it makes; with ``evidence_max_minutes``
#: bounding an excursion, a rare key must make many calls within hours to start one.
MIN_RATE = 1e-3
#: Units of evidence (calls' worth) a rising excursion holds from its first minute on; one where a
#: minute may not add them (see :func:`insights.evidence.accumulate`).
RISE_DATING = 2.0
#: The first minute of a side with no excursion.
NOT_STARTED = -1
#: Relative: sums are stored as float32, and one unit stored is one unit still.
SLACK = 1e-6
#: A sum of zero is no excursion even where one unit is zero (a drop sum of a key whose reference is zero).
TINY = float(np.finfo(np.float64).tiny)


def _step_keys(
    columns: tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]],
    slots: npt.NDArray[np.int64],
    sides: npt.NDArray[np.int64],
    minute: int,
    counts: npt.NDArray[np.float64],
    mu: npt.NDArray[np.float64],
    phi: npt.NDArray[np.float64],
    rho: npt.NDArray[np.float64],
    on: npt.NDArray[np.bool_],
    longest: npt.NDArray[np.float64],
    most: npt.NDArray[np.float64],
    out: npt.NDArray[np.float64],
) -> None:
    """Advance the sums of ``slots`` (their columns ``sum, first, observed, expected, at``) on the
    ``sides`` given (``mu`` and ``rho`` are sides by keys) through ``minute``, in place; ``out``
    (4 x sides x keys) gets each side's sum, first minute, observed and expected after it, in
    float64 (the columns keep float32).

    The steps, and why each, are :func:`insights.evidence.accumulate`'s."""
    ev_sum, ev_first, ev_obs, ev_exp, ev_at = columns
    for j in range(len(slots)):
        slot = slots[j]
        at = ev_at[slot]
        silent = max(minute - at - 1, 0) if on[j] and at != NOT_STARTED else 0
        ph = max(phi[j], 1.0)
        count = counts[j]
        for i in range(len(sides)):
            side = sides[i]
            r = rho[i, j]
            m = max(mu[i, j], MIN_RATE) if r > 1 else mu[i, j]
            total = float(ev_sum[slot, side])
            first = int(ev_first[slot, side])
            observed = float(ev_obs[slot, side])
            expected = float(ev_exp[slot, side])
            log_rho = math.log(r)
            drift = m * (r - 1.0)
            quiet_step = -drift / ph  # what a minute without calls adds
            unit = log_rho / ph if r > 1 else quiet_step
            dating = RISE_DATING if r > 1 and unit * RISE_DATING <= most[j] else 1.0
            least = max(unit * dating * (1 - SLACK), TINY)
            ongoing = first != NOT_STARTED
            if silent > 0:  # the silent minutes since the key was last judged, in one step
                rising = quiet_step > 0
                crossing = max(np.ceil((unit - total) / (quiet_step if rising else 1.0)), 1.0)
                starts = rising and not ongoing and crossing <= silent
                total = max(total + silent * quiet_step, 0.0)
                if ongoing:
                    expected = expected + silent * m
                if starts:
                    first = minute - silent - 1 + int(crossing)
                    expected = (silent - int(crossing) + 1) * m
                ongoing = (ongoing or starts) and total >= least
            else:
                ongoing = ongoing and total >= least
            expired = ongoing and minute - first >= longest[j]
            if expired:
                total = 0.0
            # This minute.
            total = max(total + min((count * log_rho - drift) / ph, most[j]), 0.0) if on[j] else 0.0
            above = total >= least
            if not (above and ongoing and not expired):
                first = minute if above else NOT_STARTED
                observed = 0.0
                expected = 0.0
            if above:
                observed += count
                expected += m
                if r < 1 and count >= m and count > 0:  # a drop begins after a minute at its reference
                    first = minute + 1
                    observed = 0.0
                    expected = 0.0
            ev_sum[slot, side] = total
            ev_first[slot, side] = first
            ev_obs[slot, side] = observed
            ev_exp[slot, side] = expected
            out[0, i, j] = total
            out[1, i, j] = first
            out[2, i, j] = observed
            out[3, i, j] = expected


def compiled(function: Callable[..., None]) -> Callable[..., None]:
    """``function`` compiled, the machine code cached beside the module (or in ``NUMBA_CACHE_DIR``, or
    the user's cache directory); where none of them is writable (a read-only install run without a
    home) numba refuses to cache, and each process compiles afresh rather than failing to start."""
    try:
        return cast(Callable[..., None], numba.njit(cache=True, nogil=True)(function))
    except RuntimeError:
        return cast(Callable[..., None], numba.njit(nogil=True)(function))


step_keys = compiled(_step_keys)


def _pick_starts(
    out: npt.NDArray[np.float64],
    on: npt.NDArray[np.bool_],
    surprise: npt.NDArray[np.float64],
    least: npt.NDArray[np.float64],
    min_ratio: npt.NDArray[np.float64],
    steep_least: npt.NDArray[np.float64],
    keep_down: float,
    starts: npt.NDArray[np.bool_],
    rising: npt.NDArray[np.float64],
) -> None:
    """From :func:`_step_keys`'s ``out`` over the three sides (rise, steep rise, drop), which keys
    the evidence starts (``starts`` rows: a rise by either sum, by the steep sum, a drop) and the
    rising excursion each reports (``rising``, 4 x keys: the steep sum's where it started the rise
    or is the larger one). Past ``surprise`` (nats), a rise needs ``least`` calls more than expected
    and ``min_ratio`` times them, a steep rise ``steep_least`` more, a drop ``least`` missing, down to
    ``keep_down`` of the reference (see :func:`insights.evidence_starts.judge`)."""
    for j in range(out.shape[2]):
        rise_sum, rise_obs, rise_exp = out[0, 0, j], out[2, 0, j], out[3, 0, j]
        steep_sum, steep_obs, steep_exp = out[0, 1, j], out[2, 1, j], out[3, 1, j]
        fall_sum, fall_obs, fall_exp = out[0, 2, j], out[2, 2, j], out[3, 2, j]
        up = on[j] and rise_sum >= surprise[j] and rise_obs - rise_exp >= least[j]
        up = up and rise_obs >= min_ratio[j] * rise_exp
        steep = on[j] and not up and steep_sum >= surprise[j] and steep_obs - steep_exp >= steep_least[j]
        down = on[j] and fall_sum >= surprise[j] and fall_exp - fall_obs >= least[j]
        down = down and fall_obs <= keep_down * fall_exp
        side = 1 if steep or (not up and steep_sum > rise_sum) else 0
        for part in range(4):
            rising[part, j] = out[part, side, j]
        starts[0, j] = up or steep
        starts[1, j] = steep
        starts[2, j] = down


pick_starts = compiled(_pick_starts)


def load() -> None:
    """Compile both functions (or load them from the cache) now, for the argument types a close
    passes them: a process that builds an engine pays for it there, not in its first close, where a
    pause of a quarter of a second (two seconds when compiling) would hold up live minutes and an
    early Start. It also keeps their memory (some 40 MiB of numba and machine code) with the
    process's fixed cost, not with the keys it goes on to track."""
    none, nothing = np.zeros(0, np.int64), np.zeros(0)
    per_side = (np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32))
    columns = (per_side[0], per_side[1], per_side[0], per_side[0], np.zeros(0, np.int32))
    sides, by_side, flags = np.arange(3, dtype=np.int64), np.zeros((3, 0)), np.zeros(0, dtype=bool)
    out = np.zeros((4, 3, 0))
    step_keys(columns, none, sides, 0, nothing, by_side, nothing, by_side, flags, nothing, nothing, out)
    pick_starts(out, flags, nothing, nothing, nothing, nothing, 0.5, np.zeros((3, 0), bool), np.zeros((4, 0)))
