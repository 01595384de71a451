"""``trailpulse plot``: the series it records is the engine's own, recording changes nothing, and the
command writes a PNG of the one API the flags name."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import msgspec
import numpy as np
import pytest

from consumers.cli import main
from consumers.plot.render import render
from consumers.plot.series import KeyFilter, SeriesRecorder
from insights.config import EngineConfig
from insights.engine import Engine
from tests.builders import START, api, run_engine, starts, steady_with, stream

WARMUP = 12 * 60
CONFIG = dataclasses.replace(EngineConfig(), warmup_minutes=WARMUP)
BUSY, QUIET = api("RunInstances", source="ec2.amazonaws.com"), api("DeleteBucket", source="s3.amazonaws.com")
MINUTES, STEP = 20 * 60, (16 * 60, 16 * 60 + 40)


def traffic() -> dict[int, list[object]]:
    """Two write APIs; RunInstances steps from 10 to 60 calls a minute for 40 minutes."""
    return stream(  # type: ignore[return-value]
        {
            BUSY: steady_with(10.0, MINUTES, seed=1, changes={STEP: 60.0}),
            QUIET: steady_with(2.0, MINUTES, seed=2),
        }
    )


def test_the_series_is_the_engines_and_recording_changes_nothing() -> None:
    records = traffic()
    engine = Engine(CONFIG)
    recorder = SeriesRecorder(engine, KeyFilter("RunInstances"))
    recorded = run_engine(records, engine=engine)  # type: ignore[arg-type]
    recorder.add_transitions(recorded)
    assert recorded == run_engine(records, CONFIG)  # type: ignore[arg-type]
    (series,) = recorder.series.values()
    assert series.key[3:] == ("ec2.amazonaws.com", "RunInstances")
    want = {m: sum(r.eventName == "RunInstances" for r in rs) for m, rs in records.items()}  # type: ignore[attr-defined]
    assert dict(zip(series.minutes, series.counts, strict=True)) == {m: float(n) for m, n in want.items()}
    (start,) = starts(recorded)
    (window,) = series.windows
    assert (window.start, window.direction) == (start.start_minute, "up") and window.end is not None
    assert START + STEP[0] <= window.start <= START + STEP[0] + 1
    before = [i for i, m in enumerate(series.minutes) if START + WARMUP <= m < window.start]
    rising = np.asarray(series.rising)[before]
    falling = np.asarray(series.falling)[before]
    assert np.isfinite(rising).all() and np.isfinite(falling).all()
    # Less than a day of history: no seasonal level yet, so nothing is a drop (falling reference 0).
    assert (falling <= rising).all() and 6 < float(np.median(rising)) < 14


def test_render_writes_a_png_of_the_requested_size(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    engine = Engine(CONFIG)
    recorder = SeriesRecorder(engine, KeyFilter("RunInstances"))
    recorder.add_transitions(run_engine(traffic(), engine=engine))  # type: ignore[arg-type]
    (series,) = recorder.series.values()
    path = tmp_path / "plot.png"
    render(series, START + 14 * 60, START + 18 * 60, path, width_in=8.0)
    assert _png_size(path) == (800, 304)


def test_the_command_draws_the_one_api_the_flags_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    logs = tmp_path / "logs"
    logs.mkdir()
    for minute, records in traffic().items():
        if records:
            (logs / f"{minute}.json").write_bytes(msgspec.json.encode({"Records": records}))
    picture = tmp_path / "out.png"
    common = [str(logs), "--warmup-minutes", str(WARMUP), "-o", str(picture)]
    assert main(["plot", *common, "--event-name", "NoSuchCall"]) == 2
    assert "no API matches" in capsys.readouterr().err and not picture.exists()
    assert main(["plot", *common, "--event-name", "RunInstances", "--from", "2026-13-01"]) == 2
    assert main(["plot", *common, "--event-name", "RunInstances"]) == 0
    assert "RunInstances: call rate per minute" in capsys.readouterr().err
    width, height = _png_size(picture)
    assert (width, height) == (1200, 456)


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (and its signature checked)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)
