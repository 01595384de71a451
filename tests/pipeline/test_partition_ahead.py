"""A partition read hours ahead of another gives the Insight events of an in-order read.

Its spike minutes arrive while the closed minutes are far behind (held by the other partition), too
far for an early Start (:mod:`insights.early`); they are judged once the closes come within reach,
whether or not more of their records arrive then, and the Start's baseline figures are those of the
hours certainly learnt before its minute (:meth:`insights.baseline.Baseline.settled`), not of how far
the closes had got. Here one more record of the second spike minute arrives after the catch-up:
were minutes judged only when records arrive, that minute would start the insight and the first
would be skipped.
"""

from __future__ import annotations

from insights.engine import Engine
from insights.events import insight_event
from tests.builders import HOUR, START, api, merge, steady_with, stream
from tests.pipeline.engine_scenarios import SHORT

N = 10 * HOUR
SPIKE = 7 * HOUR  # 60 calls, then 5, then 80: two spikes of one insight
AHEAD = api("RunInstances", account="111122223333")
BEHIND = api("CreateBucket", source="s3.amazonaws.com", account="444455556666")


def _events(transitions: list) -> list[dict[str, object]]:  # type: ignore[type-arg]
    return sorted((insight_event(t) for t in transitions), key=lambda e: str(e["eventID"]))


def test_a_partition_far_ahead_starts_where_an_in_order_read_does() -> None:
    ahead = stream({AHEAD: steady_with(5.0, N, 3, {(SPIKE, SPIKE + 1): 60, (SPIKE + 2, SPIKE + 3): 80})})
    # Nothing from "b" in the spike's minutes: no record of another partition touches them either.
    behind = stream({BEHIND: steady_with(5.0, N, 4, {(SPIKE, SPIKE + 4): 0})})
    straggler_minute = START + SPIKE + 2
    straggler = ahead[straggler_minute].pop()

    in_order = Engine(SHORT)
    expected = []
    for minute, records in sorted(merge(ahead, behind).items()):
        expected += in_order.process(records + ([straggler] if minute == straggler_minute else []))
    expected += in_order.finish()

    skewed = Engine(SHORT)
    got = []
    cut = START + SPIKE + 10
    got += skewed.process(behind[START], "b")  # "b" has begun, so it holds the closes ...
    for minute in sorted(m for m in ahead if m < cut):  # ... while partition "a" runs hours ahead ...
        got += skewed.process(ahead[minute], "a")
    for minute in sorted(m for m in behind if m > START):  # ... "b" catches up ...
        got += skewed.process(behind[minute], "b")
    got += skewed.process([straggler], "a")  # ... and "a" carries on, a record for a spike minute first
    for minute in sorted(m for m in ahead if m >= cut):
        got += skewed.process(ahead[minute], "a")
    got += skewed.finish()

    starts = [t for t in expected if t.state == "Start"]
    assert [t.start_minute - START for t in starts] == [SPIKE], starts
    assert skewed.normaliser.skipped["late"] == 0
    assert _events(got) == _events(expected)
