"""Tests of ``trailpulse generate``: the traffic model, its labels, and the delivered log files."""

from __future__ import annotations

import gzip
import itertools
import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import msgspec
import numpy as np
import pytest

from consumers.cli import main
from consumers.synth.anomalies import GAP_MINUTES, KINDS
from consumers.synth.labels import Labels
from consumers.synth.options import GenerateOptions, iso_to_minute, minute_to_iso
from consumers.synth.s3_delivery import iter_log_files
from consumers.synth.traffic_model import plan_traffic, simulate_counts
from consumers.synth.write_files import generate_to_dir, generate_with_stats
from insights.record import CloudTrailRecord

SMALL = GenerateOptions(seed=7, days=1.0, api_factor=0.15, warmup_minutes=360, anomalies_per_kind=1)
QUICK = GenerateOptions(
    seed=11, days=0.5, api_factor=0.15, scale=0.2, warmup_minutes=240, anomalies_per_kind=1
)
PATH = re.compile(
    r"AWSLogs/(\d{12})/CloudTrail/([a-z]{2}-[a-z]+-\d)/(\d{4})/(\d{2})/(\d{2})/"
    r"\1_CloudTrail_\2_(\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz"
)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _minute(event_time: str) -> int:
    return iso_to_minute(event_time[:17] + "00Z")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Labels]:
    out = tmp_path_factory.mktemp("small")
    return out, generate_to_dir(out, SMALL)


@pytest.fixture(scope="module")
def small_records(small: tuple[Path, Labels]) -> list[tuple[str, dict[str, object]]]:
    out, _ = small
    records = []
    for name, data in _files(out).items():
        if name == "labels.json":
            continue
        body = json.loads(gzip.decompress(data))
        assert list(body) == ["Records"]
        records += [(name, r) for r in body["Records"]]
    return records


def _check_labels(labels: Labels, options: GenerateOptions) -> None:
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


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_spec_labels_have_every_kind_placed_fairly(seed: int) -> None:
    options = GenerateOptions(seed=seed)
    plan = plan_traffic(options)
    labels = plan.labels()
    _check_labels(labels, options)
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


def test_small_trace_labels(small: tuple[Path, Labels]) -> None:
    out, labels = small
    _check_labels(labels, SMALL)
    assert json.loads((out / "labels.json").read_text()) == json.loads(json.dumps(labels))
    assert labels["start"] == "2026-01-05T00:00:00Z" and labels["minutes"] == 1440


