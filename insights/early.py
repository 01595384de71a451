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

    Looks only at minutes that received records since the last call, and only at keys not in (or
    already announcing) an insight. The open minutes before a spike count towards its peak
    reference, as they will once closed: a ramp of raised minutes is left to the close, where it may
    start a sustained insight, rather than announced as a spike at its top.
    """
    touched = track.touched_minutes
    open_minutes = sorted(m for m in track.buffers if closed_through is None or m > closed_through)
    rows = track.keys.high_water
    out: list[InsightTransition] = []
    if not rows or not any(m in touched for m in open_minutes):
        return out
    earlier = np.zeros(rows)  # per key, the highest count of the open minutes before this one
    for minute in open_minutes:
        chunks = track.buffers[minute]
        slots = np.concatenate([s for s, _ in chunks])
        counts = np.bincount(slots, minlength=rows).astype(np.float64)
        if minute in touched:
            for slot in _spiking(track, minute, counts, earlier, warmup).tolist():
                values = np.concatenate([v for _, v in chunks])[slots == slot]
                out.append(_start(track, slot, minute, float(counts[slot]), values))
        np.maximum(earlier, counts[:rows], out=earlier)
    return out


def _spiking(
    track: Track, minute: int, counts: npt.NDArray[np.float64], earlier: npt.NDArray[np.float64], warmup: int
) -> I64:
    """Slots whose count so far at ``minute`` passes the single-minute spike gates."""
    c, rows = track.cols, len(earlier)
    params, enabled = track.key_params(rows)
    candidates = np.flatnonzero(
        (counts[:rows] >= params["min_count"])
        & (c["open_dir"][:rows] == 0)
        & (c["early_min"][:rows] < 0)
        & c["live"][:rows]
        & (minute - c["scope_start"][:rows] >= warmup)
        & enabled
    )
    if not len(candidates):
        return np.zeros(0, np.int64)
    count = counts[candidates]
    mu_up = np.maximum(c["ewma"][candidates].astype(np.float64), c["ref_up"][candidates])
    before = earlier[candidates]
    peak = np.maximum(np.maximum(c["ref_peak"][candidates], c["cur_max"][candidates]), before)
    gates = (count >= params["min_ratio"][candidates] * mu_up) & (
        count > params["peak_margin"][candidates] * peak
    )
    candidates, count, mu_up = candidates[gates], count[gates], mu_up[gates]
    if not len(candidates):
        return np.zeros(0, np.int64)
    reference = np.maximum(mu_up, c["ref_burst"][candidates].astype(np.float64))
    surprise = upper_surprise(count, reference, c["dispersion"][candidates].astype(np.float64))
    spiking: I64 = candidates[surprise >= params["start_surprise"][candidates]].astype(np.int64)
    return spiking


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
