"""CloudTrail semantics: which records feed which insight type, as columns of interned ids.

DESIGN §1: ``ApiCallRateInsight`` counts write management calls (``readOnly`` false; a record
without ``readOnly`` is not counted as a write) per (account, region, eventSource, eventName);
``ApiErrorRateInsight`` counts management calls, read and write, that carry an ``errorCode``, per
(…, errorCode). Insight records are never analysed; data events only when switched on (then every
data call counts towards the call rate, read or write, as AWS does). Duplicated deliveries (same
``eventID``) count once.

This is stage two, after the stateless :mod:`insights.classify`: it holds the event-time clock,
the account/region scopes and the dedup sets, and turns countable records into columns of interned
ids for the tracks — the one per-record loop with state, so it does only dict lookups and appends.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from insights.classify import Classified, account_of, minute_of
from insights.keys import StringTable
from insights.track import Track

NULL = "null"


@dataclass
class Columns3:
    """Observations for one track, accumulated as Python lists then turned into arrays."""

    minutes: list[int] = field(default_factory=list)
    slots: list[int] = field(default_factory=list)
    values: list[int] = field(default_factory=list)

    def arrays(self, attributes: int) -> tuple[npt.NDArray[np.int64], ...]:
        return (
            np.array(self.minutes, dtype=np.int64),
            np.array(self.slots, dtype=np.int64),
            np.array(self.values, dtype=np.int64).reshape(-1, attributes),
        )


class Normaliser:
    """Turns decoded records into per-track observation columns and keeps the event-time clock."""

    def __init__(self, call: Track, error: Track, strings: StringTable, data_events: bool) -> None:
        self.call = call
        self.error = error
        self.strings = strings
        self.data_events = data_events
        self.scopes: dict[tuple[str, str], int] = {}
        self.seen_ids: dict[int, set[str]] = {}
        self._minutes: dict[str, int | None] = {}
        self.max_minute: int | None = None
        self.skipped: Counter[str] = Counter()
        self.analysed = 0

    def normalise(self, batch: Classified, closed_through: int | None) -> None:
        """Advance the clock and scopes with ``batch`` and route its countable records to tracks."""
        self.skipped.update(batch.skipped)
        closed = -1 if closed_through is None else closed_through
        for (seen_minute, seen_account, seen_region), n in batch.context.items():
            self._observe(seen_minute, seen_account, seen_region, n, closed)
        call, error = Columns3(), Columns3()
        intern = self.strings.intern
        known = self.strings.index.get
        null_id = intern(NULL)
        minutes_cache, seen_ids, scopes = self._minutes, self.seen_ids, self.scopes
        call_index, error_index = self.call.keys.index, self.error.keys.index
        skipped = self.skipped
        analysed, newest = 0, -1
        for r in batch.countable:
            minute = minute_of(r, minutes_cache)
            account = account_of(r)
            if minute is None or account is None:
                skipped["bad_event_time" if minute is None else "no_account"] += 1
                continue
            region = r.awsRegion
            scope_start = scopes.get((account, region))
            if scope_start is None or minute < scope_start or minute <= closed:
                self._observe(minute, account, region, 1, closed)
                if minute <= closed:
                    continue
                scope_start = scopes[(account, region)]
            else:
                analysed += 1
                if minute > newest:
                    newest = minute
            event_id = r.eventID
            if event_id is not None:
                seen = seen_ids.get(minute)
                if seen is None:
                    seen_ids[minute] = {event_id}
                elif event_id in seen:
                    skipped["duplicate"] += 1
                    continue
                else:
                    seen.add(event_id)
            identity = r.userIdentity
            text = identity.arn if identity is not None else None
            arn = (known(text) or intern(text)) if text else null_id
            text = r.userAgent
            agent = (known(text) or intern(text)) if text else null_id
            error_code = r.errorCode
            category = r.eventCategory
            if r.readOnly is False or category == "Data":
                key = (category, account, region, r.eventSource, r.eventName)
                slot = call_index.get(key)
                if slot is None:
                    slot = self.call.slot_for(key, minute, scope_start, call.slots)
                call.minutes.append(minute)
                call.slots.append(slot)
                call.values += (
                    arn,
                    agent,
                    null_id if error_code is None else known(error_code) or intern(error_code),
                )
            if error_code is not None:
                error_key = (category, account, region, r.eventSource, r.eventName, error_code)
                slot = error_index.get(error_key)
                if slot is None:
                    slot = self.error.slot_for(error_key, minute, scope_start, error.slots)
                error.minutes.append(minute)
                error.slots.append(slot)
                error.values += (arn, agent)
        self.analysed += analysed
        if newest >= 0 and (self.max_minute is None or newest > self.max_minute):
            self.max_minute = newest
        self.call.ingest(*call.arrays(3))
        self.error.ingest(*error.arrays(2))

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
            "seen_ids": [[m, sorted(ids)] for m, ids in sorted(self.seen_ids.items())],
            "max_minute": self.max_minute,
            "skipped": dict(sorted(self.skipped.items())),
            "analysed": self.analysed,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.scopes = {(a, r): int(m) for a, r, m in state["scopes"]}
        self.seen_ids = {int(m): set(ids) for m, ids in state["seen_ids"]}
        self.max_minute = state["max_minute"]
        self.skipped = Counter(state["skipped"])
        self.analysed = int(state["analysed"])

    def forget_minute(self, minute: int) -> None:
        """Drop the dedup set of a closed minute: its records are late from now on anyway."""
        self.seen_ids.pop(minute, None)
