"""CloudTrail semantics, stage two: the clock, scopes, dedup, and routing columns to the tracks.

DESIGN §1: ``ApiCallRateInsight`` counts write management calls (``readOnly`` false; a record
without ``readOnly`` is not counted as a write) per (account, region, eventSource, eventName);
``ApiErrorRateInsight`` counts management calls, read and write, that carry an ``errorCode``, per
(…, errorCode). Insight records are never analysed; data events only when switched on (then every
data call counts towards the call rate, read or write, as AWS does). Duplicated deliveries (same
``eventID``) count once.

Stage one (:mod:`insights.classify`) is stateless and per record; this stage holds the state —
the event-time clock, each account/region's first minute, the dedup sets of open minutes — and
works on arrays: per batch it translates the batch's small local dictionaries (API keys, strings)
to key slots and interned ids, then maps whole columns with numpy.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import numpy.typing as npt

from insights.classify import ColumnBatch
from insights.keys import StringTable
from insights.snapshot import pack_array, unpack_array
from insights.track import Track

I64 = npt.NDArray[np.int64]


class Normaliser:
    """Turns classified batches into per-track observation columns and keeps the event-time clock."""

    def __init__(self, call: Track, error: Track, strings: StringTable) -> None:
        self.call = call
        self.error = error
        self.strings = strings
        self.scopes: dict[tuple[str, str], int] = {}
        self.seen_ids: dict[int, I64] = {}
        self.max_minute: int | None = None
        self.skipped: Counter[str] = Counter()
        self.analysed = 0

    def normalise(self, batches: list[ColumnBatch], closed_through: int | None) -> None:
        """Advance the clock and scopes with ``batches`` and route their rows to the tracks."""
        closed = -1 if closed_through is None else closed_through
        for batch in batches:
            self.skipped.update(batch.skipped)
            for (minute, account, region), n in batch.context.items():
                self._observe(minute, account, region, n, closed)
        kept = [self._fresh_rows(batch, closed) for batch in batches]
        call_parts: list[tuple[I64, I64, I64]] = []
        error_parts: list[tuple[I64, I64, I64]] = []
        for batch, rows in zip(batches, kept, strict=True):
            if not len(rows):
                continue
            cols = {name: array[rows] for name, array in batch.columns.items()}
            strings = np.array([self.strings.intern(s) for s in batch.strings], dtype=np.int64)
            arn, agent = strings[cols["arn"]], strings[cols["agent"]]
            write = cols["write"]
            if write.any():
                slots = self._slots(
                    self.call, batch, cols["api"][write], None, cols["minute"][write], call_parts
                )
                err = cols["error"][write]
                code = np.where(err >= 0, strings[np.maximum(err, 0)], strings[0])
                values = np.stack([arn[write], agent[write], code], axis=1)
                call_parts.append((cols["minute"][write], slots, values))
            erred = cols["error"] >= 0
            if erred.any():
                slots = self._slots(
                    self.error,
                    batch,
                    cols["api"][erred],
                    cols["error"][erred],
                    cols["minute"][erred],
                    error_parts,
                )
                values = np.stack([arn[erred], agent[erred]], axis=1)
                error_parts.append((cols["minute"][erred], slots, values))
        for track, parts, width in ((self.call, call_parts, 3), (self.error, error_parts, 2)):
            if parts:
                track.ingest(
                    np.concatenate([p[0] for p in parts]),
                    np.concatenate([p[1] for p in parts]),
                    np.concatenate([p[2] for p in parts]).reshape(-1, width),
                )

    def _fresh_rows(self, batch: ColumnBatch, closed: int) -> I64:
        """Rows of ``batch`` for open minutes, without deliveries already seen (by eventID hash)."""
        if not len(batch):
            return np.zeros(0, dtype=np.int64)
        minutes, hashes = batch.columns["minute"], batch.columns["event_hash"]
        keep = minutes > closed
        for minute in np.unique(minutes[keep & (hashes != 0)]).tolist():
            rows = np.flatnonzero((minutes == minute) & keep & (hashes != 0))
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

    def _slots(
        self,
        track: Track,
        batch: ColumnBatch,
        apis: I64,
        errors: I64 | None,
        minutes: I64,
        in_flight: list[tuple[I64, I64, I64]],
    ) -> I64:
        """Key slots for rows given by local API ids (and local error-code ids for the error track)."""
        width = len(batch.strings)
        code = apis * width + (0 if errors is None else errors)
        unique, first, inverse = np.unique(code, return_index=True, return_inverse=True)
        slots = np.empty(len(unique), dtype=np.int64)
        for i, (value, row) in enumerate(zip(unique.tolist(), first.tolist(), strict=True)):
            api = batch.apis[value // width]
            key: tuple[str, ...] = api if errors is None else (*api, batch.strings[value % width])
            slot = track.keys.index.get(key)
            if slot is None:
                busy = [p[1] for p in in_flight] + [slots[:i]]
                slot = track.slot_for(key, int(minutes[row]), self.scopes[(api[1], api[2])], busy)
            slots[i] = slot
        mapped: I64 = slots[inverse.ravel()]
        return mapped

    def _observe(self, minute: int, account: str, region: str, records: int, closed: int) -> None:
        """Account for ``records`` seen at ``minute``: the clock, lateness, the scope's start."""
        if self.max_minute is None or minute > self.max_minute:
            self.max_minute = minute
        if minute <= closed:
            self.skipped["late"] += records
            return
        self.analysed += records
        scope = (account, region)
        start = self.scopes.get(scope)
        if start is None:
            self.scopes[scope] = minute
        elif minute < start:
            self.scopes[scope] = minute
            self.call.lower_scope_start(scope, minute)
            self.error.lower_scope_start(scope, minute)

    def to_state(self) -> dict[str, Any]:
        return {
            "scopes": [[a, r, m] for (a, r), m in sorted(self.scopes.items())],
            "seen_ids": [[m, pack_array(ids)] for m, ids in sorted(self.seen_ids.items())],
            "max_minute": self.max_minute,
            "skipped": dict(sorted(self.skipped.items())),
            "analysed": self.analysed,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.scopes = {(a, r): int(m) for a, r, m in state["scopes"]}
        self.seen_ids = {int(m): unpack_array(ids) for m, ids in state["seen_ids"]}
        self.max_minute = state["max_minute"]
        self.skipped = Counter(state["skipped"])
        self.analysed = int(state["analysed"])

    def forget_minute(self, minute: int) -> None:
        """Drop the dedup set of a closed minute: its records are late from now on anyway."""
        self.seen_ids.pop(minute, None)
