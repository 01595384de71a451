"""``replay --leave-open`` leaves the minutes open at the end of the input open, as a caught-up
``trailpulse run`` does: its output is the engine's without the final close, which ``run`` is
compared with; without it, the final close decides what those minutes hold (here an End)."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from consumers.cli import main
from insights.config import EngineConfig
from insights.engine import Engine
from insights.events import insight_event
from tests.builders import HOUR, api, merge, poisson_counts, steady_with, stream

MINUTES = 4 * HOUR
SPIKE = (MINUTES - 12, MINUTES - 9)  # its End is decided in minutes the lateness keeps open


def test_leave_open_gives_the_engine_output_without_the_final_close(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = merge(
        stream({api("PutObject", source="s3.amazonaws.com"): poisson_counts(5.0, MINUTES, 1)}),
        stream({api("RunInstances"): steady_with(3.0, MINUTES, 2, {SPIKE: 60})}),
    )
    log = tmp_path / "111122223333_CloudTrail_us-east-1_20230710T1200Z_all.json"
    log.write_bytes(msgspec.json.encode({"Records": [r for m in sorted(records) for r in records[m]]}))
    settings = tmp_path / "engine.toml"
    settings.write_text("[engine]\nwarmup_minutes = 120\nwindow_minutes = 1440\n")
    engine = Engine(EngineConfig(warmup_minutes=120, window_minutes=1440))
    left_open = [insight_event(t)["eventID"] for m in sorted(records) for t in engine.process(records[m])]
    closed = left_open + [insight_event(t)["eventID"] for t in engine.finish()]
    assert len(closed) == len(left_open) + 1  # the spike's End comes only from the final close

    for flags, expected in (([], closed), (["--leave-open"], left_open)):
        out = tmp_path / "out.jsonl"
        assert main(["replay", str(log), "--config", str(settings), "-o", str(out), *flags]) == 0
        capsys.readouterr()
        assert [json.loads(line)["eventID"] for line in out.read_text().splitlines()] == expected
