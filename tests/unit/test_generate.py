"""``trailpulse generate``'s log files: the S3 layout, CloudTrail's record fields, late and duplicate
delivery, byte-identical output for a seed. The traffic plan is tested in ``test_generate_plan.py``,
the command line in ``test_cli_generate.py``."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import msgspec
import numpy as np
import pytest

from consumers.synth.labels import Labels
from consumers.synth.options import GenerateOptions, iso_to_minute
from consumers.synth.s3_delivery import iter_log_files
from consumers.synth.write_files import generate_to_dir, generate_with_stats
from insights.record import CloudTrailRecord
from tests.synth_labels import check_labels

SMALL = GenerateOptions(seed=7, days=1.0, api_factor=0.15, warmup_minutes=360, anomalies_per_kind=1)
# Period delivery (files named by the period they cover), where the late share is read off the names.
QUICK = GenerateOptions(
    seed=11, days=0.5, api_factor=0.15, scale=0.2, warmup_minutes=240, anomalies_per_kind=1, delivery="period"
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


def test_small_trace_labels(small: tuple[Path, Labels]) -> None:
    out, labels = small
    check_labels(labels, SMALL)
    assert json.loads((out / "labels.json").read_text()) == json.loads(json.dumps(labels))
    assert labels["start"] == "2026-01-05T00:00:00Z" and labels["minutes"] == 1440


def test_files_follow_the_s3_layout_and_are_named_by_their_delivery(
    small: tuple[Path, Labels], small_records: list[tuple[str, dict[str, object]]]
) -> None:
    assert small_records
    for name, record in small_records:
        match = PATH.fullmatch(name)
        assert match, name
        account, region, year, month, day, stamp = match.groups()
        assert record["recipientAccountId"] == account and record["awsRegion"] == region
        delivered = iso_to_minute(f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:00Z")
        assert (year, month, day) == (stamp[:4], stamp[4:6], stamp[6:8])
        # Delivered after the record was written: its period (5 min), the file's delay (up to 30
        # min) and, for a late record, a later file's period (up to 30 min after its own).
        lag = delivered - _minute(str(record["eventTime"]))
        assert 1 <= lag <= 5 + 30 + 30


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


def test_busy_windows_are_split_into_several_files() -> None:
    options = replace(QUICK, max_records_per_file=20)
    per_window: Counter[tuple[str, str, int]] = Counter()
    for log in iter_log_files(options):
        assert 1 <= len(log.records) <= 24
        per_window[(log.account, log.region, log.delivery_minute)] += 1
    assert max(per_window.values()) >= 3
