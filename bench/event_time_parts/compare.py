"""Whether several reads of the same records found the same insights, and where their events differ.

The eventIDs are the acceptance: an ID is UUIDv5 of key, type and start minute, so the same set means
the same insights at the same minutes. The bodies are reported beside it, not hidden: an early Start
carries its count so far and the attribution averages of the moment it went out, which may depend on
what else had arrived by then, and a record later than the lateness is amended into whichever
baseline hour it reaches, so two deliveries can agree on every eventID and still differ in a few
values.
Each read's body is compared with the first read's (the reference), field by field.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


def differing_paths(a: Any, b: Any, path: str = "") -> dict[str, tuple[Any, Any]]:
    """Dotted paths of the leaves where ``a`` and ``b`` differ, each with its first pair of values;
    list indices are written ``[]``, and a list whose length differs is named whole.

    >>> differing_paths({"x": 1, "s": [{"v": 1}, {"v": 2}]}, {"x": 1, "s": [{"v": 1}, {"v": 3}]})
    {'s[].v': (2, 3)}
    """
    if isinstance(a, dict) and isinstance(b, dict):
        found: dict[str, tuple[Any, Any]] = {}
        for key in sorted(a.keys() | b.keys()):
            inner = f"{path}.{key}" if path else str(key)
            if key in a and key in b:
                found = {**differing_paths(a[key], b[key], inner), **found}
            else:
                found.setdefault(inner, (a.get(key), b.get(key)))
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        found = {}
        for x, y in zip(a, b, strict=True):
            found = {**differing_paths(x, y, f"{path}[]"), **found}
        return found
    return {} if a == b else {path or "(whole event)": (a, b)}


@dataclass
class InsightComparison:
    """The reads' eventIDs and, for the eventIDs all of them hold, how their bodies compare."""

    sources: tuple[str, ...]
    ids: dict[str, set[str]]
    common: set[str] = field(default_factory=set)
    differing: dict[str, int] = field(default_factory=dict)  # read -> events unlike the reference's
    differing_events: Counter[str] = field(default_factory=Counter)  # state -> events differing anywhere
    fields: Counter[str] = field(default_factory=Counter)  # path -> events where it differs in any read
    # path -> its first difference: (read, eventID, the reference's value, that read's value)
    examples: dict[str, tuple[str, str, Any, Any]] = field(default_factory=dict)
    described: dict[str, str] = field(default_factory=dict)  # eventID not in every read -> what it is

    @property
    def union(self) -> set[str]:
        return set().union(*self.ids.values())

    @property
    def same_event_ids(self) -> bool:
        return all(ids == self.union for ids in self.ids.values())

    def missing(self, source: str) -> set[str]:
        """eventIDs some other read holds and this one does not."""
        return self.union - self.ids[source]

    def lines(self) -> list[str]:
        """The comparison, for the bench's output."""
        verdict = "yes" if self.same_event_ids else "NO"
        out = [f"same set of Insight eventIDs in all {len(self.sources)} reads: {verdict}"]
        for s in self.sources:
            out.append(f"  {s}: {len(self.ids[s]):,} eventIDs, {len(self.missing(s)):,} missing")
            out += [
                f"    missing {event_id}: {self.described[event_id]}" for event_id in sorted(self.missing(s))
            ]
        reference = self.sources[0]
        states = ", ".join(f"{n:,} {state}" for state, n in sorted(self.differing_events.items())) or "none"
        out.append(f"bodies of the {len(self.common):,} common events: differing in some read: {states}")
        out += [f"  {s} vs {reference}: {self.differing[s]:,} differ" for s in self.sources[1:]]
        for path, count in self.fields.most_common():
            source, event_id, ref, other = self.examples[path]
            out.append(f"  field {path}: {count:,} events (e.g. {event_id} {ref!r} vs {other!r} in {source})")
        return out

    def doc(self) -> dict[str, Any]:
        return {
            "same_event_ids": self.same_event_ids,
            "event_ids": {s: len(self.ids[s]) for s in self.sources},
            "missing": {s: sorted(self.missing(s)) for s in self.sources},
            "common": len(self.common),
            "differing": dict(self.differing),
            "differing_events": dict(self.differing_events),
            "fields": dict(self.fields),
        }


def describe(event: dict[str, Any]) -> str:
    """One line naming an Insight event: state, type, API, account-region and time.

    >>> describe({"eventTime": "t", "awsRegion": "r", "recipientAccountId": "a", "insightDetails": {
    ...     "state": "Start", "insightType": "ApiCallRateInsight", "eventSource": "s", "eventName": "n"}})
    'Start ApiCallRateInsight s n a/r at t'
    """
    d = event["insightDetails"]
    where = f"{event.get('recipientAccountId')}/{event.get('awsRegion')}"
    return (
        f"{d['state']} {d['insightType']} {d['eventSource']} {d['eventName']} {where} at {event['eventTime']}"
    )


def compare_insights(bodies: dict[str, dict[str, Any]]) -> InsightComparison:
    """Compares reads given as ``{read: {eventID: event}}``; the first read is the reference."""
    sources = tuple(bodies)
    result = InsightComparison(sources, {s: set(bodies[s]) for s in sources})
    result.common = set.intersection(*result.ids.values()) if sources else set()
    reference = bodies[sources[0]] if sources else {}
    for source in sources:
        for event_id in bodies[source].keys() - result.common:
            result.described.setdefault(event_id, describe(bodies[source][event_id]))
    result.differing = {s: 0 for s in sources[1:]}
    for event_id in sorted(result.common):
        paths: set[str] = set()
        for source in sources[1:]:
            found = differing_paths(reference[event_id], bodies[source][event_id])
            result.differing[source] += bool(found)
            for path, (ref, other) in found.items():
                result.examples.setdefault(path, (source, event_id, ref, other))
            paths |= found.keys()
        if paths:
            result.differing_events[str(reference[event_id]["insightDetails"]["state"])] += 1
            result.fields.update(paths)
    return result
