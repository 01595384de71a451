"""The recent level's decay over a key's silent minutes (:meth:`insights.baseline.Baseline.learn_zeros`),
compiled.

Keys judged only when hot (:mod:`insights.activity`) owe the minutes in between, and every hour roll
catches all keys up: each owed minute moves the recent level (an EWMA kept in float32) a step
towards zero, in float32 as :meth:`~insights.baseline.Baseline.learn` rounds it, so no closed form
gives the same bits. In numpy that is one array operation per owed minute over the keys owing at
least that many, up to sixty at a roll; compiled, one call loops over keys and minutes in machine
code with the same float32 and float64 steps, bit for bit (``decay.py_func`` runs it uncompiled, as
the tests check).
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
    float32."""
    for j in range(len(slots)):
        level = ewma[slots[j]]
        for _ in range(owed[j]):
            level = level + np.float32(alpha * (0.0 - np.float64(level)))
        ewma[slots[j]] = level


decay = compiled(_decay)


def load() -> None:
    """Compile (or load from the cache) for the types a close passes, before the first close."""
    decay(np.zeros(1, np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64), 0.5)
