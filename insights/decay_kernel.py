"""The recent level's decay over a key's silent minutes (:meth:`insights.baseline.Baseline.learn_zeros`),
compiled.

Keys judged only when hot (:mod:`insights.activity`) owe the minutes in between, and every hour roll
catches all keys up: each owed minute moves the recent level (an EWMA kept in float32) a step
towards zero, in float32 as :meth:`~insights.baseline.Baseline.learn` rounds it, so no closed form
gives the same bits. In numpy that is one array operation per owed minute over the keys owing at
least that many, up to sixty at a roll, whose call overhead is most of a close's catch-up for a few
dozen hot keys; compiled, one call does the same minute-by-minute loop with the same float32 and
float64 steps, bit for bit (``decay.py_func`` runs it uncompiled, as the tests check): 6 us instead
of 26 for 40 keys owing up to 5 minutes, 0.31 ms instead of 0.50 for an hour roll's 5,000 keys.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from insights.evidence_kernel import compiled


def _decay(
    ewma: npt.NDArray[np.float32], slots: npt.NDArray[np.int64], owed: npt.NDArray[np.int64], alpha: float
) -> None:
    """Move ``ewma[slots[j]]`` towards zero ``owed[j]`` times, as :meth:`Baseline.learn` does
    with a count of 0: the step computed in float64 from the level, rounded to float32, added in
    float32. Minute by minute over the keys owing the most first, so each minute's loop runs over
    a prefix of independent levels (one key's minutes form a chain, its steps wait on each other;
    the keys of a minute do not)."""
    order = np.argsort(-owed, kind="mergesort")
    levels = ewma[slots[order]]
    debts = owed[order]
    owing = len(debts)
    for minute in range(debts[0] if owing else 0):
        while owing and debts[owing - 1] <= minute:
            owing -= 1
        for j in range(owing):
            levels[j] = levels[j] + np.float32(alpha * (0.0 - np.float64(levels[j])))
    ewma[slots[order]] = levels


decay = compiled(_decay)


def load() -> None:
    """Compile (or load from the cache) for the types a close passes, before the first close."""
    decay(np.zeros(1, np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64), 0.5)
