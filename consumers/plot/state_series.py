"""One API's series as the daemon's saved state holds it, for ``trailpulse plot --state-dir``.

Why hourly: the engine keeps no raw minutes (7 days of them would cost ~40 KB a key). Each key
holds a ring of hourly summaries covering the baseline window (:mod:`insights.baseline`): calls,
busiest minute and minutes counted per hour, plus the running hour; so the finest picture a state
can give is the hourly mean calls per minute, with the busiest minute of each hour beside it.

Where each hour sits: every closed minute ``m`` with ``(m + 1) % block == 0`` rolls the hour for
every key at once (:meth:`insights.baseline.Baseline.roll_hour`), storing hour ``h`` at ring
position ``h % blocks``. After the engine has closed minute ``c`` the running hour is
``(c + 1) // block`` and the ring holds the ``blocks`` hours before it. An hour with no minutes
counted (before the key's account and region were observed) has no mean. Minutes inside an insight
are not learnt, so an hour the insight covers counts fewer minutes; late records amended into an
hour add to its calls but not its busiest minute.

Reading the running hour first brings the key's zero minutes up to date, as the engine does before
it reads references (:meth:`insights.track.Track.references`): that changes the given engine, which
should be a restored copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from consumers.plot.series import KeyFilter, Window
from insights.decisions import DOWN
from insights.engine import Engine
from insights.keys import ApiKey

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class HourlySeries:
    """Per hour (oldest first, the running hour last): calls per minute on average, the busiest
    minute and the minutes counted (NaN means where none were); the key's baseline average and
    recent level; ``now``, the first minute the engine has not closed; and its open insight."""

    key: ApiKey
    block: int
    hours: I64
    means: F64
    busiest: F64
    minutes: I64
    baseline_average: float
    recent_level: float
    now: int
    window: Window | None

    def first_minute(self) -> int:
        """The first minute of the oldest hour with minutes counted (``now`` if there is none)."""
        counted = np.flatnonzero(self.minutes > 0)
        return int(self.hours[counted[0]]) * self.block if len(counted) else self.now


def matching_keys(engine: Engine, wanted: KeyFilter) -> list[ApiKey]:
    """The tracked keys ``wanted`` matches, sorted."""
    return sorted(key for key in engine.track.keys.table.index if wanted.matches(key))


def hourly_series(engine: Engine, key: ApiKey) -> HourlySeries | None:
    """The hourly series of tracked ``key`` (see module docstring); None before the first close."""
    closed = engine.closed_through
    if closed is None:
        return None
    track = engine.track
    slot = track.keys.table.index[key]
    track.references(np.array([slot], np.int64))  # the running hour's zero minutes learnt
    layout, c = track.layout, track.baseline.cols
    running = (closed + 1) // layout.block
    hours = np.arange(running - layout.blocks, running + 1, dtype=np.int64)
    ring = hours[:-1] % layout.blocks
    sums = np.append(c["hour_sum"][slot, ring].astype(np.float64), float(c["cur_sum"][slot]))
    busiest = np.append(c["hour_max"][slot, ring].astype(np.float64), float(c["cur_max"][slot]))
    minutes = np.append(c["hour_n"][slot, ring].astype(np.int64), int(c["cur_n"][slot]))
    counted = minutes > 0
    means = np.full(len(hours), np.nan)
    means[counted] = sums[counted] / minutes[counted]
    busiest[~counted] = np.nan
    return HourlySeries(
        key=key,
        block=layout.block,
        hours=hours,
        means=means,
        busiest=busiest,
        minutes=minutes,
        baseline_average=float(track.baseline.average(np.array([slot], np.int64))[0]),
        recent_level=float(c["ewma"][slot]),
        now=closed + 1,
        window=open_window(engine, slot),
    )


def open_window(engine: Engine, slot: int) -> Window | None:
    """The insight open on ``slot`` (or a spike announced early, whose minute is still open), with
    the baseline average its Start reported and its unusual minutes' average so far."""
    c = engine.track.lifecycle.cols
    direction = int(c["open_dir"][slot])
    if direction != 0:
        average = float(c["ins_sum"][slot]) / max(int(c["ins_n"][slot]), 1)
        start = int(c["ins_start"][slot])
        return Window(start, None, "down" if direction == DOWN else "up", float(c["base_avg"][slot]), average)
    early = int(c["early_min"][slot])
    if early >= 0:  # its count is not final until the minute closes: no insight average yet
        return Window(early, None, "up", float(c["base_avg"][slot]), float("nan"))
    return None
