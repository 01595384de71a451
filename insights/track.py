"""Every tracked key end to end: minute buffers, baselines, lifecycle and attributions.

Keys of both insight types live in one table so that closing a minute scores all of them in one
pass: ``(category, account, region, eventSource, eventName)`` counts write calls
(``ApiCallRateInsight``) and ``(…, errorCode)`` counts calls failing with that code
(``ApiErrorRateInsight``). The track receives observations as columns (minute, key slot, attribute
value ids), buffers them per open minute, and when a minute closes scores every key at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from insights.attribution import Attributions, attribution_fields
from insights.baseline import Baseline, baseline_fields
from insights.columns import Columns, Field
from insights.config import DetectorParams, EngineConfig
from insights.keys import ApiKey, KeyTable, StringTable
from insights.lifecycle import DOWN, LIFECYCLE_FIELDS, Decisions, MinuteView, decide
from insights.snapshot import pack_array, unpack_array
from insights.transition import Attribution, AttributionValue, InsightTransition, InsightType

I64 = npt.NDArray[np.int64]
CALL_RATE: InsightType = "ApiCallRateInsight"
ERROR_RATE: InsightType = "ApiErrorRateInsight"
ATTRIBUTES = ("userIdentityArn", "userAgent", "errorCode")
PARAM_NAMES = [f.name for f in dataclasses.fields(DetectorParams) if f.name != "enabled"]
RESET_AT_START = ("quiet", "quiet_sum", "up_streak", "up_sum", "up_mu", "dn_streak", "dn_sum", "dn_mu")
META_FIELDS: dict[str, Field] = {
    "live": Field("bool"),
    "scope_start": Field("int64"),
    "last_active": Field("int64"),
    "param_idx": Field("int32"),
}


def insight_type_of(key: ApiKey) -> InsightType:
    """Call-rate keys name an API; error-rate keys name an API and an error code."""
    return ERROR_RATE if len(key) > 5 else CALL_RATE


class Track:
    """State and per-minute processing of every key."""

    def __init__(self, config: EngineConfig, strings: StringTable) -> None:
        self.attribute_names = ATTRIBUTES
        self.config = config
        self.strings = strings
        self.layout = config.ring
        self.keys = KeyTable(config.max_keys)
        fields = {**META_FIELDS, **baseline_fields(self.layout), **LIFECYCLE_FIELDS}
        fields.update(attribution_fields(len(ATTRIBUTES), config.attribution_slots))
        self.cols = Columns(fields)
        self.baseline = Baseline(self.cols, self.layout)
        self.attributions = Attributions(self.cols, len(ATTRIBUTES))
        self.params: list[DetectorParams] = []
        self.buffers: dict[int, list[tuple[I64, I64]]] = {}
        self.closed_through: int | None = None
        self._params_cache: tuple[dict[str, npt.NDArray[np.float64]], npt.NDArray[np.bool_]] | None = None
        self.last_view: MinuteView | None = None
        self.last_decisions: Decisions | None = None
        self.late_records = 0
        self.dropped_full = 0
        self.touched_minutes: set[int] = set()

    # -- state --------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        rows = self.keys.high_water
        return {
            "keys": self.keys.to_state(),
            "columns": {name: pack_array(a) for name, a in self.cols.to_state(rows).items()},
            "buffers": [
                [
                    minute,
                    pack_array(np.concatenate([s for s, _ in chunks])),
                    pack_array(np.concatenate([v for _, v in chunks])),
                ]
                for minute, chunks in sorted(self.buffers.items())
            ],
            "closed_through": self.closed_through,
            "late_records": self.late_records,
            "dropped_full": self.dropped_full,
            "attributions": self.attributions.to_state(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`to_state`; detector parameters are re-resolved from the current config."""
        self.keys.load_state(state["keys"])
        rows = self.keys.high_water
        self.cols.load_state({n: unpack_array(a) for n, a in state["columns"].items()}, rows)
        self.buffers = {
            int(minute): [(unpack_array(slots), unpack_array(values))]
            for minute, slots, values in state["buffers"]
        }
        self.closed_through = state["closed_through"]
        self.late_records = int(state["late_records"])
        self.dropped_full = int(state["dropped_full"])
        self.attributions.load_state(state["attributions"])
        self.params = []
        self._params_cache = None
        for slot, key in enumerate(self.keys.keys):
            if key is not None:
                self.cols["param_idx"][slot] = self._param_index(key)

    # -- keys ---------------------------------------------------------------------------------
    def slot_for(
        self, key: ApiKey, minute: int, scope_start: int, in_flight: Sequence[npt.NDArray[np.int64]] = ()
    ) -> int:
        """The slot of ``key``, tracking it if new; -1 when the table is full of active keys.

        ``in_flight`` are arrays of slots the caller has observations for but not yet ingested:
        they must not be evicted, or their observations would count for the new key.
        """
        slot = self.keys.index.get(key)
        if slot is not None:
            return slot
        slot = self.keys.insert(key)
        if slot < 0 and self._evict_one(minute, in_flight):
            slot = self.keys.insert(key)
        if slot < 0:
            self.dropped_full += 1
            return -1
        self.cols.ensure(self.keys.high_water)
        self.cols.reset(slot)
        c = self.cols
        c["live"][slot] = True
        c["scope_start"][slot] = scope_start
        c["last_active"][slot] = minute
        c["param_idx"][slot] = self._param_index(key)
        self._params_cache = None
        if self.closed_through is not None:
            self.baseline.backfill(slot, scope_start, self.closed_through)
            self.attributions.backfill(
                slot, scope_start, self.closed_through, self.config.window_minutes // 2
            )
        return slot

    def referenced_values(self) -> I64:
        """Attribution value ids held anywhere in this track (buffers included)."""
        parts = [self.attributions.referenced_values(self.keys.high_water)]
        parts += [values.ravel() for chunks in self.buffers.values() for _, values in chunks]
        return np.concatenate(parts)

    def remap_values(self, mapping: I64) -> None:
        """Apply a string-table compaction to every value id this track holds."""
        self.attributions.remap(mapping, self.keys.high_water)
        self.buffers = {m: [(s, mapping[v]) for s, v in chunks] for m, chunks in self.buffers.items()}

    def lower_scope_start(self, scope: tuple[str, str], minute: int) -> None:
        """An account/region turned out to start earlier (out-of-order delivery within lateness)."""
        starts = self.cols["scope_start"]
        for slot, key in enumerate(self.keys.keys):
            if key is not None and (key[1], key[2]) == scope and starts[slot] > minute:
                starts[slot] = minute

    def _param_index(self, key: ApiKey) -> int:
        params = self.config.params_for(insight_type_of(key), key[3], key[4])
        if params not in self.params:
            self.params.append(params)
        return self.params.index(params)

    def _evict_one(self, minute: int, in_flight: Sequence[npt.NDArray[np.int64]]) -> bool:
        """Free the longest-idle key that is not in an insight and has no open-minute data."""
        rows = self.keys.high_water
        horizon = (self.closed_through if self.closed_through is not None else minute) - self.layout.block
        c = self.cols
        idle = c["live"][:rows] & (c["open_dir"][:rows] == 0) & (c["last_active"][:rows] < horizon)
        for busy in in_flight:
            idle[busy[(busy >= 0) & (busy < rows)]] = False
        if not idle.any():
            return False
        self.attributions.flush()
        candidates = np.flatnonzero(idle)
        self._release(int(candidates[np.argmin(c["last_active"][:rows][candidates])]))
        return True

    def _release(self, slot: int) -> None:
        self.keys.release(slot)
        self.cols.reset(slot)
        self._params_cache = None

    def evict_idle(self, minute: int) -> int:
        """Release keys with no records for ``idle_evict_minutes`` (their baseline is all zeros)."""
        rows = self.keys.high_water
        c = self.cols
        idle = c["live"][:rows] & (c["open_dir"][:rows] == 0)
        idle &= c["last_active"][:rows] < minute - self.config.idle_evict_minutes
        slots = np.flatnonzero(idle).tolist()
        for slot in slots:
            self._release(slot)
        return len(slots)

    # -- ingest -------------------------------------------------------------------------------
    def ingest(self, minutes: I64, slots: I64, values: I64) -> None:
        """Buffer observations by minute; those for already closed minutes are late."""
        keep = slots >= 0
        if self.closed_through is not None:
            late = minutes <= self.closed_through
            self.late_records += int(np.count_nonzero(late & keep))
            keep &= ~late
        if not keep.all():
            minutes, slots, values = minutes[keep], slots[keep], values[keep]
        if not len(minutes):
            return
        order = np.argsort(minutes, kind="stable")
        minutes, slots, values = minutes[order], slots[order], values[order]
        last_active = self.cols["last_active"]
        # Sorted by minute, the last write per slot carries its newest minute.
        last_active[slots] = np.maximum(last_active[slots], minutes)
        firsts = np.flatnonzero(np.diff(minutes, prepend=minutes[0] - 1))
        ends = [*firsts[1:].tolist(), len(minutes)]
        for begin, end in zip(firsts.tolist(), ends, strict=True):
            minute = int(minutes[begin])
            self.buffers.setdefault(minute, []).append((slots[begin:end], values[begin:end]))
            self.touched_minutes.add(minute)

    # -- minute close -------------------------------------------------------------------------
    def close_minute(self, minute: int, warmup: int) -> list[InsightTransition]:
        """Score ``minute`` for every key from its buffered observations."""
        chunks = self.buffers.pop(minute, [])
        if chunks:
            slots = np.concatenate([s for s, _ in chunks])
            values = np.concatenate([v for _, v in chunks])
        else:
            slots = np.zeros(0, np.int64)
            values = np.zeros((0, len(self.attribute_names)), np.int64)
        counts = np.bincount(slots, minlength=self.keys.high_water).astype(np.float64)
        return self.close_counts(minute, counts, slots, values, warmup)

    def close_counts(
        self, minute: int, counts: npt.NDArray[np.float64], slots: I64, values: I64, warmup: int
    ) -> list[InsightTransition]:
        """Score one closed minute given every key's count, decide, learn, roll hours and epochs.

        ``slots``/``values`` are the minute's observations for attributions (may be empty).
        The minute's view and decisions stay readable in ``last_view``/``last_decisions``.
        """
        rows = self.keys.high_water
        self.closed_through = minute
        transitions: list[InsightTransition] = []
        if rows:
            view = self._view(minute, counts, rows, warmup)
            decisions = decide(self.cols, view, rows)
            transitions = self._apply(minute, view, decisions, slots, values, rows)
            self.last_view, self.last_decisions = view, decisions
        next_minute = minute + 1
        if next_minute % self.layout.block == 0:
            self.attributions.flush()
            self.baseline.roll_hour(next_minute // self.layout.block, rows)
            self.evict_idle(minute)
        if next_minute % max(self.config.window_minutes // 2, 1) == 0:
            self.attributions.rotate(rows)
        return transitions

    def _view(self, minute: int, counts: npt.NDArray[np.float64], rows: int, warmup: int) -> MinuteView:
        c = self.cols
        ewma = c["ewma"][:rows].astype(np.float64)
        params, enabled = self.key_params(rows)
        eligible = c["live"][:rows] & (minute - c["scope_start"][:rows] >= warmup) & enabled
        return MinuteView(
            minute=minute,
            counts=counts,
            mu_up=np.maximum(ewma, c["ref_up"][:rows]),
            mu_down=np.minimum(ewma, c["ref_down"][:rows]),
            peak=np.maximum(c["ref_peak"][:rows], c["cur_max"][:rows]).astype(np.float64),
            burst=c["ref_burst"][:rows].astype(np.float64),
            phi=c["dispersion"][:rows].astype(np.float64),
            eligible=eligible,
            params=params,
        )

    def key_params(self, rows: int) -> tuple[dict[str, npt.NDArray[np.float64]], npt.NDArray[np.bool_]]:
        """Per-key detector parameters, gathered once and reused until the key set changes."""
        cached = self._params_cache
        if cached is None or len(cached[1]) != rows:
            idx = self.cols["param_idx"][:rows]
            table = {n: np.array([getattr(p, n) for p in self.params], dtype=np.float64) for n in PARAM_NAMES}
            enabled = np.array([p.enabled for p in self.params], dtype=bool)
            cached = self._params_cache = ({n: v[idx] for n, v in table.items()}, enabled[idx])
        return cached

    def _apply(
        self, minute: int, view: MinuteView, d: Decisions, slots: I64, values: I64, rows: int
    ) -> list[InsightTransition]:
        """Open and close insights, route attributions, and learn the ordinary minutes."""
        c = self.cols
        starts = d.start_slots
        announced = c["early_min"][starts] == minute  # Starts already sent by insights.early
        if len(starts):
            for slot in starts.tolist():
                self.attributions.open(slot)
            c["open_dir"][starts] = d.start_dirs
            c["ins_start"][starts] = d.start_first
            c["ins_sum"][starts] = d.start_sum
            c["ins_n"][starts] = d.start_n
            fresh = starts[~announced]  # an announced Start's baseline was fixed when it went out
            c["base_avg"][fresh] = self.baseline.average(rows)[fresh]
            c["base_n"][fresh] = self.baseline.minutes(rows)[fresh]
            for name in RESET_AT_START:
                c[name][starts] = 0
            c["early_min"][starts] = -1

        open_now = c["open_dir"][:rows] != 0
        self.attributions.observe(slots, values, open_now, c["quiet"][:rows] > 0)
        learn = c["live"][:rows] & ~open_now & (minute >= c["scope_start"][:rows])
        self.baseline.learn(view.counts, learn, rows)
        self.attributions.count_minute(learn, rows)
        if not len(starts) and not len(d.end_slots):
            return []

        self.attributions.flush()
        out = [
            self._transition("Start", int(s), int(f), int(f), minute, int(n))
            for s, f, n, early in zip(
                starts.tolist(), d.start_first.tolist(), d.start_n.tolist(), announced.tolist(), strict=True
            )
            if not early
        ]
        for slot, forced in zip(d.end_slots.tolist(), d.end_forced.tolist(), strict=True):
            end = minute + 1 if forced else minute - int(c["quiet"][slot]) + 1
            start = int(c["ins_start"][slot])
            out.append(self._transition("End", slot, end, start, minute, end - start))
            if forced:
                c["ewma"][slot] = c["ins_sum"][slot] / max(int(c["ins_n"][slot]), 1)
            c["open_dir"][slot] = 0
            self.attributions.close(slot)
        return out

    def _transition(
        self, state: str, slot: int, event_minute: int, start: int, decided: int, duration: int
    ) -> InsightTransition:
        c = self.cols
        return self.transition(
            state,
            slot,
            (start, event_minute, decided, duration),
            (float(c["base_avg"][slot]), max(int(c["base_n"][slot]), 1)),
            float(c["ins_sum"][slot]) / max(int(c["ins_n"][slot]), 1),
            self.attributions.insight_top(slot),
        )

    def transition(
        self,
        state: str,
        slot: int,
        minutes: tuple[int, int, int, int],
        baseline: tuple[float, int],
        insight_average: float,
        insight_side: list[list[tuple[int, float]]],
    ) -> InsightTransition:
        """The transition of ``slot``: ``minutes`` are (start, event, decided, duration), ``baseline``
        (average, minutes); attributions are ``insight_side`` against the slot's baseline sketches."""
        start, event_minute, decided, duration = minutes
        key = self.keys.keys[slot]
        assert key is not None
        insight_type = insight_type_of(key)
        names = self.strings.values
        baseline_side = self.attributions.baseline_top(slot)
        attributions = tuple(
            Attribution(
                attribute=name,
                insight=tuple(AttributionValue(names[v], avg) for v, avg in insight_side[a]),
                baseline=tuple(AttributionValue(names[v], avg) for v, avg in baseline_side[a]),
            )
            for a, name in enumerate(self.attribute_names)
            if insight_type == CALL_RATE or name != "errorCode"
        )
        return InsightTransition(
            state="Start" if state == "Start" else "End",
            insight_type=insight_type,
            account_id=key[1],
            region=key[2],
            event_source=key[3],
            event_name=key[4],
            error_code=key[5] if len(key) > 5 else None,
            source_event_category=key[0],
            direction="down" if int(self.cols["open_dir"][slot]) == DOWN else "up",
            start_minute=start,
            event_minute=event_minute,
            decided_minute=decided,
            baseline_average=baseline[0],
            baseline_duration=baseline[1],
            insight_average=insight_average,
            insight_duration=max(duration, 1),
            attributions=attributions,
        )
