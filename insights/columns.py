"""Per-key state stored as columns: one numpy array per field, indexed by key slot.

Each step that keeps per-key state (key space, baseline, lifecycle, attributions) owns one
``Columns`` of its fields, so that growing, resetting a reused slot and snapshotting are done once
for all of its fields, and its memory footprint per key is in one place. Arrays grow by doubling;
freshly grown memory is zeros, which the OS maps lazily, so resident memory follows the keys
actually tracked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Field:
    """A column's element type, the shape of one key's entry, and the value of a fresh slot."""

    dtype: str
    shape: tuple[int, ...] = ()
    fill: float = 0.0


class Columns:
    """Named arrays sharing their first axis (the key slot).

    >>> cols = Columns({"count": Field("int32"), "ring": Field("float32", (3,))})
    >>> cols.ensure(5)
    >>> cols["ring"].shape[1], len(cols) >= 5
    (3, True)
    """

    def __init__(self, fields: dict[str, Field], initial: int = 64) -> None:
        self.fields = dict(fields)
        self._arrays: dict[str, npt.NDArray[Any]] = {
            name: self._fresh(spec, initial) for name, spec in self.fields.items()
        }
        self._capacity = initial

    @staticmethod
    def _fresh(spec: Field, rows: int) -> npt.NDArray[Any]:
        if spec.fill == 0:
            return np.zeros((rows, *spec.shape), dtype=spec.dtype)
        return np.full((rows, *spec.shape), spec.fill, dtype=spec.dtype)

    def __len__(self) -> int:
        return self._capacity

    def __getitem__(self, name: str) -> npt.NDArray[Any]:
        return self._arrays[name]

    def ensure(self, rows: int) -> None:
        """Make room for at least ``rows`` slots, keeping existing contents."""
        if rows <= self._capacity:
            return
        capacity = max(rows, self._capacity * 2)
        for name, spec in self.fields.items():
            grown = self._fresh(spec, capacity)
            grown[: self._capacity] = self._arrays[name]
            self._arrays[name] = grown
        self._capacity = capacity

    def reset(self, slot: int) -> None:
        """Give a slot the state of a never-seen key."""
        for name, spec in self.fields.items():
            self._arrays[name][slot] = spec.fill

    def nbytes_per_key(self) -> int:
        """Bytes one key costs across all columns (the documented memory bound)."""
        return sum(
            int(np.dtype(spec.dtype).itemsize * int(np.prod(spec.shape, dtype=np.int64)))
            for spec in self.fields.values()
        )

    def to_state(self, rows: int) -> dict[str, npt.NDArray[Any]]:
        """The first ``rows`` slots of every column (for snapshots)."""
        return {name: array[:rows].copy() for name, array in self._arrays.items()}

    def load_state(
        self, state: dict[str, npt.NDArray[Any]], rows: int, added: frozenset[str] = frozenset()
    ) -> None:
        """Restore columns saved by :meth:`to_state`; the fields in ``added`` (columns newer than some
        saved states) keep their fresh value when the state has none."""
        self.ensure(max(rows, 1))
        for name, array in self._arrays.items():
            array[:] = self.fields[name].fill
            if name in state or name not in added:
                array[:rows] = state[name]
