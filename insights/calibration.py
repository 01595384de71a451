"""How many false Starts the detector's thresholds allow: the bound a false-alarm target is set by.

Every key is tested every minute, by several rules; a threshold is only meaningful as a rate of
false Starts per key and day, which a fleet multiplies by its keys. The bound adds, per key-day:

* the windowed evidence: each of its sums (:data:`insights.evidence.EVIDENCE_SIDES`) is a CUSUM of
  a log-likelihood ratio, which without a change crosses ``h = evidence_surprise * ln 10`` at most
  once in ``e**h`` minutes on average (Lorden, 1971): at most ``10**-evidence_surprise`` a minute.
  A CUSUM weighs every window ending at the minute at once, so the windows tested (5 minutes or 8
  hours) add nothing: the multiple testing is across keys and sums only;
* the single-minute rules (a spike, a sustained rise, a drop): each fires on a tail probability of at
  most ``10**-start_surprise`` a minute.

The bound holds for counts that follow the model the tests assume (quasi-Poisson around a correct
reference). Real references are estimates, taken on the high side on purpose (the highest of earlier
days' means), which is why the measured rate (``bench/quality.py``) is far below the bound; where a
reference is too low (a key wobbling with its workload, or growing), the bound does not hold, and
the measured rate is the figure to trust.

>>> round(false_starts_bound(evidence_surprise=6.0, start_surprise=7.0), 5)
0.00475
>>> evidence_surprise_for(0.005, start_surprise=7.0) < 6.0 < evidence_surprise_for(0.004, start_surprise=7.0)
True
"""

from __future__ import annotations

import math

from insights.evidence import EVIDENCE_SIDES

MINUTES_PER_DAY = 1440
#: The single-minute rules each minute tests: a spike, a sustained rise's sum, a drop's sum.
MINUTE_RULES = 3


def false_starts_bound(evidence_surprise: float, start_surprise: float) -> float:
    """The most false Starts per key-day the thresholds allow under the model (``evidence_surprise``
    0: the windowed evidence off)."""
    per_minute = MINUTE_RULES * math.pow(10.0, -start_surprise)
    if evidence_surprise > 0:
        per_minute += len(EVIDENCE_SIDES) * math.pow(10.0, -evidence_surprise)
    return per_minute * MINUTES_PER_DAY


def evidence_surprise_for(false_starts_per_key_day: float, start_surprise: float) -> float:
    """The ``evidence_surprise`` whose bound, with the single-minute rules', is the target (false
    Starts per key-day); raises ``ValueError`` when the single-minute rules alone exceed it."""
    left = false_starts_per_key_day / MINUTES_PER_DAY - MINUTE_RULES * math.pow(10.0, -start_surprise)
    if left <= 0:
        raise ValueError(
            f"start_surprise {start_surprise:g} alone allows more than {false_starts_per_key_day:g}"
        )
    return math.log10(len(EVIDENCE_SIDES) / left)
