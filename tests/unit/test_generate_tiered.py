"""``trailpulse generate --anomaly-suite tiered``: each kind placed in both tiers at the z its label
states, within the kind's ranges; quiet decoys identical in a trace and its anomaly-free twin."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from consumers.cli import main
from consumers.synth.anomalies import GAP_MINUTES
from consumers.synth.decoys import DECOY_KINDS
from consumers.synth.options import GenerateOptions
from consumers.synth.tiered import RANGES, TIERED_KINDS
from consumers.synth.traffic_model import TrafficPlan, plan_traffic, simulate_counts

TIERED = GenerateOptions(seed=21, days=4.0, api_factor=0.4, warmup_minutes=1440, anomaly_suite="tiered")
# long enough for a weekly job's second run after seven days of history
LONG = GenerateOptions(seed=22, days=9.0, api_factor=0.2, warmup_minutes=2880, anomaly_suite="tiered")


@pytest.fixture(scope="module")
def plan() -> TrafficPlan:
    return plan_traffic(TIERED)


def test_every_kind_has_clear_and_edge_instances_at_the_labelled_z(plan: TrafficPlan) -> None:
    labels = plan.labels()
    tiers = Counter((a["kind"], a["tier"]) for a in labels["anomalies"])
    for kind in TIERED_KINDS:
        assert tiers[(kind, "clear")] >= 1, (kind, tiers)
        if kind != "drop":  # a busy API's drop is never an edge case
            assert tiers[(kind, "edge")] >= 1, (kind, tiers)
    start = labels["start_minute"]
    for a in labels["anomalies"]:
        assert a["tier"] in ("clear", "edge") and (a["z"] >= 8 or 4 <= a["z"] <= 6), a
        span = RANGES[a["kind"]]
        assert span.minutes[0] <= a["end_minute"] - a["start_minute"] <= span.minutes[1], a
        low, high = span.magnitude
        assert low <= a["magnitude"] <= high or (a["kind"].endswith("drop") and a["magnitude"] == 0.0), a
        assert (
            start + TIERED.warmup_minutes <= a["start_minute"]
            and a["end_minute"] <= start + TIERED.minutes - 60
        )
        rate = a["baseline_rate"]
        if a["kind"] == "low_rate_rise":
            assert 0.2 <= rate <= 5
        elif a["kind"] == "low_rate_drop":
            assert 1 <= rate <= 5
        elif a["kind"] == "known_code_surge":
            key = (a["account"], a["region"], a["eventSource"], a["eventName"])
            api = next(
                x
                for x in labels["apis"]
                if (x["account"], x["region"], x["eventSource"], x["eventName"]) == key
            )
            assert a["errorCode"] in {e["errorCode"] for e in api["errors"]}
    spans: dict[tuple[str, ...], list[tuple[int, int]]] = {}
    for item in [*labels["anomalies"], *labels["decoys"]]:
        key = (item["account"], item["region"], item["eventSource"], item["eventName"])
        spans.setdefault(key, []).append((item["start_minute"], item["end_minute"]))
    for found in spans.values():
        for (_, end), (begin, _) in itertools.pairwise(sorted(found)):
            assert begin >= end + GAP_MINUTES or begin >= end  # decoys may share an API, anomalies keep a gap


def test_the_new_kinds_change_the_counts_they_are_labelled_with(plan: TrafficPlan) -> None:
    cells = simulate_counts(plan)
    n = plan.options.minutes
    for an in plan.anomalies:
        mask = cells.api == an.api
        if an.insight_type == "ApiErrorRateInsight":
            mask &= cells.code == cells.codes.index(an.code) if an.code in cells.codes else False
        series = np.bincount(cells.minute[mask], weights=cells.count[mask], minlength=n)
        seen = series[an.start : an.end].sum()
        expected = an.rate * (an.end - an.start)
        assert abs(seen - expected) <= 6 * np.sqrt(expected + 1) + 0.2 * expected, (an, seen, expected)


def test_decoys_are_the_same_in_the_trace_and_its_anomaly_free_twin() -> None:
    plans = [plan_traffic(LONG), plan_traffic(replace(LONG, anomalies=False))]
    labels = [p.labels() for p in plans]
    assert labels[0]["decoys"] == labels[1]["decoys"] and labels[0]["apis"] == labels[1]["apis"]
    assert {d["kind"] for d in labels[0]["decoys"]} == set(DECOY_KINDS)
    np.testing.assert_array_equal(plans[0].lam, plans[1].lam)
    counts = []
    for p in plans:
        cells = simulate_counts(p)
        usual = cells.actor < 0
        dense = np.zeros(p.lam.shape)
        np.add.at(dense, (cells.api[usual], cells.minute[usual]), cells.count[usual])
        counts.append(dense)
    for d in plans[0].decoys:  # anomalies keep off the decoys' spans, so their counts are identical
        np.testing.assert_array_equal(counts[0][d.api, d.start : d.end], counts[1][d.api, d.start : d.end])
        assert counts[0][d.api, d.start : d.end].sum() > 0 or d.kind == "hourly_job_moves"
    weekly = next(d for d in plans[0].decoys if d.kind == "weekly_job")
    assert weekly.start >= 7 * 1440 and plans[0].lam[weekly.api, weekly.start - 7 * 1440] > 0


def test_a_short_trace_skips_the_weekly_job(plan: TrafficPlan) -> None:
    kinds = {d.kind for d in plan.decoys}
    assert "weekly_job" not in kinds and {"dst_shift", "trend", "new_key_trickle"} <= kinds


def test_cli_writes_the_tiered_suite(tmp_path: Path) -> None:
    argv = ["generate", "--out", str(tmp_path), "--seed", "3", "--days", "0.5", "--scale", "0.2"]
    assert main([*argv, "--anomaly-suite", "tiered", "--accounts", "1", "--regions", "1"]) == 0
    labels = json.loads((tmp_path / "labels.json").read_text())
    assert labels["anomaly_suite"] == "tiered" and all("z" in a for a in labels["anomalies"])
    with pytest.raises(SystemExit):
        main([*argv, "--overwrite", "--anomaly-suite", "fancy"])
