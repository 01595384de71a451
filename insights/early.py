"""Early Starts: an upward spike announced while its minute is still open.

A minute closes only once the watermark is ``allowed_lateness_minutes`` past it, so a Start decided at
close reaches users more than ten minutes after the spike. But counts only grow while a minute is open
(late records add to it, nothing takes away), so a count that *already* passes the spike rule of
:mod:`insights.start_rules` — the same gates and surprise the close applies — will pass it at close
too. Such a key starts now: its Start goes out with the count so far as the insight average, and the
lifecycle marks the key (:meth:`~insights.lifecycle.Lifecycle.announce`) so that closing that minute
opens the insight without sending a second Start.

Only upward single-minute spikes start early: drops and sustained rises are judged on closed minutes.
The references are those of the moment; minutes closing in between change them very little, and the
lifecycle keeps the announced insight whatever the final count, so a Start is never taken back. That
holds only near the closed minutes: a source far ahead of the others (a partition read from hours
later than another) has open minutes whose baseline has not learnt the hours before them, so only
minutes within ``allowed_lateness_minutes + 1`` of the last closed one may start early; the others
are judged when they close.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from insights import ratio, start_rules
from insights.aggregate import MinuteBuffers
from insights.reason import StartReason
from insights.track import Track
from insights.transition import InsightTransition

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def early_starts(
    track: Track, minutes: MinuteBuffers, touched: set[int], latest: int
) -> list[InsightTransition]:
    """Starts for keys whose open-minute counts already make a spike, in the ``touched`` minutes
    (those that received records since the last call) up to minute ``latest``.

    Looks only at keys with records in open minutes that are not in (or already announcing) an
    insight. What the open minutes before a spike will do once closed is respected: they count
    towards its peak reference, and a key whose raised minutes could make a sustained rise there is
    left to the close (a sustained Start names an earlier first minute).
    """
    buffered = [m for m in minutes.open_minutes() if m <= latest]
    out: list[InsightTransition] = []
    if not any(m in touched for m in buffered):
        return out
    observed = {m: minutes.observations(m) for m in buffered}
    keys = _OpenKeys(track, np.unique(np.concatenate([slots for slots, _ in observed.values()])))
    no_slots = np.zeros(0, np.int64)
    for minute in range(min(buffered), max(buffered) + 1):
        minute_slots = observed[minute][0] if minute in observed else no_slots
        counts = np.bincount(np.searchsorted(keys.slots, minute_slots), minlength=len(keys.slots))
        if minute in touched:
            found, surprise = keys.spiking(minute, counts.astype(np.float64))
            for i in found.tolist():
                slot = int(keys.slots[i])
                values = observed[minute][1][minute_slots == slot]
                reason = keys.reason(i, float(counts[i]), float(surprise[i]))
                out.append(track.start_early(slot, minute, float(counts[i]), values, reason))
        keys.add(counts.astype(np.float64))
    return out


class _OpenKeys:
    """The keys with records in open minutes, their references and parameters, and what the open
    minutes so far will be once closed: the highest count, and whether a sustained rise may already
    be there (the rise rule, on today's references)."""

    def __init__(self, track: Track, slots: I64) -> None:
        params, enabled = track.keys.key_params(slots)
        self.track = track
        self.slots = slots
        self.p = params
        self.refs = track.references(slots)
        self.detectable = track.keys.live(slots) & enabled
        self.highest = np.zeros(len(slots))
        self.streak, self.total = track.lifecycle.rise(slots)
        self.may_sustain = np.zeros(len(slots), dtype=bool)

    def spiking(self, minute: int, counts: F64) -> tuple[I64, F64]:
        """Indexes (into :attr:`slots`) whose count so far passes the spike rule, and the surprise of
        every key's count (zero where a gate failed).

        Whether a key is free to start is asked of the lifecycle at every minute: a key announced
        at an earlier open minute of the same pass is not, so one insight gets one Start.
        """
        refs, warmup = self.refs, self.track.config.warmup_minutes
        peak = np.maximum(refs.peak, self.highest)
        gates = (
            self.track.lifecycle.free(self.slots)
            & self.detectable
            & ~self.may_sustain
            & self.track.keys.warm(minute, warmup, self.slots)
            & start_rules.spike_gates(counts, refs.mu_up, peak, self.p)
        )
        spiking, surprise = start_rules.spike_starts(
            gates, counts, np.maximum(refs.mu_up, refs.burst), refs.phi, self.p
        )
        found: I64 = np.flatnonzero(spiking).astype(np.int64)
        if len(found):  # error rises the API's calls explain do not start (insights.ratio)
            lifecycle, keys = self.track.lifecycle.cols, self.track.keys
            by_calls = ratio.early_calls_explain(self.slots, counts, refs, self.p, lifecycle, keys, found)
            found = found[~by_calls]
        return found, surprise

    def reason(self, i: int, count: float, surprise: float) -> StartReason:
        """Why key ``i``'s spike of ``count`` calls so far starts early (see :meth:`spiking`)."""
        rising, burst = float(self.refs.mu_up[i]), float(self.refs.burst[i])
        reference = self.track.spike_reference(int(self.slots[i]), rising, burst)
        threshold = float(self.p["start_surprise"][i])
        peak = max(float(self.refs.peak[i]), float(self.highest[i]))
        return StartReason("early_spike", 1, count, max(rising, burst), surprise, threshold, reference, peak)

    def add(self, counts: F64) -> None:
        """Account for one more open minute (in order)."""
        np.maximum(self.highest, counts, out=self.highest)
        raised = start_rules.raised(counts, self.refs.mu_up, self.p)
        self.streak = np.where(raised, self.streak + 1, 0.0)
        self.total = np.where(raised, self.total + counts, 0.0)
        self.may_sustain |= start_rules.sustained(self.streak, self.total, self.p)
