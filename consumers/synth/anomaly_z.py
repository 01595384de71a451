"""The expected change an anomaly makes to what its insight type counts, and its window z.

Kept apart from the window arithmetic (``window_z``) so that placement can solve a kind's magnitude
for a target z with the same formula the labels report.
"""

from __future__ import annotations

import numpy as np

from consumers.synth.anomalies import Anomaly
from consumers.synth.api_roster import Api
from consumers.synth.window_z import base_variance, failure_mean, window_z

SCALED = ("spike", "step", "low_rate_rise", "drop", "low_rate_drop")  # magnitude multiplies the calls
FIXED_RATE = ("rare_hammered", "error_new_code")


def expected_change(an: Anomaly, api: Api, lam: np.ndarray) -> float:
    """Expected extra (negative: missing) count over the anomaly's window; ``lam`` is the API's whole row."""
    window = lam[an.start : an.end]
    if an.kind in SCALED:
        return (an.magnitude - 1.0) * float(window.sum())
    if an.kind in FIXED_RATE:
        return an.magnitude * window.size
    spec = next(e for e in api.errors if e.code == an.code)
    background = failure_mean(api, spec, window)
    if an.kind == "error_surge":  # the classic kind: a total failure rate, the background topped up to it
        return float(np.maximum(an.rate - background, 0.0).sum())
    return (an.magnitude - 1.0) * float(background.sum())  # known_code_surge: a multiplier


def anomaly_z(an: Anomaly, api: Api, lam: np.ndarray) -> float:
    """The anomaly's window z under the true model (see ``window_z``)."""
    window = lam[an.start : an.end]
    code = an.code if an.insight_type == "ApiErrorRateInsight" else None
    return window_z(expected_change(an, api, lam), base_variance(api, window, code))
