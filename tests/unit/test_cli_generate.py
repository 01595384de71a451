"""``trailpulse generate`` on the command line: files and labels from the options, refusals with status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consumers.cli import main
from consumers.synth.options import GenerateOptions
from consumers.synth.traffic_model import plan_traffic


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


def test_cli_generate_realistic_delivery(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["generate", "--out", str(tmp_path), "--seed", "4", "--days", "0.2", "--scale", "0.3"]
    assert main([*argv, "--delivery", "realistic", "--late-fraction", "0.03", "--max-late", "25"]) == 0
    err = capsys.readouterr().err
    assert "after their period closed" in err and "late" in err
    assert main([*argv, "--overwrite", "--max-late", "2"]) == 2
    assert "max_late_minutes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*argv, "--overwrite", "--delivery", "hourly"])
