"""CloudTrail semantics, stage two: the clock, scopes, dedup, and routing columns to the keys.

DESIGN §1: ``ApiCallRateInsight`` counts write management calls (``readOnly`` false; a record
without ``readOnly`` is not counted as a write) per (account, region, eventSource, eventName);
``ApiErrorRateInsight`` counts management calls, read and write, that carry an ``errorCode``, per
(…, errorCode). Insight records are never analysed; data events only when switched on (then every
data call counts towards the call rate, read or write, as AWS does). Duplicated deliveries (same
``eventID``) count once.

Stage one (:mod:`insights.classify`) is stateless and per record; this stage holds the state —
the event-time clocks of the sources (:mod:`insights.clock`), each account/region's first minute,
the dedup sets of open minutes — and
works on arrays: per batch it translates the batch's small local dictionaries (API keys, strings)
to key slots and interned ids, then maps whole columns with numpy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from insights.aggregate import MinuteBuffers
from insights.classify import ApiTuple, ColumnBatch
from insights.clock import NEVER, SourceClocks
from insights.keys import StringTable
from insights.snapshot import pack_array, unpack_array
from insights.track import Track

I64 = npt.NDArray[np.int64]


class Normaliser:
    """Turns classified batches into observation columns for the tracked keys and keeps the
    sources' event-time clocks."""

    def __init__(
        self, track: Track, strings: StringTable, clocks: SourceClocks, minutes: MinuteBuffers, amend: bool
    ) -> None:
        self.track = track
        self.minutes = minutes
        self.amend = amend
        self.clocks = clocks
        self.lateness = clocks.lateness
        self.strings = strings
        self.scopes: dict[tuple[str, str], int] = {}
        self.seen_ids: dict[int, I64] = {}
        self.skipped: Counter[str] = Counter()
        self.analysed = 0
        self.amended = 0  # late records that still entered their hour's baseline

    def normalise(
        self, batches: list[ColumnBatch], closed_through: int | None, input_id: str = ""
    ) -> tuple[I64, I64, I64] | None:
        """Advance the clocks and scopes with ``batches`` (all read from ``input_id``) and route their
        rows to the keys: the observations (minute, key slot, attribute value ids) of the records that
        count, if any.

        A record is late if its minute is closed, or is more than ``allowed_lateness_minutes`` before
        the newest minute its source delivered before it (its batch's ``prior``, or earlier batches'),
        whatever other sources delivered. Records of keys that found no room in a full key table are
        left out (counted by the key space).
        """
        closed = -1 if closed_through is None else closed_through
        apis: dict[ApiTuple, int] = {}
        codes: dict[str, int] = {}
        parts: list[dict[str, I64]] = []
        intern = self.strings.intern
        clocks, lateness = self.clocks, self.lateness
        for batch in batches:
            self.skipped.update(batch.skipped)
            carried = {
                (account, region, channel): clocks.newest((input_id, channel, account, region))
                for _, account, region, channel, _ in batch.context
            }
            for (minute, account, region, channel, prior), n in batch.context.items():
                floor = max(closed, max(carried[(account, region, channel)], prior) - lateness - 1)
                self._observe(input_id, channel, minute, account, region, n, floor)
            if not len(batch):
                continue
            strings = np.array([intern(text) for text in batch.strings], dtype=np.int64)
            api_ids = np.array([apis.setdefault(api, len(apis)) for api in batch.apis], dtype=np.int64)
            cols = batch.columns
            # The newest minute each row's source (its account-region and channel) delivered before.
            carried_rows = np.array(
                [[carried.get((api[1], api[2], c), NEVER) for c in batch.channels] for api in batch.apis],
                dtype=np.int64,
            )
            error = cols["error"]
            code_ids = np.full(len(batch.strings), -1, dtype=np.int64)
            for local in np.unique(error[error >= 0]).tolist():
                code_ids[local] = codes.setdefault(batch.strings[local], len(codes))
            parts.append(
                {
                    "minute": cols["minute"],
                    "floor": np.maximum(
                        closed,
                        np.maximum(carried_rows[cols["api"], cols["channel"]], cols["prior"]) - lateness - 1,
                    ),
                    "api": api_ids[cols["api"]],
                    "write": cols["write"],
                    "error": np.where(error >= 0, code_ids[np.maximum(error, 0)], -1),
                    "code": np.where(error >= 0, strings[np.maximum(error, 0)], strings[0]),
                    "arn": strings[cols["arn"]],
                    "agent": strings[cols["agent"]],
                    "event_hash": cols["event_hash"],
                }
            )
        if not parts:
            return None
        rows = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
        late = rows["minute"] <= rows["floor"]
        late_rows = {name: array[late] for name, array in rows.items()} if late.any() else None
        keep = self._fresh_rows(rows["minute"], rows["event_hash"], rows["floor"])
        rows = {name: array[keep] for name, array in rows.items()}
        api_list, code_list = list(apis), list(codes)
        width = max(len(code_list), 1)
        if late_rows is not None and self.amend:
            self._amend(late_rows, api_list, code_list, closed_through)
        write, erred = rows["write"], rows["error"] >= 0
        call_slots = self._slots(
            api_list.__getitem__, rows["api"][write], rows["minute"][write], closed_through, []
        )
        error_slots = self._slots(
            lambda pair: (*api_list[pair // width], code_list[pair % width]),
            rows["api"][erred] * width + rows["error"][erred],
            rows["minute"][erred],
            closed_through,
            [call_slots],
        )
        values = np.stack([rows["arn"], rows["agent"], rows["code"]], axis=1)
        slots = np.concatenate([call_slots, error_slots])
        tracked = slots >= 0
        return (
            np.concatenate([rows["minute"][write], rows["minute"][erred]])[tracked],
            slots[tracked],
            np.concatenate([values[write], values[erred]])[tracked],
        )

    def _fresh_rows(self, minutes: I64, hashes: I64, floors: I64) -> I64:
        """Rows not late (after their ``floors``), without deliveries already seen (by eventID hash)."""
        keep = minutes > floors
        identified = keep & (hashes != 0)
        for minute in np.unique(minutes[identified]).tolist():
            rows = np.flatnonzero(identified & (minutes == minute))
            ids = hashes[rows]
            first = np.zeros(len(rows), dtype=bool)
            first[np.unique(ids, return_index=True)[1]] = True
            seen = self.seen_ids.get(minute)
            if seen is not None:
                first &= ~np.isin(ids, seen)
            keep[rows[~first]] = False
            self.skipped["duplicate"] += int(np.count_nonzero(~first))
            new = ids[first]
            self.seen_ids[minute] = new if seen is None else np.union1d(seen, new)
        return np.flatnonzero(keep)

    def _amend(
        self, late: dict[str, I64], api_list: list[ApiTuple], code_list: list[str], closed_through: int | None
    ) -> None:
        """Late rows of keys already tracked into their baselines: for a minute still open, learnt
        when it closes (never counted for its decision); for one already learnt, added to its hour
        (:meth:`~insights.baseline.Baseline.amend`; a key in an open insight learns nothing)."""
        keys, track = self.track.keys, self.track
        found: list[tuple[int, int]] = []
        for row in range(len(late["minute"])):
            api = api_list[int(late["api"][row])]
            wanted: list[tuple[str, ...]] = [api] if late["write"][row] else []
            if late["error"][row] >= 0:
                wanted.append((*api, code_list[int(late["error"][row])]))
            for key in wanted:
                slot = keys.slot_of(key)
                if slot is not None:
                    found.append((slot, int(late["minute"][row])))
        if not found:
            return
        slots, minutes = np.array(found, dtype=np.int64).T
        closed = -1 if closed_through is None else closed_through
        still_open = minutes > closed
        self.minutes.add_late(minutes[still_open], slots[still_open])
        self.amended += int(np.count_nonzero(still_open))
        if closed_through is None:
            return
        learnt = ~still_open & ~track.lifecycle.is_open(slots)
        running_hour = (closed_through + 1) // track.layout.block
        self.amended += track.baseline.amend(slots[learnt], minutes[learnt], running_hour)

    def _slots(
        self,
        key_of: Callable[[int], tuple[str, ...]],
        ids: I64,
        minutes: I64,
        closed_through: int | None,
        in_flight: list[I64],
    ) -> I64:
        """Key slots for rows given by key ids (``key_of`` names them); new keys are tracked.

        ``in_flight`` are slots already given to rows of this batch: they must not be evicted.
        """
        track = self.track
        unique, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        slots = np.empty(len(unique), dtype=np.int64)
        for i, (index, row) in enumerate(zip(unique.tolist(), first.tolist(), strict=True)):
            key = key_of(index)
            slot = track.keys.slot_of(key)
            if slot is None:
                scope = self.scopes[(key[1], key[2])]
                slot = track.slot_for(key, int(minutes[row]), scope, closed_through, [*in_flight, slots[:i]])
            slots[i] = slot
        mapped: I64 = slots[inverse.ravel()]
        return mapped

    def _observe(
        self, input_id: str, channel: str, minute: int, account: str, region: str, records: int, floor: int
    ) -> None:
        """Account for ``records`` seen at ``minute``: the source's clock, lateness, the scope's start."""
        self.clocks.observe(input_id, account, region, minute, channel)
        if minute <= floor:
            self.skipped["late"] += records
            return
        self.analysed += records
        scope = (account, region)
        start = self.scopes.get(scope)
        if start is None:
            self.scopes[scope] = minute
        elif minute < start:
            self.scopes[scope] = minute
            self.track.keys.lower_scope_start(scope, minute)

    def to_state(self) -> dict[str, Any]:
        return {
            "scopes": [[a, r, m] for (a, r), m in sorted(self.scopes.items())],
            "seen_ids": [[m, pack_array(ids)] for m, ids in sorted(self.seen_ids.items())],
            "clocks": self.clocks.to_state(),
            "skipped": dict(sorted(self.skipped.items())),
            "analysed": self.analysed,
            "amended": self.amended,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.scopes = {(a, r): int(m) for a, r, m in state["scopes"]}
        self.seen_ids = {int(m): unpack_array(ids) for m, ids in state["seen_ids"]}
        self.clocks.load_state(state["clocks"])
        self.skipped = Counter(state["skipped"])
        self.analysed = int(state["analysed"])
        self.amended = int(state["amended"])

    def forget_minute(self, minute: int) -> None:
        """Drop the dedup set of a closed minute: its records are late from now on anyway."""
        self.seen_ids.pop(minute, None)
