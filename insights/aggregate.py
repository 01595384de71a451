"""Per-minute aggregation: observations wait in their minute until it closes.

The normaliser hands over observations as columns (minute, key slot, attribute value ids). They are
kept per minute, in arrival order, until the event-time clock closes that minute; closing pops the
minute and counts it per key with one ``bincount``. This module is the one place that knows which
minutes are still open and which minute was closed last (``closed_through``): the normaliser drops
records for closed minutes against it, and new keys backfill their baseline up to it.

>>> import numpy as np
>>> buffers = MinuteBuffers()
>>> buffers.add(np.array([7, 5, 7]), np.array([0, 1, 1]), np.zeros((3, 3), np.int64))
>>> sorted(buffers.open_minutes()), buffers.closed_through
([5, 7], None)
>>> counts, slots, values = buffers.close(5, rows=2)
>>> counts.tolist(), buffers.closed_through, sorted(buffers.open_minutes())
([0.0, 1.0], 5, [7])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from insights.attribution import ATTRIBUTES
from insights.snapshot import pack_array, unpack_array

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


class MinuteBuffers:
    """Observations of the open minutes, and the last closed minute."""

    def __init__(self) -> None:
        self._chunks: dict[int, list[tuple[I64, I64]]] = {}
        self._late: dict[int, list[I64]] = {}  # slots of records too late for their open minute
        self.closed_through: int | None = None
        self._touched: set[int] = set()

    def add(self, minutes: I64, slots: I64, values: I64) -> None:
        """Buffer observations (all for open minutes) by minute, keeping their arrival order."""
        if not len(minutes):
            return
        order = np.argsort(minutes, kind="stable")
        minutes, slots, values = minutes[order], slots[order], values[order]
        firsts = np.flatnonzero(np.diff(minutes, prepend=minutes[0] - 1))
        ends = [*firsts[1:].tolist(), len(minutes)]
        for begin, end in zip(firsts.tolist(), ends, strict=True):
            minute = int(minutes[begin])
            self._chunks.setdefault(minute, []).append((slots[begin:end], values[begin:end]))
            self._touched.add(minute)

    def add_late(self, minutes: I64, slots: I64) -> None:
        """Records late for their (open) minute: not counted for its decision, learnt at its close."""
        for minute in np.unique(minutes).tolist():
            self._late.setdefault(minute, []).append(slots[minutes == minute])

    def take_late(self, minute: int, rows: int) -> F64 | None:
        """The late records of ``minute`` per key slot (None if none), forgotten as it closes."""
        late = self._late.pop(minute, None)
        return None if late is None else np.bincount(np.concatenate(late), minlength=rows).astype(np.float64)

    def open_minutes(self) -> list[int]:
        """Minutes holding observations, in the order they were first buffered."""
        return list(self._chunks)

    def earliest(self) -> int | None:
        return min(self._chunks) if self._chunks else None

    def observations(self, minute: int) -> tuple[I64, I64]:
        """Slots and value rows buffered for an open ``minute`` so far (empty if none)."""
        chunks = self._chunks.get(minute)
        if not chunks:
            return np.zeros(0, np.int64), np.zeros((0, len(ATTRIBUTES)), np.int64)
        return np.concatenate([s for s, _ in chunks]), np.concatenate([v for _, v in chunks])

    def take_touched(self) -> set[int]:
        """Minutes that received observations since the last call (for early Starts)."""
        touched, self._touched = self._touched, set()
        return touched

    def close(self, minute: int, rows: int) -> tuple[F64, I64, I64]:
        """Close ``minute``: its count for each of ``rows`` key slots, and its observations."""
        slots, values = self.observations(minute)
        self._chunks.pop(minute, None)
        self.closed_through = minute
        counts = np.bincount(slots, minlength=rows).astype(np.float64)
        return counts, slots, values

    def referenced_values(self) -> list[I64]:
        """Attribution value ids held in open minutes (for string-table compaction)."""
        return [values.ravel() for chunks in self._chunks.values() for _, values in chunks]

    def remap_values(self, mapping: I64) -> None:
        self._chunks = {m: [(s, mapping[v]) for s, v in chunks] for m, chunks in self._chunks.items()}

    def to_state(self) -> dict[str, Any]:
        buffered = []
        for minute in sorted(self._chunks):
            slots, values = self.observations(minute)
            buffered.append([minute, pack_array(slots), pack_array(values)])
        late = [[minute, pack_array(np.concatenate(self._late[minute]))] for minute in sorted(self._late)]
        return {"buffers": buffered, "late": late, "closed_through": self.closed_through}

    def load_state(self, state: dict[str, Any]) -> None:
        self._chunks = {
            int(minute): [(unpack_array(slots), unpack_array(values))]
            for minute, slots, values in state["buffers"]
        }
        self._late = {int(minute): [unpack_array(slots)] for minute, slots in state["late"]}
        closed = state["closed_through"]
        self.closed_through = None if closed is None else int(closed)
        self._touched = set()
