"""Checks of a generated trace's ``labels.json`` shared by the generator's tests."""

from __future__ import annotations

import itertools

from consumers.synth.anomalies import GAP_MINUTES, KINDS
from consumers.synth.labels import Labels
from consumers.synth.options import GenerateOptions, minute_to_iso


def check_labels(labels: Labels, options: GenerateOptions) -> None:
    """Every label is consistent with the options and the anomaly kinds' rules; spans keep their gap."""
    start, minutes = labels["start_minute"], labels["minutes"]
    assert labels["anomaly_free"] is False
    assert {a["kind"] for a in labels["anomalies"]} == set(KINDS)
    by_api: dict[tuple[str, str, str, str], list[tuple[int, int]]] = {}
    for a in labels["anomalies"]:
        assert start + options.warmup_minutes <= a["start_minute"] < a["end_minute"] <= start + minutes - 60
        assert a["start"] == minute_to_iso(a["start_minute"]) and a["end"] == minute_to_iso(a["end_minute"])
        is_error = a["kind"].startswith("error")
        assert a["insightType"] == ("ApiErrorRateInsight" if is_error else "ApiCallRateInsight")
        assert (a["errorCode"] is not None) == is_error
        assert a["direction"] == ("down" if a["kind"] == "drop" else "up")
        key = (a["account"], a["region"], a["eventSource"], a["eventName"])
        by_api.setdefault(key, []).append((a["start_minute"], a["end_minute"]))
        length = a["end_minute"] - a["start_minute"]
        api = next(
            x for x in labels["apis"] if (x["account"], x["region"], x["eventSource"], x["eventName"]) == key
        )
        if not is_error:
            assert api["readOnly"] is False  # call-rate insights count writes only
        if a["kind"] == "spike":
            assert 1 <= length <= 10 and 5 <= a["magnitude"] <= 20
        elif a["kind"] == "step":
            assert 30 <= length <= 180 and 3 <= a["magnitude"] <= 6
        elif a["kind"] == "rare_hammered":
            assert 5 <= length <= 30 and 10 <= a["rate"] <= 60 and api["mean_rate"] <= 2e-3
        elif a["kind"] == "drop":
            assert 20 <= length <= 90 and a["magnitude"] <= 0.1 and a["baseline_rate"] >= 20
        elif a["kind"] == "error_new_code":
            assert 5 <= length <= 60 and 5 <= a["rate"] <= 50
            assert a["errorCode"] not in {e["errorCode"] for e in api["errors"]}
        else:
            assert 5 <= length <= 60 and a["rate"] >= 5 and a["magnitude"] >= 10
            assert a["errorCode"] in {e["errorCode"] for e in api["errors"]}
    for spans in by_api.values():
        spans.sort()
        for (_, end), (begin, _) in itertools.pairwise(spans):
            assert begin >= end + GAP_MINUTES
