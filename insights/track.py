"""Closing a minute for every tracked key at once, and admitting and evicting keys.

A :class:`Track` holds no state of its own: it wires the steps that do, each the only writer of its
state — :class:`~insights.keyspace.KeySpace` (which key has which slot),
:class:`~insights.baseline.Baseline`, :class:`~insights.lifecycle.Lifecycle` and
:class:`~insights.attribution.Attributions` — in the order a closed minute flows through them: the
minute's view (counts against the baseline's references), the lifecycle's decisions (less the
error rises the API's calls explain, :mod:`insights.ratio`), then learning
the ordinary minutes, attributions, and the Starts and Ends. Every step works on numpy columns,
over the keys the minute must judge (:mod:`insights.activity`): idle keys learn their zero minutes
later, in bulk, so a close costs what its active keys cost.

>>> import numpy as np
>>> from insights.config import EngineConfig
>>> from insights.keys import StringTable
>>> track = Track(EngineConfig(warmup_minutes=0), StringTable())
>>> track.slot_for(("Management", "1", "us-east-1", "s3.amazonaws.com", "PutObject"), 0, 0, None)
0
>>> closed = track.close(0, np.array([3.0]), np.zeros(1, np.int64), np.zeros((1, 3), np.int64))
>>> closed.transitions, closed.view.refs.mu_up.tolist()
([], [0.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from insights import evidence, ratio
from insights.activity import Activity
from insights.attribution import Attributions, top_observed
from insights.baseline import Baseline, References
from insights.columns import Columns
from insights.config import EngineConfig
from insights.decisions import Decisions, MinuteView, without_starts
from insights.keys import ApiKey, StringTable
from insights.keyspace import Eviction, KeySpace
from insights.lifecycle import Lifecycle
from insights.reason import RULES, SUMMED_REFERENCE, Reference, StartReason, spike_reference
from insights.transition import (
    CALL_RATE,
    InsightFigures,
    InsightTransition,
    State,
    insight_type_of,
    make_transition,
)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ClosedMinute:
    """What closing one minute gave: the transitions, and the view and decisions behind them (None
    while no key is tracked). Nothing keeps them after the caller lets go."""

    transitions: list[InsightTransition]
    view: MinuteView | None
    decisions: Decisions | None


class Track:
    """Every tracked key's baseline, lifecycle and attributions, advanced one closed minute at a time."""

    def __init__(self, config: EngineConfig, strings: StringTable) -> None:
        self.config = config
        self.strings = strings
        self.layout = config.ring
        self.keys = KeySpace(config)
        self.baseline = Baseline(self.layout)
        self.lifecycle = Lifecycle()
        self.attributions = Attributions(config.attribution_slots)
        self.activity = Activity()

    @property
    def columns(self) -> tuple[Columns, ...]:
        """Every step's per-key columns."""
        return (self.keys.cols, *self._slot_state())

    def _slot_state(self) -> tuple[Columns, ...]:
        """The columns that follow the key space's slots: grown and reset with them."""
        return (self.baseline.cols, self.lifecycle.cols, self.attributions.cols, self.activity.cols)

    # -- state --------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        rows = self.keys.high_water
        return {
            "keys": self.keys.to_state(),
            "baseline": self.baseline.to_state(rows),
            "lifecycle": self.lifecycle.to_state(rows),
            "attributions": self.attributions.to_state(rows),
            "activity": self.activity.to_state(rows),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`to_state`; detector parameters are re-resolved from the current config."""
        self.keys.load_state(state["keys"])
        rows = self.keys.high_water
        self.baseline.load_state(state["baseline"], rows)
        self.lifecycle.load_state(state["lifecycle"], rows)
        self.attributions.load_state(state["attributions"], rows)
        self.activity.load_state(state["activity"], rows)

    # -- keys ---------------------------------------------------------------------------------
    def slot_for(
        self,
        key: ApiKey,
        minute: int,
        scope_start: int,
        closed_through: int | None,
        in_flight: Sequence[I64] = (),
    ) -> int:
        """The slot of ``key``, tracking it if new; -1 when the table is full of active keys.

        A new key's baseline counts the minutes closed since ``scope_start`` as zeros. ``in_flight``
        are arrays of slots the caller has observations for but not yet buffered: they must not be
        evicted, or their observations would count for the new key.
        """
        slot = self.keys.slot_of(key)
        if slot is not None:
            return slot
        slot = self.keys.add(
            key, minute, scope_start, lambda: self._evict_one(minute, closed_through, in_flight)
        )
        if slot < 0:
            return slot
        for cols in self._slot_state():
            cols.ensure(self.keys.high_water)
            cols.reset(slot)
        if closed_through is not None:
            self.baseline.backfill(slot, scope_start, closed_through)
            self.attributions.backfill(slot, scope_start, closed_through, self.config.window_minutes // 2)
        self.activity.admit(slot, closed_through)
        self._watch(np.array([slot], np.int64))
        return slot

    def _evict_one(self, minute: int, closed_through: int | None, in_flight: Sequence[I64]) -> bool:
        """Free the longest-idle key that is not in an insight and has no open-minute data."""
        rows = self.keys.high_water
        horizon = (closed_through if closed_through is not None else minute) - self.layout.block
        idle = self.keys.idle(horizon, rows) & ~self.lifecycle.is_open(slice(0, rows))
        for busy in in_flight:
            idle[busy[(busy >= 0) & (busy < rows)]] = False
        if not idle.any():
            return False
        self.attributions.flush()
        candidates = np.flatnonzero(idle)
        self._release(int(candidates[np.argmin(self.keys.last_active(candidates))]), "room")
        return True

    def _release(self, slot: int, why: Eviction) -> None:
        self.keys.release(slot, why)
        for cols in self._slot_state():
            cols.reset(slot)

    def evict_idle(self, minute: int) -> int:
        """Release keys with no records for ``idle_evict_minutes`` (their baseline is all zeros)."""
        rows = self.keys.high_water
        idle = self.keys.idle(minute - self.config.idle_evict_minutes, rows)
        idle &= ~self.lifecycle.is_open(slice(0, rows))
        slots = np.flatnonzero(idle).tolist()
        for slot in slots:
            self._release(slot, "idle")
        return len(slots)

    # -- minute close -------------------------------------------------------------------------
    def close(
        self,
        minute: int,
        counts: F64,
        slots: I64,
        values: I64,
        late: F64 | None = None,
        silent: frozenset[tuple[str, str]] = frozenset(),
        every_key: bool = False,
    ) -> ClosedMinute:
        """Score one closed minute given every key's count, decide, learn, roll hours and epochs.

        ``slots``/``values`` are the minute's observations (slots of the keys with a count, and
        their attribution values). Only the keys :mod:`insights.activity` calls hot are judged,
        unless ``every_key`` (then the view and decisions cover every slot, in slot order).
        ``late`` counts records that came too late for the decision: the baseline learns them.
        Keys of the ``silent`` account-regions start nothing (their delivery stopped).
        """
        rows = self.keys.high_water
        closed = ClosedMinute([], None, None)
        self.activity.begin(minute, rows)
        if rows:
            hot = np.arange(rows, dtype=np.int64) if every_key else self.activity.hot(slots)
            self._catch_up(hot, minute - 1)
            view = self._view(minute, counts[hot], hot, silent)
            decisions = self.lifecycle.decide(view)
            if len(decisions.start_slots):
                by_calls = ratio.calls_explain(view, decisions, self.lifecycle.cols, self.keys)
                decisions = without_starts(decisions, by_calls) if by_calls.any() else decisions
            closed = ClosedMinute(self._apply(minute, view, decisions, slots, values, late), view, decisions)
            self.activity.learnt(hot, minute)
            self.activity.busy = hot[self.lifecycle.busy(hot)]
            self._watch(hot, view.params)
        next_minute = minute + 1
        roll = next_minute % self.layout.block == 0
        rotate = next_minute % max(self.config.window_minutes // 2, 1) == 0
        if roll or rotate:
            self._catch_up(np.arange(rows, dtype=np.int64), minute)
        if roll:
            self.attributions.flush()
            self.baseline.roll_hour(next_minute // self.layout.block, rows)
            self.evict_idle(minute)
            self._watch(np.arange(rows, dtype=np.int64))
        if rotate:
            self.attributions.rotate(rows)
        return closed

    def _learn_late(self, minute: int, late: F64) -> None:
        """Late records of ``minute`` into the running hour's totals of the keys learning it."""
        slots = np.flatnonzero(late).astype(np.int64)
        slots = slots[slots < self.keys.high_water]
        learn = self.keys.learning(minute, slots) & ~self.lifecycle.is_open(slots)
        self.baseline.add_late(slots[learn], late[slots[learn]])

    def _catch_up(self, slots: I64, through: int) -> None:
        """Learn the zero minutes ``slots`` owe up to minute ``through``."""
        keys = self.keys.cols
        owed = self.activity.owed(slots, through, keys["scope_start"][slots], keys["live"][slots])
        if owed.any():
            self.baseline.learn_zeros(slots, owed)
            self.attributions.count_minutes(slots, owed)
        self.activity.learnt(slots, through)

    def references(self, slots: I64) -> References:
        """The references of ``slots`` now (their zero minutes learnt first)."""
        if self.activity.closed is not None:
            self._catch_up(slots, self.activity.closed)
        return self.baseline.references(slots)

    def _watch(self, slots: I64, params: dict[str, F64] | None = None) -> None:
        """Put ``slots`` on drop watch when a minute without calls could extend a drop (``params``:
        theirs, when the caller has them)."""
        if params is None:
            params, _ = self.keys.key_params(slots)
        refs = self.baseline.references(slots)
        could_drop = refs.mu_down >= params["drop_min_level"]
        could_drop |= evidence.watch(refs, params)
        self.activity.set_watch(slots, self.keys.live(slots) & could_drop)

    def _view(self, minute: int, counts: F64, hot: I64, silent: frozenset[tuple[str, str]]) -> MinuteView:
        params, enabled = self.keys.key_params(hot)
        eligible = self.keys.live(hot) & self.keys.warm(minute, self.config.warmup_minutes, hot) & enabled
        if silent:
            eligible &= ~self.keys.in_scopes(silent, hot)
        if (params["evidence_surprise"] > 0).any():
            known = self.keys.known_for(minute, self.layout.block * self.layout.per_day, hot)
            refs = self.baseline.references(hot, evidence=True, known=known)
        else:
            refs = self.baseline.references(hot)
        return MinuteView(minute, hot, counts, refs, eligible, params)

    def _apply(
        self, minute: int, view: MinuteView, d: Decisions, slots: I64, values: I64, late: F64 | None
    ) -> list[InsightTransition]:
        """Open and close insights, route attributions, and learn the ordinary minutes."""
        starts, announced = d.start_slots, np.zeros(0, dtype=bool)
        if len(starts):  # most minutes start nothing, and the close is a hot path
            for slot in starts.tolist():
                self.attributions.open(slot)
            base_avg, base_n = self.baseline.settled(starts, minute, self.config.allowed_lateness_minutes)
            announced = self.lifecycle.open_insights(minute, d, base_avg, base_n)

        hot = view.slots
        open_now = self.lifecycle.is_open(hot)
        in_insight = hot[open_now]
        self.attributions.observe(slots, values, in_insight, self.lifecycle.quiet(in_insight))
        learn = self.keys.learning(minute, hot) & ~open_now
        self.baseline.learn(hot[learn], view.counts[learn])
        self.attributions.count_minutes(hot[learn], 1)
        if late is not None:
            self._learn_late(minute, late)
        if not len(starts) and not len(d.end_slots):
            return []

        self.attributions.flush()
        started = []
        for i, (slot, first, n) in enumerate(
            zip(starts.tolist(), d.start_first.tolist(), d.start_n.tolist(), strict=True)
        ):
            if not announced[i]:  # an early Start is already out
                figures = self.lifecycle.figures(slot, (first, first, minute, n))
                started.append(self._transition("Start", slot, figures, reason=self._reason(view, d, i)))
        ended = []
        for slot, forced in zip(d.end_slots.tolist(), d.end_forced.tolist(), strict=True):
            figures = self.lifecycle.ending(slot, minute, forced)
            ended.append(self._transition("End", slot, figures))
            if forced:
                self.baseline.accept_level(slot, figures.insight_average)
            self.lifecycle.close(slot)
            self.attributions.close(slot)
        return sorted(started, key=_by_key) + sorted(ended, key=_by_key)

    def _reason(self, view: MinuteView, d: Decisions, i: int) -> StartReason:
        """Why start ``i`` of ``d`` started; a spike's reference named as :func:`spike_reference` says."""
        rule, slot, peak = RULES[int(d.start_rule[i])], int(d.start_slots[i]), None
        if rule == "spike":
            at, refs = int(np.searchsorted(view.slots, slot)), view.refs
            reference = self.spike_reference(slot, float(refs.mu_up[at]), float(refs.burst[at]))
            peak = float(refs.peak[at])
        else:
            reference = SUMMED_REFERENCE[rule]
        figures = (float(d.start_sum[i]), float(d.start_expected[i]), float(d.start_surprise[i]))
        return StartReason(rule, int(d.start_n[i]), *figures, float(d.start_threshold[i]), reference, peak)

    def spike_reference(self, slot: int, rising: float, burst: float) -> Reference:
        """Which reference a spike of ``slot`` was tested against (the seasonal one is read from the
        baseline: the rising reference is the higher of it and the recent level)."""
        return spike_reference(rising, burst, float(self.baseline.cols["ref_up"][slot]))

    def start_early(
        self, slot: int, minute: int, count: float, values: I64, reason: StartReason | None = None
    ) -> InsightTransition:
        """Announce a spike of ``slot`` at open ``minute`` from its ``count`` and ``values`` so far."""
        insight_side = top_observed(values)
        one = np.array([slot], np.int64)
        self.references(one)  # its zero minutes learnt: the baseline below is today's
        self.attributions.flush()
        base_avg, base_n = self.baseline.settled(one, minute, self.config.allowed_lateness_minutes)
        self.lifecycle.announce(slot, minute, float(base_avg[0]), int(base_n[0]))
        self.activity.busy = np.union1d(self.activity.busy, one)
        figures = self.lifecycle.figures(slot, (minute, minute, minute, 1), average=count)
        return self._transition("Start", slot, figures, insight_side, reason)

    def _transition(
        self,
        state: State,
        slot: int,
        figures: InsightFigures,
        insight_side: list[list[tuple[int, float]]] | None = None,
        reason: StartReason | None = None,
    ) -> InsightTransition:
        """The transition of ``slot``; attributions are ``insight_side`` (default: the counters of its
        open insight) against its baseline sketches."""
        key = self.keys.key(slot)
        if insight_side is None:
            insight_side = self.attributions.insight_top(slot)
        names = self.strings.values
        attributions = self.attributions.describe(
            slot, insight_side, names, insight_type_of(key) == CALL_RATE
        )
        return make_transition(state, key, figures, attributions, reason)


def _by_key(t: InsightTransition) -> tuple[str, ...]:
    """The order of one minute's Starts (then Ends): by key, not by slot, because which slot a key
    got depends on how records were batched when it was first seen (a batch's call-rate keys are
    tracked before its error-rate keys), and the output must not."""
    return (t.insight_type, t.account_id, t.region, t.event_source, t.event_name, t.error_code or "")
