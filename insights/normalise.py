"""CloudTrail semantics: which records feed which insight type, as columns of interned ids.

DESIGN §1: ``ApiCallRateInsight`` counts write management calls (``readOnly`` false; a record
without ``readOnly`` is not counted as a write) per (account, region, eventSource, eventName);
``ApiErrorRateInsight`` counts management calls, read and write, that carry an ``errorCode``, per
(…, errorCode). Insight records are never analysed; data events only when switched on (then every
data call counts towards the call rate, read or write, as AWS does). Duplicated deliveries (same
``eventID``) count once.

This is the one per-record Python loop of the engine, so it does only dict lookups and appends.
Records are expected from :class:`insights.decode.Decoder`, which has validated every field; the
minute is therefore cached by the ``YYYY-MM-DDTHH:MM`` prefix of ``eventTime``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from insights.eventtime import event_minute
from insights.keys import StringTable
from insights.record import CloudTrailRecord
from insights.track import Track

INSIGHT_EVENT_TYPE = "AwsCloudTrailInsight"
NULL = "null"
TIME_CACHE_SIZE = 100_000


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

    def normalise(self, records: Iterable[CloudTrailRecord], closed_through: int | None) -> None:
        """Route ``records`` into both tracks' minute buffers."""
        call, error = Columns3(), Columns3()
        intern = self.strings.intern
        known = self.strings.index.get
        null_id = intern(NULL)
        minutes_of = self._minutes
        if len(minutes_of) > TIME_CACHE_SIZE:
            minutes_of.clear()
        scopes, seen_ids = self.scopes, self.seen_ids
        call_index, error_index = self.call.keys.index, self.error.keys.index
        closed = -1 if closed_through is None else closed_through
        newest = -1 if self.max_minute is None else self.max_minute
        skipped = self.skipped
        analysed = 0
        for r in records:
            category = r.eventCategory
            if r.eventType == INSIGHT_EVENT_TYPE:
                skipped["insight_event"] += 1
                continue
            if category != "Management" and (category != "Data" or not self.data_events):
                skipped["data_event" if category == "Data" else "other_category"] += 1
                continue
            prefix = r.eventTime[:16]
            minute = minutes_of.get(prefix, -1)
            if minute == -1:
                minute = minutes_of[prefix] = event_minute(r.eventTime)
            if minute is None:
                skipped["bad_event_time"] += 1
                continue
            if minute > newest:
                newest = minute
            if minute <= closed:
                skipped["late"] += 1
                continue
            identity = r.userIdentity
            account = r.recipientAccountId or (identity.accountId if identity is not None else None)
            if account is None:
                skipped["no_account"] += 1
                continue
            analysed += 1
            region = r.awsRegion
            scope = (account, region)
            scope_start = scopes.get(scope)
            if scope_start is None:
                scope_start = scopes[scope] = minute
            elif minute < scope_start:
                scope_start = scopes[scope] = minute
                self.call.lower_scope_start(scope, minute)
                self.error.lower_scope_start(scope, minute)
            error_code = r.errorCode
            write = r.readOnly is False or category == "Data"
            if not write and error_code is None:
                continue
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
            text = identity.arn if identity is not None else None
            arn = (known(text) or intern(text)) if text else null_id
            text = r.userAgent
            agent = (known(text) or intern(text)) if text else null_id
            if write:
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
        if newest >= 0:
            self.max_minute = newest
        self.call.ingest(*call.arrays(3))
        self.error.ingest(*error.arrays(2))

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
