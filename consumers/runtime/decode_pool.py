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

import weakref
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import msgspec

from consumers.runtime.decode_workers import Workers
from insights.classify import ColumnBatch, classify_parts
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
    """A decode worker died, failed or hung: the poll it had cannot be processed."""


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

    def parts() -> Iterator[tuple[str, list[CloudTrailRecord]]]:
        for index, value in enumerate(values):
            decoder = _decoder(limits, Envelope.AUTO if envelopes is None else envelopes[index])
            results = decoder.decode_parts(value) if len(value) > PARTED_BYTES else (decoder.decode(value),)
            for result in results:
                rejects.extend(
                    Reject(index, str(r.reason), r.detail, r.raw, r.record, r.line) for r in result.rejects
                )
                yield result.channel, result.records

    # A part at a time (not a record at a time): no Python frame per record.
    batch = classify_parts(parts(), data_events, _MINUTES, latest_minute)
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
    unpacked = msgspec.msgpack.decode(packed)
    if isinstance(unpacked, str):
        raise DecodeError(unpacked)
    batch, rejects, messages = unpacked
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
        self._workers = Workers(workers, _decode_packed) if workers > 0 else None
        # Stops the workers on close, or at exit if a caller never closed the pool.
        self._stop = weakref.finalize(self, self._workers.stop) if self._workers else None
        self._outstanding = [0] * workers  # tasks sent to each worker and not yet taken
        self._queue: deque[Decoded | int] = deque()  # a poll decoded here, or its worker's number

    def __len__(self) -> int:
        return len(self._queue)

    def submit(
        self, values: list[bytes], latest_minute: int | None, envelopes: list[Envelope] | None = None
    ) -> None:
        """Queue ``values`` for decoding; ``envelopes`` (one per value) fix how each is wrapped."""
        args = (values, latest_minute, self.data_events, self.limits, envelopes)
        if self._workers is None:
            self._queue.append(decode_messages(*args))
            return
        worker = min(range(self.workers), key=self._outstanding.__getitem__)
        try:
            self._workers.pipes[worker].send(args)
        except OSError as exc:
            raise DecodeError("a decode worker exited: it cannot take the poll") from exc
        self._outstanding[worker] += 1
        self._queue.append(worker)

    def take(self, block: bool) -> Decoded | None:
        """The oldest poll, decoded; ``None`` if there is none, or (``block`` false) it is not done.

        A worker returns its tasks' results in the order it got them, so the next result on the
        oldest poll's worker is that poll's."""
        if not self._queue:
            return None
        head = self._queue[0]
        if isinstance(head, Decoded):
            self._queue.popleft()
            return head
        assert self._workers is not None
        pipe = self._workers.pipes[head]
        if not pipe.poll(TASK_TIMEOUT_S if block else 0):
            if block:
                raise DecodeError(f"a decode worker gave no result within {TASK_TIMEOUT_S:.0f} s")
            return None
        try:
            packed = pipe.recv_bytes()
        except (EOFError, OSError) as exc:
            raise DecodeError("a decode worker exited before returning its result") from exc
        self._queue.popleft()
        self._outstanding[head] -= 1
        return _unpack(packed)

    def close(self) -> None:
        """Stop the workers (see :mod:`consumers.runtime.decode_workers`); polls not taken are lost."""
        if self._stop is not None:
            self._stop()
