"""``trailpulse replay`` and ``score-series`` end to end, through the command line entry point."""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from consumers.cli import main
from consumers.commands.score_series import score_csv
from consumers.synth.labels import Labels
from consumers.synth.options import GenerateOptions
from consumers.synth.write_files import generate_to_dir
from insights.reason import RULES
from tests.schema import assert_insight_shape

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "cloudtrail-sample"
TRACE = GenerateOptions(seed=5, days=2.5, api_factor=0.3, warmup_minutes=1800, anomalies_per_kind=1)


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Labels]:
    out = tmp_path_factory.mktemp("trace")
    return out, generate_to_dir(out, TRACE)


def _replay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = main(["replay", *args])
    return status, capsys.readouterr().err


def test_replay_is_deterministic_and_independent_of_workers(
    trace: tuple[Path, Labels], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, labels = trace
    outputs = []
    for name, workers in (("a", "1"), ("b", "1"), ("c", "2")):
        status, err = _replay(
            capsys, str(root / "AWSLogs"), "--output", str(tmp_path / name), "--workers", workers
        )
        assert status == 0, err
        assert "rejected=0" in err
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
    events = [json.loads(line) for line in outputs[0].splitlines()]
    assert events, "the trace has anomalies after warm-up: expected Insight events"
    for event in events:
        assert_insight_shape(event)
    starts = {(e["recipientAccountId"], e["awsRegion"], e["insightDetails"]["eventName"]) for e in events}
    labelled = {(a["account"], a["region"], a["eventName"]) for a in labels["anomalies"]}
    assert starts & labelled, "at least one labelled anomaly is found"


def test_explain_says_why_each_start_started_and_the_reason_field_carries_it(
    trace: tuple[Path, Labels], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(trace[0] / "AWSLogs")
    status, _ = _replay(capsys, root, "--output", str(tmp_path / "plain"))
    assert status == 0
    status, err = _replay(capsys, root, "--output", str(tmp_path / "why"), "--explain", "--reason-field")
    assert status == 0, err
    plain = [json.loads(line) for line in (tmp_path / "plain").read_bytes().splitlines()]
    explained = [json.loads(line) for line in (tmp_path / "why").read_bytes().splitlines()]
    starts = [e for e in explained if e["insightDetails"]["state"] == "Start"]
    assert starts and all(list(e)[-1] == "trailpulse" for e in starts)
    assert [{k: v for k, v in e.items() if k != "trailpulse"} for e in explained] == plain
    lines = [line for line in err.splitlines() if line.startswith("Start ")]
    assert len(lines) == len(starts)
    for line, start in zip(lines, starts, strict=True):
        details, reason = start["insightDetails"], start["trailpulse"]["reason"]
        where = f"{start['recipientAccountId']} {start['awsRegion']}"
        assert (
            f"Start {details['insightType']} {where} {details['eventSource']} {details['eventName']}" in line
            and f" {start['eventTime']}: " in line
        )
        assert f"surprise {reason['surprise']:.1f} ≥ {reason['threshold']:g}" in line
        assert reason["rule"] in RULES
        assert reason["windowMinutes"] >= 1 and reason["observed"] >= 0 and reason["expected"] >= 0


def test_real_sample_replays_without_rejects(capsys: pytest.CaptureFixture[str]) -> None:
    status, err = _replay(capsys, str(SAMPLE))
    assert status == 0
    assert "records=2900" in err or "records=" in err
    assert "rejected=0" in err


def test_stdin_and_jsonl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    records = []
    for path in sorted(SAMPLE.glob("*.json")):
        records += json.loads(path.read_bytes())["Records"]
    lines = "\n".join(json.dumps(r) for r in records).encode()
    (tmp_path / "all.jsonl.gz").write_bytes(gzip.compress(lines))
    status, err = _replay(capsys, str(tmp_path / "all.jsonl.gz"))
    assert status == 0 and f"records={len(records)}" in err and "rejected=0" in err

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lines + b"\nnot json\n")))
    status, err = _replay(capsys, "-")
    assert status == 0
    assert f"records={len(records)}" in err and "rejected.invalid_json=1" in err


def test_unreadable_input_is_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, err = _replay(capsys, "/nonexistent/path")
    assert status != 0
    assert err.count("\n") == 1 and "cannot read" in err


def _series(rows: int, spike_at: int) -> str:
    rng = np.random.default_rng(3)
    lines = ["timestamp,value"]
    for i in range(rows):
        day_minute = (i * 5) % 1440
        level = 40 * (1 + 0.5 * np.sin(2 * np.pi * day_minute / 1440))
        value = rng.poisson(level * (8 if i == spike_at else 1))
        stamp = f"2026-01-{5 + (i * 5) // 1440:02d} {day_minute // 60:02d}:{day_minute % 60:02d}:00"
        lines.append(f"{stamp if i % 2 else stamp.replace(' ', 'T') + 'Z'},{value}")
    return "\n".join(lines) + "\n"


def _score(text: str) -> list[dict[str, str]]:
    sink = io.StringIO()
    score_csv(io.StringIO(text), sink)
    return list(csv.DictReader(io.StringIO(sink.getvalue())))


def test_score_series_flags_a_spike_and_streams() -> None:
    text = _series(4 * 288, spike_at=3 * 288 + 40)
    rows = _score(text)
    assert len(rows) == 4 * 288
    assert list(rows[0]) == ["timestamp", "value", "baseline", "score", "insight", "direction"]
    assert all(0.0 <= float(r["score"]) <= 1.0 and r["insight"] in ("0", "1") for r in rows)
    flagged = [i for i, r in enumerate(rows) if r["insight"] == "1"]
    assert flagged and flagged[0] == 3 * 288 + 40
    assert all(i < 3 * 288 + 40 + 10 for i in flagged), "no insight outside the spike"
    prefix = "\n".join(text.splitlines()[: 3 * 288 + 42]) + "\n"
    assert _score(prefix) == rows[: 3 * 288 + 41], "a row's output depends only on rows up to it"


def test_score_series_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\n2026-01-05T00:00:00Z,1\nyesterday,2\n")
    assert main(["score-series", str(bad)]) == 1
    assert "line 3" in capsys.readouterr().err
    good = tmp_path / "good.csv"
    good.write_text(_series(50, spike_at=-1))
    out = tmp_path / "out.csv"
    assert main(["score-series", str(good), "--output", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 51
    options = ["--evidence-surprise", "0", "--season", "week"]
    assert main(["score-series", str(good), "--output", str(out), *options]) == 0
    for wrong in (["--evidence-surprise", "-1"], ["--evidence-surprise", "nan"], ["--season", "month"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["score-series", str(good), *wrong])
        assert exit_info.value.code == 2
    assert "--evidence-surprise: must be a number >= 0" in capsys.readouterr().err
