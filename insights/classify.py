"""Stage one of the semantics: records to columns, without any engine state.

Every analysable record contributes to ``context`` — ``(minute, account, region, channel, prior) ->
records`` — which drives the event-time clocks and shows that an account and region are being
observed. ``channel`` is the delivery path of the record's message (:class:`~insights.envelope.Channel`,
or ``""`` when the caller does not say) and ``prior`` the newest minute of the batch's records *of the
same account, region and channel* before it (:data:`NO_MINUTE` for none), also a column of the rows:
whether a record is late depends only on the records its own source delivered before it
(:mod:`insights.clock`), never on where batch boundaries fall or on other sources, so ``replay`` and
``run`` count the same records however they batch. The
records that can count (writes, and calls with an ``errorCode``) also become a row of integer
columns over *local* dictionaries of API keys and strings, with a 64-bit hash of ``eventID`` for
deduplication. Being stateless this runs where decoding runs (``replay --workers``), so the
stateful step (:mod:`insights.normalise`) only translates a few hundred dictionary entries per
batch and works on arrays; both paths give the same output.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from insights.eventtime import event_minute
from insights.record import CloudTrailRecord
from insights.snapshot import pack_array, unpack_array

INSIGHT_EVENT_TYPE = "AwsCloudTrailInsight"
NULL = "null"
Context = tuple[int, str, str, str, int]  # (minute, account, region, channel, prior)
ApiTuple = tuple[str, str, str, str, str]
NO_MINUTE = -(1 << 62)


@dataclass
class ColumnBatch:
    """Classified records: context counts, skip reasons, and countable rows as columns.

    ``apis[i]`` is ``(category, account, region, eventSource, eventName)``; ``strings[0]`` is
    ``"null"``; ``error`` is a string id or -1; ``event_hash`` is 0 for a record without eventID;
    ``channel`` indexes ``channels``.
    """

    records: int = 0
    context: Counter[Context] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    apis: list[ApiTuple] = field(default_factory=list)
    strings: list[str] = field(default_factory=lambda: [NULL])
    channels: list[str] = field(default_factory=list)
    columns: dict[str, npt.NDArray[Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.columns.get("minute", ()))

    def pack(self) -> list[Any]:
        """Plain containers for MessagePack (worker to main process)."""
        return [
            self.records,
            [[m, a, r, c, p, n] for (m, a, r, c, p), n in self.context.items()],
            dict(self.skipped),
            [list(api) for api in self.apis],
            self.strings,
            self.channels,
            {name: pack_array(array) for name, array in self.columns.items()},
        ]

    @classmethod
    def unpack(cls, packed: list[Any]) -> ColumnBatch:
        records, context, skipped, apis, strings, channels, columns = packed
        return cls(
            records=int(records),
            context=Counter({(int(m), a, r, c, int(p)): int(n) for m, a, r, c, p, n in context}),
            skipped=Counter(skipped),
            apis=[(api[0], api[1], api[2], api[3], api[4]) for api in apis],
            strings=list(strings),
            channels=list(channels),
            columns={name: unpack_array(array) for name, array in columns.items()},
        )


def minute_of(record: CloudTrailRecord, cache: dict[str, int | None]) -> int | None:
    """The record's minute, cached by its ``YYYY-MM-DDTHH:MM`` prefix (the decoder validated it)."""
    prefix = record.eventTime[:16]
    minute = cache.get(prefix, -1)
    if minute == -1:
        if len(cache) > 100_000:
            cache.clear()
        minute = cache[prefix] = event_minute(record.eventTime)
    return minute


def event_hash(event_id: str) -> int:
    """A stable 63-bit hash of an eventID, never 0 (0 means "no eventID").

    CRC-32 and Adler-32 side by side: two unrelated checksums, stable across processes (unlike
    ``hash``) and three times cheaper than a cryptographic digest; it only has to tell apart the
    eventIDs of one minute.
    """
    data = event_id.encode()
    return ((zlib.crc32(data) & 0x7FFFFFFF) << 32 | zlib.adler32(data)) or 1


