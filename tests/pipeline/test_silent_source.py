"""An account-region whose delivery stops while others go on is one silent source, reported once,
not a drop of each of its APIs; an API of a source still speaking that drops is a drop."""

from __future__ import annotations

from insights.config import EngineConfig
from insights.engine import Engine
from tests.builders import ACCOUNT, DAY, HOUR, NAME, api, feed, merge, poisson_counts, steady_with, stream

N = 30 * HOUR
STOP = 27 * HOUR
OTHER = "444455556666"
CONFIG = EngineConfig(window_minutes=2 * DAY, warmup_minutes=6 * HOUR, source_idle_minutes=30)


def _trace(whole_account_stops: bool) -> dict[int, list[object]]:
    busy = steady_with(20.0, N, 5, {(STOP, N): 0})
    quiet = poisson_counts(5.0, N, 6)
    if whole_account_stops:
        quiet[STOP:] = 0
    return merge(
        stream({api(): busy, api("CreateBucket", source="s3.amazonaws.com"): quiet}),
        stream({api("PutObject", source="s3.amazonaws.com", account=OTHER): poisson_counts(5.0, N, 7)}),
    )


def _run(whole_account_stops: bool) -> tuple[list[str], Engine]:
    engine = Engine(CONFIG)
    out = feed(engine, _trace(whole_account_stops))  # type: ignore[arg-type]
    return [t.event_name for t in out if t.state == "Start"], engine


def test_a_silent_account_region_starts_no_drop_and_is_reported_once() -> None:
    started, engine = _run(whole_account_stops=True)
    assert NAME not in started and "CreateBucket" not in started
    silent = engine.clocks.take_silent()
    assert [(account, newest) for _, _, account, _, newest in silent] == [(ACCOUNT, silent[0][4])]
    assert silent[0][4] < engine.clocks.newest_overall() - CONFIG.source_idle_minutes  # type: ignore[operator]


def test_a_drop_on_a_source_still_speaking_starts() -> None:
    started, _ = _run(whole_account_stops=False)
    assert started == [NAME]
