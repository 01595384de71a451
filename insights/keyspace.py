"""The tracked keys: which key owns which slot, since when it is observed, and its detector settings.

Keys of both insight types share one table so that closing a minute scores all of them in one pass:
``(category, account, region, eventSource, eventName)`` counts write calls (``ApiCallRateInsight``)
and ``(…, errorCode)`` counts calls failing with that code (``ApiErrorRateInsight``). Every other
step keeps its per-key state in columns indexed by the slot handed out here.

Besides the key table this owns, per slot: ``live``, ``scope_start`` (the first minute its account
and region were observed: warm-up counts from there), ``last_active`` (newest minute with a record:
idle keys are evicted), ``known_since`` (see :meth:`KeySpace.known_for`) and the index of its
resolved :class:`~insights.config.DetectorParams`.
Keys refused for want of room (``dropped_full``) and keys released (``evicted``, by why: ``idle``
after ``idle_evict_minutes`` without calls, ``room`` to admit a new key) are counted, for reports;
``evicted`` since this process started (the snapshot does not carry it).

>>> from insights.config import EngineConfig
>>> keys = KeySpace(EngineConfig(max_keys=1))
>>> keys.add(("Management", "1", "us-east-1", "ec2.amazonaws.com", "RunInstances"), 10, 0, lambda: False)
0
>>> keys.add(("Management", "1", "us-east-1", "ec2.amazonaws.com", "StopInstances"), 10, 0, lambda: False)
-1
>>> len(keys), keys.dropped_full
(1, 1)
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from insights.columns import Columns, Field
from insights.config import DetectorParams, EngineConfig
from insights.keys import ApiKey, KeyTable
from insights.snapshot import pack_array, unpack_array
from insights.transition import ERROR_RATE, insight_type_of

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
PARAM_NAMES = [f.name for f in dataclasses.fields(DetectorParams) if f.name != "enabled"]
KEY_FIELDS: dict[str, Field] = {
    "live": Field("bool"),
    "scope_start": Field("int64"),
    "last_active": Field("int64"),
    "known_since": Field("int64"),
    "param_idx": Field("int32"),
}
#: Columns a state saved before ``known_since`` lacks: those keys count as known since their scope.
SINCE_KNOWN = frozenset({"known_since"})
Eviction = Literal["idle", "room"]


class KeySpace:
    """Slots of the tracked keys and what every step needs to know about each key."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.table = KeyTable(config.max_keys)
        self.cols = Columns(KEY_FIELDS)
        self.params: list[DetectorParams] = []
        self.dropped_full = 0
        self.evicted: Counter[str] = Counter()
        self._params_cache: tuple[F64, Bool] | None = None

    def __len__(self) -> int:
        return len(self.table)

    @property
    def high_water(self) -> int:
        """Slots ever handed out: the used prefix of every step's columns."""
        return self.table.high_water

    def slot_of(self, key: ApiKey) -> int | None:
        return self.table.index.get(key)

    def in_scopes(
        self, scopes: frozenset[tuple[str, str]], slots: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.bool_]:
        """Which of ``slots`` hold a key of one of ``scopes`` (account, region); asked only while
        some account-region is silent, which is rare."""
        keys = self.table.keys
        return np.array(
            [(k := keys[slot]) is not None and (k[1], k[2]) in scopes for slot in slots.tolist()], dtype=bool
        )

    def key(self, slot: int) -> ApiKey:
        key = self.table.keys[slot]
        assert key is not None, f"slot {slot} holds no key"
        return key

    def add(self, key: ApiKey, minute: int, scope_start: int, make_room: Callable[[], bool]) -> int:
        """A slot for a new ``key`` first seen at ``minute``; -1 (counted) when the table is full.

        ``make_room`` is asked once to free a slot when the table is full; True if it did.
        """
        slot = self.table.insert(key)
        if slot < 0 and make_room():
            slot = self.table.insert(key)
        if slot < 0:
            self.dropped_full += 1
            return -1
        self.cols.ensure(self.high_water)
        self.cols.reset(slot)
        c = self.cols
        c["live"][slot] = True
        c["scope_start"][slot] = scope_start
        c["last_active"][slot] = minute
        # A code an API never failed with is news from the API's first minute; an API never called
        # is news from its own first call only.
        c["known_since"][slot] = scope_start if insight_type_of(key) == ERROR_RATE else minute
        c["param_idx"][slot] = self._param_index(key)
        return slot

    def release(self, slot: int, why: Eviction) -> None:
        self.evicted[why] += 1
        self.table.release(slot)
        self.cols.reset(slot)

    def touch(self, slots: I64, minutes: I64) -> None:
        """Keys saw records at ``minutes``: move their ``last_active`` forward (and a call-rate key's
        ``known_since`` back to its earliest record, whatever order they came in)."""
        np.maximum.at(self.cols["last_active"], slots, minutes)
        np.minimum.at(self.cols["known_since"], slots, minutes)

    def idle(self, before: int, rows: int) -> Bool:
        """Live keys with no record since before minute ``before``."""
        c = self.cols
        idle: Bool = c["live"][:rows] & (c["last_active"][:rows] < before)
        return idle

    def last_active(self, slots: I64) -> I64:
        active: I64 = self.cols["last_active"][slots]
        return active

    def lower_scope_start(self, scope: tuple[str, str], minute: int) -> None:
        """An account/region turned out to start earlier (out-of-order delivery within lateness)."""
        starts = self.cols["scope_start"]
        for slot, key in enumerate(self.table.keys):
            if key is not None and (key[1], key[2]) == scope and starts[slot] > minute:
                starts[slot] = minute

    def warm(self, minute: int, warmup: int, index: slice | I64) -> Bool:
        """Keys (of ``index``) whose account and region have been observed for ``warmup`` minutes."""
        warm: Bool = minute - self.cols["scope_start"][index] >= warmup
        return warm

    def known_for(self, minute: int, span: int, index: slice | I64) -> Bool:
        """Keys (of ``index``) known for ``span`` minutes at ``minute``: a call-rate key since its
        first call, an error-rate key since its account and region were observed.

        Why the difference: a new key's baseline counts the minutes before it as zeros (its true
        history: no calls), which is right for an API failing with a code it never showed before, but
        an API first called today at a steady trickle is new usage, not a rise; until it has a day of
        its own calls, its seasonal reference is all zeros and says nothing of its normal level.
        """
        known: Bool = minute - self.cols["known_since"][index] >= span
        return known

    def learning(self, minute: int, index: slice | I64) -> Bool:
        """Live keys (of ``index``) whose scope had started by ``minute`` (a closed minute they can
        learn from)."""
        c = self.cols
        learning: Bool = c["live"][index] & (minute >= c["scope_start"][index])
        return learning

    def live(self, index: slice | I64) -> Bool:
        live: Bool = self.cols["live"][index]
        return live

    def key_params(self, index: slice | I64) -> tuple[dict[str, F64], Bool]:
        """Detector parameters of the keys in ``index`` and whether detection is enabled for them,
        gathered from the small table of distinct parameter sets (cached until it grows) in one
        gather: every close asks, for a few hundred keys, and one gather costs what one of its
        thirty columns would."""
        cached = self._params_cache
        if cached is None:
            table = np.array([[getattr(p, n) for p in self.params] for n in PARAM_NAMES], dtype=np.float64)
            enabled = np.array([p.enabled for p in self.params], dtype=bool)
            cached = self._params_cache = (table, enabled)
        idx = self.cols["param_idx"][index]
        table, enabled = cached
        return dict(zip(PARAM_NAMES, table[:, idx], strict=True)), enabled[idx]

    def _param_index(self, key: ApiKey) -> int:
        params = self.config.params_for(insight_type_of(key), key[3], key[4])
        if params not in self.params:
            self.params.append(params)
            self._params_cache = None
        return self.params.index(params)

    def to_state(self) -> dict[str, Any]:
        rows = self.high_water
        return {
            "keys": self.table.to_state(),
            "columns": {name: pack_array(a) for name, a in self.cols.to_state(rows).items()},
            "dropped_full": self.dropped_full,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`to_state`; detector parameters are re-resolved from the current config."""
        self.table.load_state(state["keys"])
        columns = {n: unpack_array(a) for n, a in state["columns"].items()}
        self.cols.load_state(columns, self.high_water, SINCE_KNOWN)
        if "known_since" not in columns:
            self.cols["known_since"][: self.high_water] = self.cols["scope_start"][: self.high_water]
        self.dropped_full = int(state["dropped_full"])
        self.params = []
        self._params_cache = None
        for slot, key in enumerate(self.table.keys):
            if key is not None:
                self.cols["param_idx"][slot] = self._param_index(key)
