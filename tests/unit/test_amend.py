"""Late records amend: they cannot change a decision already taken, but they still count in their
hour's baseline total; switched off, they are only counted as late."""

from __future__ import annotations

import numpy as np

from insights.config import EngineConfig, suppress
from insights.engine import Engine
from tests.builders import ACCOUNT, REGION, api, record

BASE = 28_000_020  # a minute at the start of an hour
WRITE = api("PutObject", source="s3.amazonaws.com")
BEHIND = "999999999999"


def _engine(amend: bool, late_minutes: list[int]) -> Engine:
    # Detection off: a key inside an insight learns nothing, late or not.
    config = EngineConfig(allowed_lateness_minutes=2, amend_late_records=amend, rules=(suppress(),))
    engine = Engine(config)
    for minute in range(30):
        engine.process([record(BASE + minute, name=WRITE.name, source=WRITE.source) for _ in range(5)])
        if minute <= 15:  # another account-region, behind: minutes close through 12 only
            engine.process([record(BASE + minute, account=BEHIND)])
    engine.process([record(BASE + m, name=WRITE.name, source=WRITE.source) for m in late_minutes])
    engine.process(
        [record(BASE + 40, name=WRITE.name, source=WRITE.source), record(BASE + 40, account=BEHIND)]
    )
    return engine


def _calls(engine: Engine) -> float:
    """The key's calls in its baseline so far (the average times the minutes counted)."""
    baseline = engine.track.baseline
    slot = engine.track.keys.slot_of(("Management", ACCOUNT, REGION, WRITE.source, WRITE.name))
    assert slot is not None
    index = np.array([slot])
    return float(baseline.average(index)[0] * baseline.minutes(index)[0])


def test_late_records_enter_their_hours_total_for_closed_and_open_minutes() -> None:
    on_time = _engine(True, [])
    late = _engine(True, [10, 10, 20])  # late for their source (newest 29); 10 closed, 20 still open
    assert late.normaliser.skipped["late"] == 3
    assert late.normaliser.amended == 3
    assert np.isclose(_calls(late), _calls(on_time) + 3)


def test_switched_off_late_records_are_only_counted() -> None:
    on_time = _engine(False, [])
    late = _engine(False, [10, 20])
    assert late.normaliser.skipped["late"] == 2 and late.normaliser.amended == 0
    assert _calls(late) == _calls(on_time)
