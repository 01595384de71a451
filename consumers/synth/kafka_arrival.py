"""When each generated message reaches Kafka, per envelope, and all of them merged in that order.

The daemon keeps event time per source, so it must be tested on input that reaches the topic as real
input does (DESIGN §1), not file by file: an EventBridge rule forwards each record seconds after the
call; a CloudWatch Logs subscription forwards batches a few minutes after; an S3-to-Kafka pipe
forwards a log file when S3 has it, i.e. at the delivery time the file side models
(``--delivery``). So each message gets a simulated arrival time (seconds since the epoch):

- ``raw``, ``eventbridge``: one record, ``EVENTBRIDGE_LAG_S`` (1-10 s) after its own eventTime;
- ``cloudwatch``: one batch per event minute of a file's records, sent 1-4 minutes after that
  minute closes, so each record is 1-5 minutes behind its eventTime;
- ``s3``, ``s3gz``, ``jsonl``: the file, within its delivery minute.

A producer that runs behind (``skew_minutes``, per key, i.e. per account/region and so per
partition) adds the same delay to every message of that key. Every draw comes from the seed, the
file's path or the key, never from iteration order, so the same options give the same arrivals.
:class:`ArrivalMerger` puts messages in (arrival, generation) order.

>>> log = GeneratedFile("f", "123456789012", "us-east-1", 29459530,
...                     [b'{"eventTime":"2026-01-05T00:01:43Z","eventID":"a"}'])
>>> [m.at - 1767571303 for m in file_messages(log, "s3", ArrivalModel(), 3)][0] > 4 * 60
True
>>> bool(1 <= file_messages(log, "eventbridge", ArrivalModel(), 3)[0].lags[0] <= 10)
True
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import msgspec
import numpy as np

from consumers.synth.kafka_envelopes import encode, messages_for, pick_envelope
from consumers.synth.s3_delivery import DELAY_TAIL, WINDOW, GeneratedFile

EVENTBRIDGE_LAG_S = (1.0, 10.0)  # EventBridge: each record seconds after its call
BATCH_S = 60  # a CloudWatch Logs subscription batch holds one minute of an account-region's events
CLOUDWATCH_SEND_S = (60.0, 240.0)  # ... and goes out this long after that minute closes
PER_RECORD = ("raw", "eventbridge")


def horizon_minutes(max_late: int) -> int:
    """Most minutes between a record's event minute and the delivery of a file holding it.

    A record may be put ``max_late`` minutes later, a duplicate three periods later still, its
    period closes up to one ``WINDOW`` after, the file is delivered up to ``DELAY_TAIL`` after that
    (a held-back file never exceeds it: each later period closes ``WINDOW`` minutes on), plus one
    ``WINDOW`` for the rounding to periods. Messages older than this cannot follow a file.

    >>> horizon_minutes(30)
    80
    """
    return max_late + 4 * WINDOW + DELAY_TAIL


class _Head(msgspec.Struct):
    eventTime: str


_HEADS = msgspec.json.Decoder(_Head)


def event_seconds(records: list[bytes]) -> np.ndarray:
    """Each record's eventTime, whole seconds since the epoch (int64)."""
    times = [_HEADS.decode(r).eventTime[:19] for r in records]
    return np.array(times, dtype="datetime64[s]").astype(np.int64)


def _unit(*parts: object) -> float:
    """A number in [0, 1) fixed by ``parts``: a draw that does not depend on what came before."""
    return zlib.crc32(repr(parts).encode()) / 2**32


@dataclass(frozen=True)
class ArrivalModel:
    """What fixes the arrivals besides the files: the seed, producer skew, and the merge horizon.

    ``skew_minutes`` (``--partition-skew-minutes``): each key's producer runs behind by a fixed
    ``skew_minutes * u`` minutes, ``u`` in [0, 1) drawn from the seed and the key, as if each
    account-region came through its own upstream pipeline and some were slow. A key always lands
    in one partition, so whole partitions fall behind others in event time, which is what a
    per-source event-time clock must absorb. ``horizon_minutes``: see :func:`horizon_minutes`
    (the default suits any ``--max-late``).
    """

    seed: int = 0
    skew_minutes: float = 0.0
    horizon_minutes: int = horizon_minutes(120)

    def skew_s(self, key: bytes) -> float:
        """Seconds by which the producer of ``key`` runs behind."""
        return 0.0 if not self.skew_minutes else round(self.skew_minutes * 60 * _unit(self.seed, key), 3)


@dataclass(frozen=True, slots=True)
class Message:
    """One message as it reaches the topic: when, under which key, and how far behind its records."""

    at: float  # simulated arrival, seconds since the epoch, producer skew included
    key: bytes
    envelope: str
    value: bytes
    records: int
    lags: np.ndarray  # seconds from each record's eventTime to ``at``


