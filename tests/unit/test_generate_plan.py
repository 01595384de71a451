"""``trailpulse generate``'s traffic plan: every anomaly kind placed fairly, visible in the counts, and
nothing else changed by them. Written files are tested in ``test_generate.py``."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from consumers.synth.anomalies import KINDS
from consumers.synth.options import GenerateOptions
from consumers.synth.traffic_model import plan_traffic, simulate_counts
from tests.synth_labels import check_labels


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_spec_labels_have_every_kind_placed_fairly(seed: int) -> None:
    options = GenerateOptions(seed=seed)
    plan = plan_traffic(options)
    labels = plan.labels()
    check_labels(labels, options)
    counts = Counter(a["kind"] for a in labels["anomalies"])
    assert all(4 <= counts[k] <= 6 for k in KINDS), counts
    apis = labels["apis"]
    assert 150 <= len(apis) <= 300
    assert len({a["account"] for a in apis}) == 3 and len({a["region"] for a in apis}) == 2
    rates = np.array([a["mean_rate"] for a in apis])
    assert rates.min() < 1e-3 and rates.max() >= 15
    assert 1.0e6 <= plan.lam.sum() <= 2.0e6  # about 1-2 million records in 10.5 days
    assert {"steady", "diurnal", "business_hours", "growth", "hourly_job", "sparse"} <= {
        a["profile"] for a in apis
    }
    assert any("job_moved_to" in a["detail"] for a in apis)
    assert any(a["errors"] for a in apis if a["readOnly"]) and any(
        a["errors"] for a in apis if not a["readOnly"]
    )


def test_anomalies_are_visible_in_the_counts() -> None:
    plan = plan_traffic(GenerateOptions(seed=5))
    cells = simulate_counts(plan)
    n = plan.options.minutes
    for an in plan.anomalies:
        mask = cells.api == an.api
        if an.code is not None:
            mask &= cells.code == cells.codes.index(an.code)
        series = np.bincount(cells.minute[mask], weights=cells.count[mask], minlength=n)
        window = series[an.start : an.end].mean()
        before = series[max(0, an.start - 10080) : an.start]
        if an.kind == "drop":
            assert window <= 0.2 * before.mean(), an
        else:
            assert window >= max(5.0, 3 * before.mean()), an


def test_no_anomalies_keeps_the_base_traffic() -> None:
    with_anomalies = plan_traffic(GenerateOptions(seed=3))
    plan = plan_traffic(GenerateOptions(seed=3, anomalies=False))
    labels = plan.labels()
    assert labels["anomalies"] == [] and labels["anomaly_free"] is True
    assert labels["apis"] == with_anomalies.labels()["apis"]
    np.testing.assert_array_equal(plan.lam, with_anomalies.lam)
    shape = (len(plan.apis), plan.options.minutes)
    dense = []
    for p in (plan, with_anomalies):
        cells = simulate_counts(p)
        usual = cells.actor < 0  # calls by the APIs' usual callers
        counts = np.zeros(shape)
        np.add.at(counts, (cells.api[usual], cells.minute[usual]), cells.count[usual])
        dense.append(counts)
    outside = np.ones(shape, dtype=bool)
    for an in with_anomalies.anomalies:
        outside[an.api, an.start : an.end] = False
    np.testing.assert_array_equal(dense[0][outside], dense[1][outside])
