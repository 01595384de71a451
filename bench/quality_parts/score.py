"""Scoring one trace of the quality bench against its ``labels.json``: pure, so a test can hand it labels.

* An anomaly is detected by a Start of its insight type (and error code) on its API whose first
  unusual minute falls in ``[start - SLACK, end)``; recall is kept by kind and by tier of its z.
* A Start on a decoy's API within ``[window start - SLACK, window end + TAIL)`` is a decoy trip;
  otherwise it is true if it falls on an API during (or ``TAIL`` minutes after) one of its anomalies,
  of any insight type (an error storm on a write API also raises its call rate), else false.
* Delay: the minute whose close decided the first matching Start minus the anomaly's first minute;
  beside it, its floor (``ceiling.earliest_reach``): the first minute's close at which the window's
  realised counts so far were within reach of the threshold.
* Ceiling: given which anomalies the trace's realised counts put within reach of the threshold
  (``bench/quality_parts/ceiling.py``), how many of them there are and how many were found, by tier.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from insights.transition import InsightTransition

SLACK = 2
TAIL = 15
Key = tuple[str, str, str, str]


def api_of(item: Any) -> Key:
    """(account, region, eventSource, eventName) of a transition or a label."""
    if isinstance(item, InsightTransition):
        return (item.account_id, item.region, item.event_source, item.event_name)
    return (item["account"], item["region"], item["eventSource"], item["eventName"])


def describe(t: InsightTransition) -> str:
    """One line naming a Start, for ``--verbose``."""
    return f"{t.insight_type}:{t.event_name}:{t.error_code}:{t.direction}@{t.start_minute}"


@dataclass
class TraceScore:
    """What one trace (with anomalies, or its clean twin) scored; counts add up across seeds."""

    found: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    delays: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    time_delays: list[int] = field(default_factory=list)
    starts: int = 0
    true_starts: int = 0
    false: list[str] = field(default_factory=list)
    decoy_trips: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    #: Per tier: anomalies within the ceiling, and how many of those were found.
    reachable: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    #: Of the anomalies found that have a delay floor: the delay and its floor, each.
    paired_delays: list[tuple[int, int]] = field(default_factory=list)
    #: The delay floor of every anomaly that has one (its window so far was within reach at some
    #: minute), found or not.
    floors: list[int] = field(default_factory=list)

    def add(self, other: TraceScore) -> None:
        """Add ``other``'s counts and lists to these."""
        for key, (hit, total) in other.found.items():
            self.found[key][0] += hit
            self.found[key][1] += total
        for kind, values in other.delays.items():
            self.delays[kind] += values
        self.time_delays += other.time_delays
        self.starts += other.starts
        self.true_starts += other.true_starts
        self.false += other.false
        self.decoy_trips += other.decoy_trips
        self.missed += other.missed
        for tier, (within, found) in other.reachable.items():
            self.reachable[tier][0] += within
            self.reachable[tier][1] += found
        self.paired_delays += other.paired_delays
        self.floors += other.floors


def _hits(a: dict[str, Any], starts: list[InsightTransition]) -> list[InsightTransition]:
    return [
        t
        for t in starts
        if api_of(t) == api_of(a)
        and t.insight_type == a["insightType"]
        and (a["errorCode"] is None or t.error_code == a["errorCode"])
        and a["start_minute"] - SLACK <= t.start_minute < a["end_minute"]
    ]


def score(
    labels: dict[str, Any],
    found: list[InsightTransition],
    reachable: list[bool] | None = None,
    floors: list[int | None] | None = None,
) -> TraceScore:
    """Score the transitions ``found`` in a trace against its labels (anomalies may be none);
    ``reachable`` says, per anomaly, whether it is within the ceiling (none: not counted), and
    ``floors`` its delay floor (``ceiling.earliest_reach``; None where it has none)."""
    result = TraceScore()
    starts = [t for t in found if t.state == "Start"]
    anomalies = labels["anomalies"]
    for i, a in enumerate(anomalies):
        tier = a.get("tier", "clear")
        result.found[(a["kind"], tier)][1] += 1
        hits = _hits(a, starts)
        floor = None if floors is None else floors[i]
        if floor is not None:
            result.floors.append(floor)
        if reachable is not None and reachable[i]:
            result.reachable[tier][0] += 1
            result.reachable[tier][1] += bool(hits)
        if hits:
            first = min(hits, key=lambda t: t.decided_minute)
            result.found[(a["kind"], tier)][0] += 1
            result.delays[a["kind"]].append(first.decided_minute - a["start_minute"])
            if floor is not None:
                result.paired_delays.append((first.decided_minute - a["start_minute"], floor))
            result.time_delays.append(first.start_minute - a["start_minute"])
        else:
            reach = "" if reachable is None else f" ({'within' if reachable[i] else 'beyond'} ceiling)"
            result.missed.append(
                f"{a['kind']}/{tier} z={a.get('z')}:{a['eventName']}:{a['errorCode']}@{a['start']}{reach}"
            )
    for t in starts:
        result.starts += 1
        decoy = next(
            (
                d
                for d in labels.get("decoys", [])
                if api_of(t) == api_of(d)
                and d["start_minute"] - SLACK <= t.start_minute < d["end_minute"] + TAIL
            ),
            None,
        )
        if decoy is not None:
            result.decoy_trips.append(f"{decoy['kind']}:{describe(t)}")
        elif any(
            api_of(t) == api_of(a) and a["start_minute"] - SLACK <= t.start_minute < a["end_minute"] + TAIL
            for a in anomalies
        ):
            result.true_starts += 1
        else:
            result.false.append(describe(t))
    return result
