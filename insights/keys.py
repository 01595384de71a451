"""Interning: API keys and attribution values to dense integer ids.

The hot path touches each record once with a dict lookup; everything after works on integer ids
in numpy arrays. Key slots are bounded by a capacity and reused after idle eviction, so a flood of
random API names cannot grow memory without bound.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

ApiKey = tuple[str, ...]
OTHER_VALUE = "<other>"
MAX_VALUE_CHARS = 256


class KeyTable:
    """Maps an API key tuple to a slot in ``[0, capacity)``; freed slots are reused."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.index: dict[ApiKey, int] = {}
        self.keys: list[ApiKey | None] = []
        self._free: list[int] = []

    def __len__(self) -> int:
        return len(self.index)

    @property
    def high_water(self) -> int:
        """Number of slots ever handed out (the used prefix of every column)."""
        return len(self.keys)

    def insert(self, key: ApiKey) -> int:
        """A slot for a new key, or -1 when the table is full."""
        if self._free:
            slot = self._free.pop()
            self.keys[slot] = key
        elif len(self.keys) < self.capacity:
            slot = len(self.keys)
            self.keys.append(key)
        else:
            return -1
        self.index[key] = slot
        return slot

    def release(self, slot: int) -> None:
        key = self.keys[slot]
        if key is not None:
            del self.index[key]
            self.keys[slot] = None
            self._free.append(slot)

    def to_state(self) -> list[list[str] | None]:
        return [None if k is None else list(k) for k in self.keys]

    def load_state(self, keys: list[list[str] | None]) -> None:
        self.keys = [None if k is None else tuple(k) for k in keys]
        self.index = {k: i for i, k in enumerate(self.keys) if k is not None}
        self._free = [i for i, k in enumerate(self.keys) if k is None]
        self._free.reverse()


class StringTable:
    """Attribution values (ARNs, user agents, error codes) to ids, bounded by ``capacity``.

    Id 0 is :data:`OTHER_VALUE`, which absorbs new values once the table is full until
    :meth:`compact` drops the values no longer referenced by any state.
    """

    def __init__(self, capacity: int = 1_000_000) -> None:
        self.capacity = capacity
        self.values: list[str] = [OTHER_VALUE]
        self.index: dict[str, int] = {OTHER_VALUE: 0}

    def __len__(self) -> int:
        return len(self.values)

    def intern(self, value: str) -> int:
        found = self.index.get(value)
        if found is not None:
            return found
        if len(self.values) >= self.capacity:
            return 0
        if len(value) > MAX_VALUE_CHARS:
            return self.intern(value[:MAX_VALUE_CHARS])
        ident = len(self.values)
        self.values.append(value)
        self.index[value] = ident
        return ident

    def load_state(self, values: list[str]) -> None:
        self.values = list(values)
        self.index = {v: i for i, v in enumerate(self.values)}

    def compact(self, referenced: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Keep only ``referenced`` ids; returns the old-id -> new-id map to apply to all state."""
        keep = np.union1d(np.unique(referenced), [0]).astype(np.int64)
        mapping = np.zeros(len(self.values), dtype=np.int64)
        mapping[keep] = np.arange(len(keep), dtype=np.int64)
        self.values = [self.values[i] for i in keep.tolist()]
        self.index = {v: i for i, v in enumerate(self.values)}
        return mapping
