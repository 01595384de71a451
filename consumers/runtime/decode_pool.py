"""Decoding and classifying messages or files, in this process or pipelined in worker processes.

Decoding CloudTrail JSON (the largest cost of processing) and classifying it into integer columns
need no engine state, so both commands hand them to worker processes while the main process runs
the stateful engine: ``trailpulse run`` (``decode_workers``) submits each poll's message values
while it polls the next, ``trailpulse replay --workers`` submits the bytes of a few files at a time
while it reads the next ones. Results come back in submission order, so the engine sees records in
the order they were polled or read and the output does not depend on the number of workers.

The task is "decode these values", whatever they came from: reading stays with the caller, which
knows where a value came from and how to report one it cannot read (a file name, an offset).

>>> pool = DecodePool(workers=0, data_events=False)
>>> pool.submit([b'{"eventTime": 5}'], latest_minute=None)
>>> decoded = pool.take(block=True)
>>> decoded.batch.records, [(r.index, r.reason) for r in decoded.rejects]
(0, [(0, 'wrong_type')])
"""

from __future__ import annotations

import multiprocessing
import signal
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.pool import AsyncResult
from typing import Any

import msgspec

from insights.classify import ColumnBatch, classify
from insights.decode import DecodeLimits, Decoder, Envelope
from insights.record import CloudTrailRecord

# Values larger than this are decoded in parts (see Decoder.decode_parts): files, rarely messages.
PARTED_BYTES = 1 << 20
MESSAGE_LIMITS = DecodeLimits()  # the daemon's: a Kafka message is small, and may be hostile
_DECODERS: dict[tuple[DecodeLimits, Envelope], Decoder] = {}
_MINUTES: dict[str, int | None] = {}
_ENCODER = msgspec.msgpack.Encoder()
TASK_TIMEOUT_S = 300.0


class DecodeError(RuntimeError):
    """A decode worker died or hung: the poll it had cannot be processed."""


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C (sent to the whole process group) to the main process, which stops
    polling and drains them before its final checkpoint."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@dataclass(frozen=True, slots=True)
class Reject:
    """A record (or a whole value) the decoder refused: ``index`` is its value's in the submission
    (a message of a poll, a file of replay's group); ``record``/``line`` where it was in the value."""

    index: int
    reason: str
    detail: str
    raw: bytes
    record: int | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Decoded:
    """One poll's messages: their analysable records as columns, and what was rejected."""

    batch: ColumnBatch
    rejects: list[Reject]
    messages: int


def _decoder(limits: DecodeLimits, envelope: Envelope) -> Decoder:
    """One decoder per limits and envelope, reused for its caches of validated names."""
    decoder = _DECODERS.get((limits, envelope))
    if decoder is None:
        decoder = _DECODERS[(limits, envelope)] = Decoder(limits, envelope)
    return decoder


def decode_messages(
    values: list[bytes],
    latest_minute: int | None,
    data_events: bool,
    limits: DecodeLimits = MESSAGE_LIMITS,
    envelopes: list[Envelope] | None = None,
) -> Decoded:
    """Decode every value (with its envelope, else detected) and classify the records.

    Records reach the classifier as they are decoded, a part of a large value at a time, so the
    records of a large file never all exist at once: memory stays near the value's own size.
    """
    rejects: list[Reject] = []

    def records() -> Iterator[CloudTrailRecord]:
        for index, value in enumerate(values):
            decoder = _decoder(limits, Envelope.AUTO if envelopes is None else envelopes[index])
            parts = decoder.decode_parts(value) if len(value) > PARTED_BYTES else (decoder.decode(value),)
            for result in parts:
                rejects.extend(
                    Reject(index, str(r.reason), r.detail, r.raw, r.record, r.line) for r in result.rejects
                )
                yield from result.records

    batch = classify(records(), data_events, _MINUTES, latest_minute)
    return Decoded(batch, rejects, len(values))


def _decode_packed(
    values: list[bytes],
    latest_minute: int | None,
    data_events: bool,
    limits: DecodeLimits,
    envelopes: list[Envelope] | None,
) -> bytes:
    """Worker: :func:`decode_messages`, packed for the trip back to the main process."""
    decoded = decode_messages(values, latest_minute, data_events, limits, envelopes)
    rejects = [[r.index, r.reason, r.detail, r.raw, r.record, r.line] for r in decoded.rejects]
    return _ENCODER.encode([decoded.batch.pack(), rejects, decoded.messages])


def _unpack(packed: bytes) -> Decoded:
    batch, rejects, messages = msgspec.msgpack.decode(packed)
    return Decoded(ColumnBatch.unpack(batch), [Reject(*r) for r in rejects], int(messages))


class DecodePool:
    """A FIFO of polls being decoded: ``submit`` in poll order, ``take`` the oldest when done.

    With ``workers=0`` a submitted poll is decoded at once, in this process. ``limits`` bound what
    one value may decompress to (replay raises them: a file is a value, and may be large).
    """

    def __init__(self, workers: int, data_events: bool, limits: DecodeLimits = MESSAGE_LIMITS) -> None:
        self.data_events = data_events
        self.limits = limits
        self.workers = workers
        self._pool: Any = None
        if workers > 0:
            context = multiprocessing.get_context("forkserver")
            self._pool = context.Pool(workers, initializer=_ignore_interrupts)
        self._queue: deque[AsyncResult[bytes] | Decoded] = deque()

    def __len__(self) -> int:
        return len(self._queue)

    def submit(
        self, values: list[bytes], latest_minute: int | None, envelopes: list[Envelope] | None = None
    ) -> None:
        """Queue ``values`` for decoding; ``envelopes`` (one per value) fix how each is wrapped."""
        args = (values, latest_minute, self.data_events, self.limits, envelopes)
        if self._pool is None:
            self._queue.append(decode_messages(*args))
        else:
            self._queue.append(self._pool.apply_async(_decode_packed, args))

    def take(self, block: bool) -> Decoded | None:
        """The oldest poll, decoded; ``None`` if there is none, or (``block`` false) it is not done."""
        if not self._queue:
            return None
        head = self._queue[0]
        if isinstance(head, Decoded):
            return self._queue.popleft()  # type: ignore[return-value]
        if not block and not head.ready():
            return None
        self._queue.popleft()
        try:
            return _unpack(head.get(timeout=TASK_TIMEOUT_S))
        except multiprocessing.TimeoutError as exc:
            raise DecodeError(f"a decode worker gave no result within {TASK_TIMEOUT_S:.0f} s") from exc

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