def test_files_follow_the_s3_layout_and_cover_about_five_minutes(
    small: tuple[Path, Labels], small_records: list[tuple[str, dict[str, object]]]
) -> None:
    assert small_records
    for name, record in small_records:
        match = PATH.fullmatch(name)
        assert match, name
        account, region, year, month, day, stamp = match.groups()
        assert record["recipientAccountId"] == account and record["awsRegion"] == region
        delivered = iso_to_minute(f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:00Z")
        assert (year, month, day) == (stamp[:4], stamp[4:6], stamp[6:8]) and delivered % 5 == 0
        lag = delivered - _minute(str(record["eventTime"]))
        assert 1 <= lag <= 40


def test_record_fields_have_cloudtrail_types(small_records: list[tuple[str, dict[str, object]]]) -> None:
    sizes = []
    for _, r in small_records:
        assert r["eventVersion"] == "1.09" and r["eventType"] == "AwsApiCall"
        assert r["managementEvent"] is True and r["eventCategory"] == "Management"
        assert isinstance(r["readOnly"], bool)
        assert TIME.fullmatch(str(r["eventTime"]))
        assert str(r["eventSource"]).endswith(".amazonaws.com") and isinstance(r["eventName"], str)
        assert re.fullmatch(r"\d{12}", str(r["recipientAccountId"]))
        assert UUID.fullmatch(str(r["eventID"])) and UUID.fullmatch(str(r["requestID"]))
        identity = r["userIdentity"]
        assert isinstance(identity, dict) and isinstance(identity["type"], str)
        if identity["type"] == "AssumedRole":
            assert str(identity["arn"]).startswith("arn:aws:sts::") and str(
                identity["accessKeyId"]
            ).startswith("ASIA")
            assert identity["sessionContext"]["sessionIssuer"]["type"] == "Role"
        assert isinstance(r["userAgent"], str) and isinstance(r["sourceIPAddress"], str)
        assert ("errorCode" in r) == ("errorMessage" in r)
        assert "requestParameters" in r and "responseElements" in r
        sizes.append(len(json.dumps(r, separators=(",", ":"))))
    assert 900 <= float(np.mean(sizes)) <= 1500
    decoded = msgspec.json.decode(json.dumps(small_records[0][1]).encode(), type=CloudTrailRecord)
    assert decoded.eventID == small_records[0][1]["eventID"]
    assert Counter(bool(r.get("errorCode")) for _, r in small_records)[True] > 0


def test_anomalies_come_from_their_labelled_caller(
    small: tuple[Path, Labels], small_records: list[tuple[str, dict[str, object]]]
) -> None:
    _, labels = small
    for a in labels["anomalies"]:
        if a["userIdentityArn"] is None:
            continue
        hits = [
            r
            for _, r in small_records
            if r["eventName"] == a["eventName"]
            and r["recipientAccountId"] == a["account"]
            and r["userIdentity"].get("arn") == a["userIdentityArn"]  # type: ignore[attr-defined]
            and a["start_minute"] <= _minute(str(r["eventTime"])) < a["end_minute"]
            and r.get("errorCode") == a["errorCode"]
        ]
        assert len(hits) >= 5 * (a["end_minute"] - a["start_minute"]) * 0.5, a


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    generate_to_dir(tmp_path / "a", QUICK)
    generate_to_dir(tmp_path / "b", QUICK)
    generate_to_dir(tmp_path / "c", replace(QUICK, seed=12))
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert a == b
    assert set(a) != set(c) and a["labels.json"] != c["labels.json"]


def test_iter_log_files_matches_the_written_files(tmp_path: Path) -> None:
    generate_to_dir(tmp_path, QUICK)
    for log in iter_log_files(QUICK):
        assert json.loads(gzip.decompress((tmp_path / log.path).read_bytes())) == json.loads(log.body())


def test_late_and_duplicate_fractions(tmp_path: Path) -> None:
    options = replace(QUICK, late_fraction=0.05, duplicate_fraction=0.02)
    _, stats, _ = generate_with_stats(tmp_path, options)
    seen: Counter[str] = Counter()
    late = 0
    for path in (tmp_path / "AWSLogs").rglob("*.json.gz"):
        stamp = PATH.fullmatch(str(path.relative_to(tmp_path)))
        assert stamp
        s = stamp.group(6)
        delivered = iso_to_minute(f"{s[:4]}-{s[4:6]}-{s[6:8]}T{s[9:11]}:{s[11:13]}:00Z")
        for r in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
            seen[r["eventID"]] += 1
            late += delivered > (_minute(r["eventTime"]) // 5 + 1) * 5
    unique = len(seen)
    twice = sum(1 for v in seen.values() if v == 2)
    assert unique == stats.records and max(seen.values()) == 2
    assert 0.015 <= twice / unique <= 0.025
    assert 0.05 <= late / sum(seen.values()) <= 0.09  # late records plus late second copies
    assert 0.04 <= stats.late / stats.records <= 0.06


def test_cli_generate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "gen"
    argv = ["generate", "--out", str(out), "--seed", "4", "--days", "0.2", "--no-anomalies", "--scale", "0.3"]
    assert (
        main(
            [*argv, "--accounts", "2", "--regions", "3", "--late-fraction", "0", "--duplicate-fraction", "0"]
        )
        == 0
    )
    summary = capsys.readouterr().err
    assert "records" in summary and "files" in summary and "0 anomalies" in summary
    labels = json.loads((out / "labels.json").read_text())
    assert labels["anomaly_free"] is True and len(labels["accounts"]) == 2 and len(labels["regions"]) == 3
    assert main(argv) == 2  # refuses to mix with an earlier trace
    assert "--overwrite" in capsys.readouterr().err
    assert main([*argv, "--overwrite", "--start", "2026-02-02T00:00:00Z"]) == 0
    assert json.loads((out / "labels.json").read_text())["start"] == "2026-02-02T00:00:00Z"
    assert all("/2026/02/0" in str(p) for p in (out / "AWSLogs").rglob("*.gz"))


def test_invalid_options_are_rejected(tmp_path: Path) -> None:
    assert main(["generate", "--out", str(tmp_path), "--days", "0.01"]) == 2
    assert main(["generate", "--out", str(tmp_path), "--start", "2026-01-05T00:00:30Z"]) == 2
    with pytest.raises(ValueError):
        plan_traffic(GenerateOptions(late_fraction=0.9))


def test_busy_windows_are_split_into_several_files() -> None:
    options = replace(QUICK, max_records_per_file=20)
    per_window: Counter[tuple[str, str, int]] = Counter()
    for log in iter_log_files(options):
        assert 1 <= len(log.records) <= 24
        per_window[(log.account, log.region, log.delivery_minute)] += 1
    assert max(per_window.values()) >= 3
