"""``replay --metrics-file``: the replay's figures as a Prometheus text file, agreeing with its
summary line and its Insight events, every family documented in the README."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from consumers.cli import main
from tests.builders import HOUR, api, merge, poisson_counts, steady_with, stream
from tests.unit.test_metrics import readme_reference

MINUTES = 4 * HOUR
SPIKE = (3 * HOUR, 3 * HOUR + 20)


LOG_NAME = "111122223333_CloudTrail_us-east-1_20230710T1200Z_all.json"
EMITTED = "trailpulse_insights_emitted_total"


def quiet_log(folder: Path) -> Path:
    """Half an hour of one API, nothing unusual."""
    records = stream({api("RunInstances"): poisson_counts(2.0, 30, 3)})
    log = folder / LOG_NAME
    log.write_bytes(msgspec.json.encode({"Records": [r for m in sorted(records) for r in records[m]]}))
    return log


def samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(path.read_text())
        for s in family.samples
    }


def test_the_metrics_file_holds_what_the_replay_read_and_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = merge(
        stream({api("PutObject", source="s3.amazonaws.com"): poisson_counts(5.0, MINUTES, 1)}),
        stream({api("RunInstances"): steady_with(3.0, MINUTES, 2, {SPIKE: 60})}),
    )
    flat = [r for m in sorted(records) for r in records[m]]
    log = tmp_path / LOG_NAME
    log.write_bytes(msgspec.json.encode({"Records": [*flat, {"eventTime": 5}]}))  # one reject
    (tmp_path / "notes.txt").write_text("not a log file")
    out, metrics = tmp_path / "out.jsonl", tmp_path / "replay.prom"
    argv = ["replay", str(tmp_path), "--warmup-minutes", "120", "-o", str(out)]
    assert main([*argv, "--metrics-file", str(metrics)]) == 0
    summary = capsys.readouterr().err
    events = [json.loads(line)["insightDetails"] for line in out.read_text().splitlines()]
    assert {e["state"] for e in events} == {"Start", "End"}

    got = samples(metrics)
    assert got[("trailpulse_replay_files_total", ())] == 1
    assert got[("trailpulse_replay_files_skipped_total", (("reason", "other_files"),))] == 1
    assert got[("trailpulse_records_decoded_total", ())] == len(flat)
    assert f"records={len(flat)}" in summary
    rejects = [v for k, v in got.items() if k[0] == "trailpulse_records_rejected_total"]
    assert rejects == [1] and "rejected=1" in summary
    for state in ("Start", "End"):
        labels = (("insight_type", "ApiCallRateInsight"), ("state", state))
        assert got[(EMITTED, labels)] == sum(e["state"] == state for e in events)
    assert got[("trailpulse_insights_active", (("insight_type", "ApiCallRateInsight"),))] == 0
    assert got[("trailpulse_keys_tracked", ())] >= 2
    build = [dict(k[1]) for k in got if k[0] == "trailpulse_build_info"]
    assert build and build[0]["client"] == "none"


def test_every_family_of_the_metrics_file_is_in_the_readme(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = tmp_path / "replay.prom"
    argv = ["replay", str(quiet_log(tmp_path)), "-o", str(tmp_path / "out.jsonl")]
    assert main([*argv, "--metrics-file", str(metrics)]) == 0
    capsys.readouterr()
    documented = readme_reference()
    for family in text_string_to_metric_families(metrics.read_text()):
        name = family.name + ("_total" if family.type == "counter" else "")
        assert name in documented, f"{name} is not in README.md's metrics reference"
        kind, meaning, _ = documented[name]
        assert (kind, meaning) == (family.type, family.documentation)


def test_a_metrics_file_that_cannot_be_written_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["replay", str(quiet_log(tmp_path)), "-o", str(tmp_path / "o.jsonl")]
    assert main([*argv, "--metrics-file", str(tmp_path / "missing" / "m.prom")]) == 2
    assert "cannot write the metrics file" in capsys.readouterr().err
