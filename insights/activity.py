"""Which keys a closed minute must judge, and how far each key's baseline has learnt.

Most tracked keys are idle in any one minute: no calls, no open insight, no streak, and a falling
reference too low for a zero minute to be a drop. For such a key closing the minute changes nothing
but counting a zero minute into its baseline, so a close judges only the *hot* keys: those with
observations this minute, those the last close left busy (an open insight, a streak, an early Start
announced), and those on *drop watch* (a falling reference high enough that a zero minute could
extend a drop). Every other key owes zero minutes, learnt later in one go (``learnt_through`` says up
to where it has learnt): when it turns hot, when an early Start reads its baseline, and for all keys
at the hour roll. The result is the same as learning every minute, so closing a minute costs what its
hot keys cost, not what all tracked keys cost.

A key's drop watch may be stale only upwards: zero minutes never raise its recent level, so a key
not on watch cannot start dropping while idle; only minutes it is hot for (or an hour roll, which
refreshes every reference) can put it on watch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from insights.columns import Columns, Field
from insights.snapshot import pack_array, unpack_array

I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
#: ``learnt_through`` of a key tracked before the first close: it learns from the first closed minute.
NEVER = -(2**62)
ACTIVITY_FIELDS: dict[str, Field] = {"learnt_through": Field("int64"), "watch": Field("bool")}


class Activity:
    """Per key: the last minute its baseline learnt, whether it is on drop watch; and the keys
    the last close left busy.

    >>> activity = Activity()
    >>> activity.cols.ensure(3)
    >>> activity.admit(0, None), activity.admit(1, None), activity.admit(2, None)
    (None, None, None)
    >>> activity.begin(10, rows=3)
    >>> activity.set_watch(np.array([1]), np.array([True]))
    >>> activity.hot(np.array([2, 2])).tolist()
    [1, 2]
    """

    def __init__(self) -> None:
        self.cols = Columns(ACTIVITY_FIELDS)
        self.closed: int | None = None
        self.busy: I64 = np.zeros(0, np.int64)
        self._watching: I64 | None = None

    def admit(self, slot: int, closed_through: int | None) -> None:
        """A new key whose baseline has learnt (backfilled) every minute through ``closed_through``."""
        self.cols["learnt_through"][slot] = NEVER if closed_through is None else closed_through

    def begin(self, minute: int, rows: int) -> None:
        """Minute ``minute`` is closing; on the very first close, keys tracked so far start learning."""
        if self.closed is None:
            self.cols["learnt_through"][:rows] = minute - 1
        self.closed = minute

    def owed(self, slots: I64, through: int, scope_start: I64, live: Bool) -> I64:
        """Zero minutes ``slots`` have not learnt up to ``through``: live keys learn the minutes
        from their scope's start on (the scope only ever starts earlier at minutes not closed yet)."""
        learnt = np.maximum(self.cols["learnt_through"][slots], scope_start - 1)
        owed: I64 = np.where(live, np.maximum(through - learnt, 0), 0).astype(np.int64)
        return owed

    def learnt(self, slots: I64, through: int) -> None:
        self.cols["learnt_through"][slots] = through

    def set_watch(self, slots: I64, watch: Bool) -> None:
        """Put ``slots`` on drop watch (or take them off) as ``watch`` says."""
        column = self.cols["watch"]
        if not np.array_equal(column[slots], watch):
            column[slots] = watch
            self._watching = None

    def hot(self, observed: I64) -> I64:
        """The sorted slots a close must judge, given the slots with observations this minute."""
        if self._watching is None:
            self._watching = np.flatnonzero(self.cols["watch"]).astype(np.int64)
        return np.unique(np.concatenate([observed.astype(np.int64), self.busy, self._watching]))

    def to_state(self, rows: int) -> dict[str, Any]:
        return {
            "columns": {name: pack_array(a) for name, a in self.cols.to_state(rows).items()},
            "closed": self.closed,
            "busy": pack_array(self.busy),
        }

    def load_state(self, state: dict[str, Any], rows: int) -> None:
        self.cols.load_state({n: unpack_array(a) for n, a in state["columns"].items()}, rows)
        closed = state["closed"]
        self.closed = None if closed is None else int(closed)
        self.busy = unpack_array(state["busy"])
        self._watching = None