def file_messages(log: GeneratedFile, envelope: str, model: ArrivalModel, level: int) -> list[Message]:
    """The messages that carry ``log`` in ``envelope``, each with its arrival time."""
    key = f"{log.account}/{log.region}".encode()
    rng = np.random.default_rng([model.seed % 2**32, zlib.crc32(log.path.encode())])
    times = event_seconds(log.records)
    skew = model.skew_s(key)
    if envelope in PER_RECORD:
        at = times + rng.uniform(*EVENTBRIDGE_LAG_S, len(times)) + skew
        values = encode(log, envelope, level)
        return [
            Message(float(at[i]), key, envelope, v, 1, at[i : i + 1] - times[i : i + 1])
            for i, v in enumerate(values)
        ]
    if envelope != "cloudwatch":
        sent = log.delivery_minute * 60 + float(rng.uniform(0, 60)) + skew
        return _split(log, envelope, level, key, sent, times)
    minute = times // BATCH_S
    out: list[Message] = []
    for m in np.unique(minute).tolist():
        picked = np.flatnonzero(minute == m)
        part = GeneratedFile(log.path, log.account, log.region, log.delivery_minute, _take(log, picked))
        sent = (m + 1) * BATCH_S + float(rng.uniform(*CLOUDWATCH_SEND_S)) + skew
        out += _split(part, envelope, level, key, sent, times[picked])
    return out


def _take(log: GeneratedFile, picked: np.ndarray) -> list[bytes]:
    return [log.records[i] for i in picked.tolist()]


def _split(
    log: GeneratedFile, envelope: str, level: int, key: bytes, at: float, times: np.ndarray
) -> list[Message]:
    """One message per value of ``messages_for`` (which halves oversized files, records in order)."""
    out, first = [], 0
    for n, values in messages_for(log, envelope, level):
        out.append(Message(at, key, envelope, values[0], n, at - times[first : first + n]))
        first += n
    return out


@dataclass
class ArrivalMerger:
    """Messages in order of arrival, ties in order of generation: a heap released up to a watermark.

    ``release(until)`` promises that no message pushed later arrives before ``until``; a push that
    breaks the promise raises ``ValueError`` rather than send out of order.

    >>> def m(at: float) -> Message:
    ...     return Message(at, b"k", "raw", str(at).encode(), 1, np.zeros(1))
    >>> merger = ArrivalMerger()
    >>> merger.push([m(5.0), m(1.0), m(3.0)])
    >>> [x.at for x in merger.release(4.0)]
    [1.0, 3.0]
    >>> merger.push([m(4.5)])
    >>> merger.push([m(2.0)])
    Traceback (most recent call last):
    ValueError: a message arrives at 2.0, before 4.0 already released: raise the merge horizon
    >>> [x.at for x in merger.drain()]
    [4.5, 5.0]
    """

    _heap: list[tuple[float, int, Message]] = field(default_factory=list)
    _pushed: int = 0
    _released: float = float("-inf")

    def push(self, messages: list[Message]) -> None:
        """Queue ``messages``; they may arrive in any order."""
        for message in messages:
            if message.at < self._released:
                raise ValueError(
                    f"a message arrives at {message.at}, before {self._released} already released:"
                    " raise the merge horizon"
                )
            heapq.heappush(self._heap, (message.at, self._pushed, message))
            self._pushed += 1

    def release(self, until: float) -> Iterator[Message]:
        """The queued messages that arrive before ``until``, in order."""
        self._released = max(self._released, until)
        while self._heap and self._heap[0][0] < until:
            yield heapq.heappop(self._heap)[2]

    def drain(self) -> Iterator[Message]:
        """Every queued message, in order (the input is over)."""
        return self.release(float("inf"))


def arrivals(
    files: Iterable[GeneratedFile],
    envelopes: tuple[str, ...],
    model: ArrivalModel,
    level: int = 3,
    span: tuple[int | None, int | None] = (None, None),
) -> Iterator[Message]:
    """The messages of the files delivered in ``[span[0], span[1])``, in order of arrival.

    ``files`` must come in delivery order, as ``iter_log_files`` yields them: once a file delivered
    at minute D is read, no later file holds a record older than ``model.horizon_minutes`` before D,
    so every message arriving before then can go.
    """
    merger = ArrivalMerger()
    first, end = span
    for log in files:
        if first is not None and log.delivery_minute < first:
            continue
        if end is not None and log.delivery_minute >= end:
            break
        merger.push(file_messages(log, pick_envelope(log, envelopes), model, level))
        yield from merger.release((log.delivery_minute - model.horizon_minutes) * 60.0)
    yield from merger.drain()
