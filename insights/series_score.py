"""The ``score`` column of ``score-series``: every row ranked by its evidence, insight or not.

An insight is a decision; a score that is 0 outside insights cannot be swept to trade recall for
false alarms. Each row's score gathers, on the ``-log10`` scale of the detector's knobs, the largest
of three pieces of evidence, each divided by the threshold that would start an insight on it:

* the row alone: its two-sided surprise (upper tail against the larger of the rising reference and
  the bursty series' hourly peak, lower tail against the falling reference; :mod:`insights.detector`)
  over ``start_surprise``;
* the windowed evidence upwards and downwards: the CUSUMs of :mod:`insights.evidence` (same ratios,
  references, per-row cap and longest excursion) over ``evidence_surprise * ln 10``. They stop at
  :data:`CAP` thresholds: after an outage of hours an uncapped sum stays high for hours of ordinary
  rows (on the bench's web series the cap took PR-AUC from 0.74 to 0.88).

That ratio ``r`` (1 at a start threshold) maps monotonically to ``r / (1 + r)``: 0 for a row exactly
as expected, 0.5 at a threshold, 2/3 where the sums stop, and on towards 1 for ever more surprising
single rows, so sweeping a threshold over the score trades found anomalies for false alarms. Unlike
the engine's own sums, these do not restart when an insight opens: the score of a row does not depend
on what the detector decided before it.

>>> import numpy as np
>>> refs = References(*(np.array([v]) for v in (4.0, 4.0, 9.0, 0.0, 1.0)), np.array([4.0]), np.array([True]))
>>> from insights.config import DetectorParams
>>> evidence = SeriesEvidence(DetectorParams(), evidence_surprise=4.0)
>>> ordinary, _ = evidence.score(4.0, refs, True)
>>> rising = [evidence.score(8.0, refs, True) for _ in range(12)]
>>> ordinary < 0.1 < rising[0][0] < rising[-1][0] < 1.0, rising[-1][1]
(True, 1)
"""

from __future__ import annotations

import numpy as np

from insights.baseline import References
from insights.config import DetectorParams
from insights.detector import lower_surprise, upper_surprise
from insights.evidence import LN10, minute_cap, step
from insights.evidence_kernel import MIN_RATE

#: The sums stop at this many thresholds: a long anomaly's evidence drains within a few rows of its end.
CAP = 2.0


class SeriesEvidence:
    """The two CUSUM sums of one series (nats) and the rows their excursions began, for the score."""

    def __init__(self, params: DetectorParams, evidence_surprise: float) -> None:
        """Weigh evidence as ``params`` do, the windowed evidence against ``evidence_surprise`` (the
        parameters' own, or the scale it would have when they switch it off)."""
        self.start_surprise = params.start_surprise
        self.threshold = evidence_surprise * LN10
        self.ratios = {"up": params.evidence_rise_ratio, "dn": params.evidence_drop_ratio}
        self.longest = params.evidence_max_minutes
        self.share = params.evidence_minute_share
        self.most = CAP * self.threshold
        self.sums = {"up": 0.0, "dn": 0.0}
        self.began = {"up": 0, "dn": 0}
        self.row = 0

    def score(self, count: float, refs: References, on: bool) -> tuple[float, int]:
        """Advance the sums by one row (``refs`` as they were before it; ``on`` once the series is warm
        and has a day of history) and return the row's score in [0, 1] and the side its strongest
        evidence is on (1 up, -1 down, 0 for a score of 0)."""
        self.row += 1
        if not on:
            self.sums = {"up": 0.0, "dn": 0.0}
            return 0.0, 0
        x = np.array([count])
        phi = np.maximum(refs.phi, 1.0)
        rising = refs.mu_up if refs.evidence_up is None else refs.evidence_up
        upper = float(upper_surprise(x, np.maximum(refs.mu_up, refs.burst), phi)[0])
        lower = float(lower_surprise(x, refs.mu_down, phi)[0])
        ratio, side = max((upper / self.start_surprise, 1), (lower / self.start_surprise, -1))
        most_a_row = float(minute_cap(self.threshold, self.share, refs.burst)[0])
        for name, mu, sign in (("up", np.maximum(rising, MIN_RATE), 1), ("dn", refs.mu_down, -1)):
            if self.sums[name] > 0 and self.row - self.began[name] >= self.longest:
                self.sums[name] = 0.0
            added = float(step(x, mu, phi, np.array([self.ratios[name]]))[0])
            total = min(max(self.sums[name] + min(added, most_a_row), 0.0), self.most)
            if total > 0 and self.sums[name] == 0:
                self.began[name] = self.row
            self.sums[name] = total
            ratio, side = max((ratio, side), (total / self.threshold, sign))
        # r / (1 + r), written so that an infinite surprise (a tail beyond float range) scores 1
        return 1.0 - 1.0 / (1.0 + ratio), side if ratio > 0 else 0
