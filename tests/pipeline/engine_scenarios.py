"""What the engine tests share: short configurations, background traffic, and checks every output
must pass (AWS's shape; per key, Starts and Ends alternate and pair up)."""

from __future__ import annotations

from collections.abc import Iterable

from insights.config import EngineConfig
from insights.events import insight_event
from insights.transition import InsightTransition
from tests.builders import (
    DAY,
    HOUR,
    RecordsByMinute,
    api,
    key_of,
    poisson_counts,
    stream,
)
from tests.schema import assert_insight_shape

SHORT = EngineConfig(window_minutes=DAY, warmup_minutes=2 * HOUR, allowed_lateness_minutes=10)
BACKGROUND = api("CreateBucket", source="s3.amazonaws.com")


def short(**overrides: object) -> EngineConfig:
    return EngineConfig(**{"window_minutes": DAY, "warmup_minutes": 2 * HOUR, **overrides})  # type: ignore[arg-type]


def background(minutes: int, seed: int = 99, rate: float = 5.0) -> RecordsByMinute:
    """Steady write traffic on another API of the same account and region: it keeps the event-time
    clock moving and the scope warm."""
    return stream({BACKGROUND: poisson_counts(rate, minutes, seed)})


def checked(transitions: list[InsightTransition]) -> list[InsightTransition]:
    """Every record has AWS's shape; per key, Starts and Ends alternate and pair up; every Start,
    and only a Start, says why it started."""
    shared: dict[tuple[object, ...], InsightTransition] = {}
    for t in transitions:
        assert (t.reason is not None) == (t.state == "Start"), t
        record = insight_event(t)
        assert_insight_shape(record)
        k = key_of(t)
        if t.state == "Start":
            assert k not in shared, f"second Start before an End: {t}"
            assert t.event_minute == t.start_minute
            assert t.insight_average > 0 or t.direction == "down"
            shared[k] = t
        else:
            start = shared.pop(k)
            assert t.start_minute == start.start_minute and t.direction == start.direction
            assert t.event_minute > start.event_minute
            assert t.insight_duration == t.event_minute - t.start_minute
            assert record["sharedEventID"] == insight_event(start)["sharedEventID"]
    return transitions


def of(transitions: Iterable[InsightTransition], name: str) -> list[InsightTransition]:
    return [t for t in transitions if t.event_name == name]


def one_insight(
    transitions: list[InsightTransition], name: str
) -> tuple[InsightTransition, InsightTransition]:
    mine = of(transitions, name)
    assert [t.state for t in mine] == ["Start", "End"], mine
    return mine[0], mine[1]


def ids(transitions: list[InsightTransition]) -> list[tuple[str, object]]:
    """What identifies each transition in the AWS record: its state and eventID."""
    return [(t.state, insight_event(t)["eventID"]) for t in transitions]