def classify(
    records: Iterable[CloudTrailRecord],
    data_events: bool,
    cache: dict[str, int | None],
    latest_minute: int | None = None,
    channel: str = "",
) -> ColumnBatch:
    """Classify ``records``, all delivered by ``channel`` (see the module docstring).

    Records dated after ``latest_minute`` (a live source's wall clock plus some skew) are skipped
    as ``future``: one bad clock upstream must not move the watermark and close real minutes.
    """
    return classify_parts(((channel, records),), data_events, cache, latest_minute)


def classify_parts(
    parts: Iterable[tuple[str, Iterable[CloudTrailRecord]]],
    data_events: bool,
    cache: dict[str, int | None],
    latest_minute: int | None = None,
) -> ColumnBatch:
    """:func:`classify` of parts that each name their channel, in order, into one batch."""
    latest = (1 << 62) if latest_minute is None else latest_minute
    newest: dict[tuple[str, str, str], int] = {}  # per account, region and channel
    channel_ids: dict[str, int] = {}
    out = ColumnBatch()
    context, skipped = out.context, out.skipped
    api_ids: dict[ApiTuple, int] = {}
    string_ids: dict[str, int] = {NULL: 0}
    minutes: list[int] = []
    priors: list[int] = []
    apis: list[int] = []
    writes: list[bool] = []
    errors: list[int] = []
    arns: list[int] = []
    agents: list[int] = []
    hashes: list[int] = []
    # Bound once: this loop runs per record, so lookups and calls are kept out of it where they can be.
    # Records come in runs of one account and region (a log file, often a run of a partition's
    # batch): the source's newest minute and its API ids are kept in locals for the run, the newest
    # minute written back when the run ends. The context is counted at the end, with numpy: per
    # record only its minute and prior are noted (a dictionary update per record cost more than all
    # the rest of a read's classification), and its source once per run.
    cached_minute, crc32, adler32 = cache.get, zlib.crc32, zlib.adler32
    string_id = string_ids.get
    api_ids_by_source: dict[tuple[str, str, str], dict[tuple[str, str], int]] = {}
    source_ids: dict[tuple[str, str, str], int] = {}
    noted_minutes: list[int] = []
    noted_priors: list[int] = []
    note_minute, note_prior = noted_minutes.append, noted_priors.append
    run_sources: list[int] = []
    run_starts: list[int] = []
    lane_ids: list[int] = []
    lane_rows: list[int] = []
    total = 0
    for channel, records in parts:
        lane = channel_ids.setdefault(channel, len(channel_ids))
        rows_before = len(minutes)
        run_account: str | None = None
        run_region, run_newest, run_apis = "", NO_MINUTE, api_ids_by_source.setdefault(("", "", ""), {})
        for r in records:
            total += 1
            category = r.eventCategory
            if r.eventType == INSIGHT_EVENT_TYPE:
                skipped["insight_event"] += 1
                continue
            if category != "Management" and (category != "Data" or not data_events):
                skipped["data_event" if category == "Data" else "other_category"] += 1
                continue
            minute = cached_minute(r.eventTime[:16], -1)
            if minute == -1:
                minute = minute_of(r, cache)
            identity = r.userIdentity
            account = r.recipientAccountId or (identity.accountId if identity is not None else None)
            if minute is None or account is None:
                skipped["bad_event_time" if minute is None else "no_account"] += 1
                continue
            if minute > latest:
                skipped["future"] += 1
                continue
            region = r.awsRegion
            if account != run_account or region != run_region:  # another source: end the run
                if run_account is not None:
                    newest[(run_account, run_region, channel)] = run_newest
                run_account, run_region = account, region
                source = (account, region, channel)
                run_newest = newest.get(source, NO_MINUTE)
                run_apis = api_ids_by_source.setdefault(source, {})
                run_sources.append(source_ids.setdefault(source, len(source_ids)))
                run_starts.append(len(noted_minutes))
            prior = run_newest
            if minute > prior:
                run_newest = minute
            note_minute(minute)
            note_prior(prior)
            write = r.readOnly is False or category == "Data"
            error_code = r.errorCode
            if not write and error_code is None:
                continue
            name = (r.eventSource, r.eventName)
            api = run_apis.get(name)
            if api is None:
                api_key = (category, account, region, r.eventSource, r.eventName)
                api = api_ids.get(api_key)
                if api is None:
                    api = api_ids[api_key] = len(api_ids)
                if category == "Management":
                    run_apis[name] = api
            text = identity.arn if identity is not None else None
            arn = 0 if not text else string_id(text)
            if arn is None:
                arn = string_ids[text] = len(string_ids)  # type: ignore[index]
            text = r.userAgent
            agent = 0 if not text else string_id(text)
            if agent is None:
                agent = string_ids[text] = len(string_ids)  # type: ignore[index]
            error = -1 if error_code is None else string_id(error_code)
            if error is None:
                error = string_ids[error_code] = len(string_ids)  # type: ignore[index]
            minutes.append(minute)
            priors.append(prior)
            apis.append(api)
            writes.append(write)
            errors.append(error)
            arns.append(arn)
            agents.append(agent)
            event_id = r.eventID
            if event_id is None:
                hashes.append(0)
            else:  # event_hash(event_id), inlined
                data = event_id.encode()
                hashes.append(((crc32(data) & 0x7FFFFFFF) << 32 | adler32(data)) or 1)
        if run_account is not None:
            newest[(run_account, run_region, channel)] = run_newest
        lane_ids.append(lane)
        lane_rows.append(len(minutes) - rows_before)
    out.records = total
    run_ends = [*run_starts[1:], len(noted_minutes)] if run_starts else []
    run_lengths = [end - start for start, end in zip(run_starts, run_ends, strict=True)]
    _count_context(
        context,
        [*source_ids],
        np.repeat(np.array(run_sources, dtype=np.int64), run_lengths),
        np.array(noted_minutes, dtype=np.int64),
        np.array(noted_priors, dtype=np.int64),
    )
    out.apis = list(api_ids)
    out.strings = list(string_ids)
    out.channels = list(channel_ids)
    out.columns = {
        "minute": np.array(minutes, dtype=np.int64),
        "prior": np.array(priors, dtype=np.int64),
        "api": np.array(apis, dtype=np.int64),
        "write": np.array(writes, dtype=bool),
        "error": np.array(errors, dtype=np.int64),
        "arn": np.array(arns, dtype=np.int64),
        "agent": np.array(agents, dtype=np.int64),
        "event_hash": np.array(hashes, dtype=np.int64),
        "channel": np.repeat(np.array(lane_ids, dtype=np.int64), lane_rows),
    }
    return out


def _count_context(
    context: Counter[Context],
    sources: list[tuple[str, str, str]],
    source: npt.NDArray[np.int64],
    minute: npt.NDArray[np.int64],
    prior: npt.NDArray[np.int64],
) -> None:
    """Count the records of each (source, minute, prior) into ``context``, in the order each first
    appears (as a record at a time would)."""
    if not len(minute):
        return
    order = np.lexsort((prior, minute, source))  # stable: a group's first is its earliest record
    source, minute, prior = source[order], minute[order], prior[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (source[1:] != source[:-1]) | (minute[1:] != minute[:-1]) | (prior[1:] != prior[:-1])
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, len(order)))
    by_appearance = np.argsort(order[starts], kind="stable")
    starts, counts = starts[by_appearance], counts[by_appearance]
    for s, m, p, n in zip(
        source[starts].tolist(), minute[starts].tolist(), prior[starts].tolist(), counts.tolist(), strict=True
    ):
        account, region, channel = sources[s]
        context[(m, account, region, channel, p)] = n
