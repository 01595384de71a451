"""Early Starts: an upward spike announced while its minute is still open.

A minute closes only once the watermark is ``allowed_lateness_minutes`` past it, so a Start decided at
close reaches users more than ten minutes after the spike. But counts only grow while a minute is open
(late records add to it, nothing takes away), so a count that *already* passes every gate of a
single-minute spike — ``min_count``, ``min_ratio``, ``peak_margin`` and the tail surprise against the
key's references — will pass them at close too. Such a key starts now: its Start goes out with the
count so far as the insight average, and the key is marked (``early_min``) so that closing that minute
opens the insight without sending a second Start (see :func:`insights.lifecycle.decide`).

Only upward single-minute spikes start early: drops and sustained rises are judged on closed minutes.
The references are those of the moment; minutes closing in between change them very little, and the
lifecycle keeps the announced insight whatever the final count, so a Start is never taken back.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from insights.attribution import top_values
from insights.detector import upper_surprise
from insights.track import Track
from insights.transition import InsightTransition

I64 = npt.NDArray[np.int64]


def early_starts(track: Track, closed_through: int | None, warmup: int) -> list[InsightTransition]:
    """Starts for keys whose open-minute counts already make a spike, in the minutes ingested lately.

    Looks only at minutes that received records since the last call, and only at keys with records
    in open minutes that are not in (or already announcing) an insight. What the open minutes before
    a spike will do once closed is respected: they count towards its peak reference, and a key whose
    raised minutes could make a sustained rise there is left to the close (a sustained Start names
    an earlier first minute).
    """
    touched = track.touched_minutes
    buffered = [m for m in track.buffers if closed_through is None or m > closed_through]
    out: list[InsightTransition] = []
    if not any(m in touched for m in buffered):
        return out
    chunks = {m: track.buffers[m] for m in buffered}
    slots = {m: np.concatenate([s for s, _ in parts]) for m, parts in chunks.items()}
    keys = _Keys(track, np.unique(np.concatenate(list(slots.values()))))
    for minute in range(min(buffered), max(buffered) + 1):
        minute_slots = slots.get(minute, np.zeros(0, np.int64))
        counts = np.bincount(np.searchsorted(keys.slots, minute_slots), minlength=len(keys.slots))
        if minute in touched:
            for i in keys.spiking(minute, counts.astype(np.float64), warmup).tolist():
                slot = int(keys.slots[i])
                values = np.concatenate([v for _, v in chunks[minute]])[minute_slots == slot]
                out.append(_start(track, slot, minute, float(counts[i]), values))
        keys.add(counts.astype(np.float64))
    return out


class _Keys:
    """The keys with records in open minutes, their references and parameters, and what the open
    minutes so far will be once closed: the highest count, and whether a sustained rise may already
    be there (the lifecycle's streak rule, on today's references)."""

    def __init__(self, track: Track, slots: I64) -> None:
        c, rows = track.cols, track.keys.high_water
        params, enabled = track.key_params(rows)
        self.slots = slots
        self.p = {name: values[slots] for name, values in params.items()}
        self.mu_up = np.maximum(c["ewma"][slots].astype(np.float64), c["ref_up"][slots])
        self.peak = np.maximum(c["ref_peak"][slots], c["cur_max"][slots]).astype(np.float64)
        self.burst = c["ref_burst"][slots].astype(np.float64)
        self.phi = c["dispersion"][slots].astype(np.float64)
        self.scope_start = c["scope_start"][slots]
        self.free = (
            (c["open_dir"][slots] == 0) & (c["early_min"][slots] < 0) & c["live"][slots] & enabled[slots]
        )
        self.highest = np.zeros(len(slots))
        self.streak = c["up_streak"][slots].astype(np.float64)
        self.total = c["up_sum"][slots].astype(np.float64)
        self.may_sustain = np.zeros(len(slots), dtype=bool)

    def spiking(self, minute: int, counts: npt.NDArray[np.float64], warmup: int) -> I64:
        """Indexes (into :attr:`slots`) whose count so far passes the single-minute spike gates."""
        p = self.p
        gates = (
            self.free
            & ~self.may_sustain
            & (minute - self.scope_start >= warmup)
            & (counts >= p["min_count"])
            & (counts >= p["min_ratio"] * self.mu_up)
            & (counts > p["peak_margin"] * np.maximum(self.peak, self.highest))
        )
        found = np.flatnonzero(gates)
        if not len(found):
            return found.astype(np.int64)
        reference = np.maximum(self.mu_up[found], self.burst[found])
        surprise = upper_surprise(counts[found], reference, self.phi[found])
        spiking: I64 = found[surprise >= p["start_surprise"][found]].astype(np.int64)
        return spiking

    def add(self, counts: npt.NDArray[np.float64]) -> None:
        """Account for one more open minute (in order)."""
        p = self.p
        np.maximum(self.highest, counts, out=self.highest)
        raised = (counts >= 1) & (counts >= p["sustained_ratio"] * self.mu_up)
        self.streak = np.where(raised, self.streak + 1, 0.0)
        self.total = np.where(raised, self.total + counts, 0.0)
        self.may_sustain |= (self.streak >= p["sustained_minutes"]) & (self.total >= 2 * p["min_count"])


def _start(track: Track, slot: int, minute: int, count: float, values: I64) -> InsightTransition:
    """Mark ``slot`` as started at ``minute`` and build its Start from the minute's records so far."""
    track.cols["early_min"][slot] = minute
    insight_side = []
    for a in range(values.shape[1]):
        ids, n = np.unique(values[:, a], return_counts=True)
        insight_side.append(top_values(dict(zip(ids.tolist(), n.astype(float).tolist(), strict=True))))
    rows, c = track.keys.high_water, track.cols
    track.attributions.flush()
    c["base_avg"][slot] = track.baseline.average(rows)[slot]
    c["base_n"][slot] = track.baseline.minutes(rows)[slot]
    baseline = (float(c["base_avg"][slot]), max(int(c["base_n"][slot]), 1))
    return track.transition("Start", slot, (minute, minute, minute, 1), baseline, count, insight_side)
