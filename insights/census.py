"""What the engine holds now, for reports (the daemon's metrics): keys, open insights, the busiest keys.

Read-only, and cheap enough to call once per closed minute: nothing here changes the engine.
:func:`top_keys` ranks by the last closed minute's counts, so it names at most ``k`` keys however
many an input invents: the bound that lets a report show per-API figures at all.

>>> from insights.config import EngineConfig
>>> from insights.record import CloudTrailRecord
>>> def call(name: str, n: int, at: str) -> list[CloudTrailRecord]:
...     return [CloudTrailRecord(f"2026-01-05T10:{at}:00Z", "ec2.amazonaws.com", name, "us-east-1",
...             f"{name}{at}{i}", "111122223333", readOnly=False) for i in range(n)]
>>> engine = Engine(EngineConfig(warmup_minutes=0, allowed_lateness_minutes=0))
>>> _ = engine.process(call("RunInstances", 3, "00") + call("StopInstances", 1, "00"))
>>> _ = engine.process(call("RunInstances", 1, "01"))  # minute 00 closes
>>> [(f.key[4], f.rate) for f in top_keys(engine, 5)]
[('RunInstances', 3.0), ('StopInstances', 1.0)]
>>> open_insights(engine), tracked_keys(engine)
({}, 2)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from insights.engine import Engine
from insights.keys import ApiKey
from insights.transition import insight_type_of


@dataclass(frozen=True, slots=True)
class KeyFigures:
    """One key as its last closed minute judged it: ``rate`` (calls, or errors, in that minute),
    ``baseline`` (its baseline average per minute, zero minutes included) and ``score`` (the
    detector's surprise, in the units of ``start_surprise``)."""

    key: ApiKey
    minute: int
    rate: float
    baseline: float
    score: float


def tracked_keys(engine: Engine) -> int:
    return len(engine.track.keys)


def open_insights(engine: Engine) -> dict[str, int]:
    """Insights started and not ended yet, by type."""
    track = engine.track
    rows = track.keys.high_water
    slots = np.flatnonzero(track.lifecycle.is_open(slice(0, rows))).tolist()
    return dict(Counter[str](insight_type_of(track.keys.key(slot)) for slot in slots))


def top_keys(engine: Engine, k: int) -> list[KeyFigures]:
    """The ``k`` keys with the most calls in the last closed minute (ties: the higher score first,
    then slot order at the cut, then the key), keys without any left out. Costs numpy work over the
    minute's judged keys and Python work over ``k`` of them, however many keys tie.

    Valid right after the call to the engine that closed that minute: a later batch may release a
    key's slot and give it to another key."""
    closed = engine.last_close
    if closed is None or closed.view is None or closed.decisions is None or k <= 0:
        return []
    view, surprise = closed.view, closed.decisions.surprise
    busy = np.flatnonzero(view.counts > 0)
    chosen = busy[np.lexsort((-surprise[busy], -view.counts[busy]))[:k]]
    slots = view.slots[chosen]
    keys = engine.track.keys.table.keys
    averages = engine.track.baseline.average(slots)
    found = [
        KeyFigures(key, view.minute, float(view.counts[i]), float(avg), float(surprise[i]))
        for i, slot, avg in zip(chosen.tolist(), slots.tolist(), averages.tolist(), strict=True)
        if (key := keys[slot]) is not None
    ]
    found.sort(key=lambda f: (-f.rate, -f.score, f.key))
    return found
