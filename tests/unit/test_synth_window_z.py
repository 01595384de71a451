"""The true-model variance behind each label's window z, checked against the generator's own draws, and
the classic suite's traces unchanged by the z labels (a digest taken before they were added)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from consumers.synth.api_roster import Api, ErrorSpec
from consumers.synth.aws_catalog import CATALOG
from consumers.synth.options import GenerateOptions
from consumers.synth.s3_delivery import iter_log_files
from consumers.synth.traffic_model import draw_calls, plan_traffic, split_failures
from consumers.synth.window_z import call_variance, failure_mean, failure_variance, tier_of, window_z

MINUTES = 300_000


def _api(dispersion: float, bursty: bool, errors: list[ErrorSpec]) -> Api:
    return Api(0, "111122223333", "us-east-1", 0, CATALOG[0], "t", "steady", 1.0, dispersion, bursty, errors)


@pytest.mark.parametrize(
    ("lam", "dispersion", "bursty"),
    [(3.0, 0.0, False), (20.0, 10.0, False), (0.4, 0.0, True), (6.0, 25.0, True)],
)
def test_variance_of_calls_and_failures_matches_the_generators_draws(
    lam: float, dispersion: float, bursty: bool
) -> None:
    errors = [ErrorSpec("ThrottlingException", 0.2), ErrorSpec("AccessDenied", 0.1, 0.05)]
    api = _api(dispersion, bursty, errors)
    rates = np.full(MINUTES, lam)
    rng = np.random.default_rng(2024)
    calls = draw_calls(api, rates, rng)
    _, failures = split_failures(api, calls, rng)
    expected = float(call_variance(api, rates[:1])[0])
    poisson_only = lam
    assert calls.var() == pytest.approx(expected, rel=0.04)
    if dispersion or bursty:  # the check can tell the true model from plain Poisson
        assert abs(calls.var() - poisson_only) > 0.15 * expected
    for spec, (code, failed) in zip(errors, failures, strict=True):
        assert code == spec.code
        assert failed.mean() == pytest.approx(float(failure_mean(api, spec, rates[:1])[0]), rel=0.06)
        assert failed.var() == pytest.approx(float(failure_variance(api, spec, rates[:1])[0]), rel=0.06)


def test_window_sums_vary_by_the_sum_of_minute_variances() -> None:
    api = _api(15.0, False, [])
    rates = np.tile(np.linspace(1.0, 12.0, 30), MINUTES // 30)
    calls = draw_calls(api, rates, np.random.default_rng(7)).reshape(-1, 30).sum(axis=1)
    assert calls.var() == pytest.approx(float(call_variance(api, rates[:30]).sum()), rel=0.06)


def test_z_floors_the_variance_at_one_count_and_tiers_split_at_4_6_8() -> None:
    assert window_z(5.0, 0.0) == 5.0 and window_z(-12.0, 4.0) == 6.0
    assert [tier_of(z) for z in (3.99, 4.0, 6.0, 6.01, 7.99, 8.0)] == [
        "faint",
        "edge",
        "edge",
        "between",
        "between",
        "clear",
    ]


def _classic_digest(options: GenerateOptions) -> str:
    plan = plan_traffic(options)
    labels = plan.labels()
    for a in labels["anomalies"]:
        assert a["z"] > 0 and a["tier"] == tier_of(a["z"])
        del a["z"], a["tier"]  # type: ignore[misc]
    assert labels["anomaly_suite"] == "classic" and labels["decoys"] == []
    del labels["anomaly_suite"], labels["decoys"]  # type: ignore[misc]
    digest = hashlib.sha256(json.dumps(labels, sort_keys=True).encode())
    for log in iter_log_files(options, plan):
        digest.update(log.path.encode())
        digest.update(log.body())
    return digest.hexdigest()


@pytest.mark.parametrize(
    ("options", "digest"),
    [
        (
            GenerateOptions(seed=7, days=1.0, api_factor=0.15, warmup_minutes=360, anomalies_per_kind=1),
            "b2ce498e1a738ba98813edb53401e091ccabc9480508fcd3fe396f54ff0fe1ac",
        ),
        (
            GenerateOptions(seed=3, days=2.0, api_factor=0.3, warmup_minutes=720),
            "25f1eed0e588fc8cb7da05312b17dda88ffb8749d4fe176fbece2f4054fe221a",
        ),
    ],
)
def test_classic_traces_are_those_of_before_the_tiered_suite(options: GenerateOptions, digest: str) -> None:
    """Digests of labels (without what the tiered suite added) and every log file, taken before it existed."""
    assert _classic_digest(options) == digest
