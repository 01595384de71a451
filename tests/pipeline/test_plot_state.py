"""``trailpulse plot --state-dir``: the hourly series read back from a saved daemon state is exactly
what the engine was fed, hour by hour, with the open insight; and the command draws it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from consumers.cli import main
from consumers.plot.render import render_hourly
from consumers.plot.series import KeyFilter
from consumers.plot.state_series import HourlySeries, hourly_series, matching_keys
from consumers.state.directory_store import State, StateStore
from insights.config import EngineConfig
from insights.engine import Engine
from tests.builders import HOUR, START, api, feed, starts, steady_with, stream
from tests.pipeline.test_plot import _png_size

BUSY, CLOCK = api("RunInstances"), api("DescribeInstances", read_only=False)
HOURS, TAIL = 30, 30  # whole hours fed, then minutes of the running hour


def known_counts() -> npt.NDArray[np.int64]:
    """Per minute: a level that changes every hour, a pattern within the hour (zeros included), a
    silent hour, and a running hour whose last minutes have no calls."""
    minute = np.arange(HOURS * HOUR + TAIL)
    counts = (minute // HOUR) % 7 + (minute * 5) % 11 - 3
    counts[7 * HOUR : 8 * HOUR] = 0
    counts[-10:] = 0
    return np.maximum(counts, 0).astype(np.int64)


def saved(engine: Engine, directory: Path) -> StateStore:
    store = StateStore(directory)
    store.save(State({("cloudtrail", 0): 1}, engine.snapshot()))
    return store


def restored(directory: Path, config: EngineConfig) -> HourlySeries:
    state = StateStore(directory).load()
    assert state is not None
    engine = Engine.restore(state.engine, config)
    (key,) = matching_keys(engine, KeyFilter("RunInstances"))
    series = hourly_series(engine, key)
    assert series is not None
    return series


def test_the_hourly_series_of_a_saved_state_is_what_the_engine_was_fed(tmp_path: Path) -> None:
    counts = known_counts()
    config = EngineConfig()  # warm-up 36 h: nothing starts, every minute is learnt
    engine = Engine(config)
    # Another API calls every minute so the clock reaches the end while RunInstances is silent.
    assert not feed(engine, stream({BUSY: counts, CLOCK: np.ones(len(counts), np.int64)}))
    assert not engine.finish()
    saved(engine, tmp_path)
    series = restored(tmp_path, config)

    assert series.now == START + HOURS * HOUR + TAIL and series.block == HOUR
    assert series.hours[-1] == (START + HOURS * HOUR) // HOUR  # the running hour last
    assert len(series.hours) == 7 * 24 + 1 and np.all(np.diff(series.hours) == 1)
    fed = series.hours >= START // HOUR
    by_hour = [counts[h * HOUR : (h + 1) * HOUR] for h in range(HOURS + 1)]
    assert series.means[fed].tolist() == [float(c.sum()) / len(c) for c in by_hour]
    assert series.busiest[fed].tolist() == [float(c.max()) for c in by_hour]
    assert series.minutes[fed].tolist() == [HOUR] * HOURS + [TAIL]
    assert series.means[fed][7] == 0.0  # the silent hour: 60 minutes counted, no calls
    assert np.isnan(series.means[~fed]).all() and not series.minutes[~fed].any()
    assert series.baseline_average == float(counts.sum()) / len(counts)
    assert series.window is None and series.first_minute() == START
    pytest.importorskip("matplotlib")
    picture = tmp_path / "hourly.png"
    render_hourly(series, series.first_minute(), series.now - 1, picture, width_in=8.0)
    assert _png_size(picture) == (800, 304)


def test_an_insight_open_when_the_state_was_saved_is_shaded_from_its_start(tmp_path: Path) -> None:
    config = dataclasses.replace(EngineConfig(), warmup_minutes=12 * HOUR)
    engine = Engine(config)
    step = (19 * HOUR + 30, 20 * HOUR + 10)  # 10 to 60 calls a minute, still high at the end
    transitions = feed(engine, stream({BUSY: steady_with(10.0, step[1], seed=3, changes={step: 60.0})}))
    transitions += engine.finish()
    (start,) = starts(transitions)
    saved(engine, tmp_path)
    series = restored(tmp_path, config)

    window = series.window
    assert window is not None and window.end is None and window.direction == "up"
    assert window.start == start.start_minute and START + step[0] <= window.start <= START + step[0] + 2
    assert window.baseline_average == start.baseline_average
    assert window.insight_average > 40.0
    # Minutes inside the insight are not learnt: its hour counts fewer, the running hour none.
    hour = series.hours == (START + 19 * HOUR) // HOUR
    assert 30 <= int(series.minutes[hour][0]) < HOUR and series.minutes[-1] == 0
    assert 8.0 < series.baseline_average < 12.0


def test_the_command_draws_the_state_of_the_api_the_flags_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    engine = Engine(EngineConfig(window_minutes=2 * 24 * HOUR))
    feed(engine, stream({BUSY: known_counts(), CLOCK: np.ones(HOURS * HOUR + TAIL, np.int64)}))
    state_dir = tmp_path / "state"
    saved(engine, state_dir)
    daemon_settings = tmp_path / "trailpulse.toml"  # the daemon's own file: plot skips its other tables
    daemon_settings.write_text(
        '[kafka]\nbootstrap_servers = "broker:9092"\n[run]\ninput_topics = ["cloudtrail"]\n'
        "[engine]\nwindow_minutes = 2880\n"
    )
    picture = tmp_path / "out.png"
    common = ["plot", "--state-dir", str(state_dir), "-o", str(picture)]
    with_config = [*common, "--config", str(daemon_settings)]

    assert main([*common, "--event-name", "RunInstances"]) == 2  # default ring: 168 hours, not 48
    assert "give --config the daemon's settings file" in capsys.readouterr().err
    assert main([*with_config, "--event-name", "NoSuchCall"]) == 2
    assert "no API matches" in capsys.readouterr().err
    assert main([*with_config, "--event-name", "RunInstances", "--workers", "2"]) == 2
    assert "--workers: for replayed files only" in capsys.readouterr().err
    assert main([*with_config, str(tmp_path), "--event-name", "RunInstances"]) == 2
    assert main(["plot", "--state-dir", str(tmp_path / "empty"), "--event-name", "X", "-o", "x.png"]) == 2
    assert "no state in" in capsys.readouterr().err
    assert main(["plot", "--event-name", "RunInstances", "-o", str(picture)]) == 2
    assert "not both" in capsys.readouterr().err and not picture.exists()

    assert main([*with_config, "--event-name", "RunInstances", "--account", "111122223333"]) == 0
    assert "RunInstances: call rate per minute (account 111122223333, us-east-1): no insight open" in (
        capsys.readouterr().err
    )
    assert _png_size(picture) == (1200, 456)
