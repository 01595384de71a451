"""Decoding and classifying polled messages, in this process or pipelined in worker processes.

kafka-python parses fetched records in Python, so polling alone keeps a core busy; decoding
CloudTrail JSON (the largest cost of processing) and classifying it into integer columns need no
engine state, so ``trailpulse run`` hands them to worker processes (``decode_workers``) while the
main process polls the next batch and runs the stateful engine: the same split as
``replay --workers``. Results come back in submission order, so the engine sees records in the order
they were polled and the output does not depend on the number of workers.

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
from dataclasses import dataclass
from multiprocessing.pool import AsyncResult
from typing import Any

import msgspec

from insights.classify import ColumnBatch, classify
from insights.decode import Decoder

_DECODER: Decoder | None = None
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
    """A record (or a whole message) the decoder refused: ``index`` is the message's in its poll."""

    index: int
    reason: str
    detail: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class Decoded:
    """One poll's messages: their analysable records as columns, and what was rejected."""

    batch: ColumnBatch
    rejects: list[Reject]
    messages: int


def decode_messages(values: list[bytes], latest_minute: int | None, data_events: bool) -> Decoded:
    """Decode every message (any envelope) and classify the records; the decoder is reused."""
    global _DECODER
    if _DECODER is None:
        _DECODER = Decoder()
    records = []
    rejects: list[Reject] = []
    for index, value in enumerate(values):
        result = _DECODER.decode(value)
        records.extend(result.records)
        rejects.extend(Reject(index, str(r.reason), r.detail, r.raw) for r in result.rejects)
    batch = classify(records, data_events, _MINUTES, latest_minute)
    return Decoded(batch, rejects, len(values))


def _decode_packed(values: list[bytes], latest_minute: int | None, data_events: bool) -> bytes:
    """Worker: :func:`decode_messages`, packed for the trip back to the main process."""
    decoded = decode_messages(values, latest_minute, data_events)
    rejects = [[r.index, r.reason, r.detail, r.raw] for r in decoded.rejects]
    return _ENCODER.encode([decoded.batch.pack(), rejects, decoded.messages])


def _unpack(packed: bytes) -> Decoded:
    batch, rejects, messages = msgspec.msgpack.decode(packed)
    return Decoded(ColumnBatch.unpack(batch), [Reject(*r) for r in rejects], int(messages))


class DecodePool:
    """A FIFO of polls being decoded: ``submit`` in poll order, ``take`` the oldest when done.

    With ``workers=0`` a submitted poll is decoded at once, in this process.
    """

    def __init__(self, workers: int, data_events: bool) -> None:
        self.data_events = data_events
        self.workers = workers
        self._pool: Any = None
        if workers > 0:
            context = multiprocessing.get_context("forkserver")
            self._pool = context.Pool(workers, initializer=_ignore_interrupts)
        self._queue: deque[AsyncResult[bytes] | Decoded] = deque()

    def __len__(self) -> int:
        return len(self._queue)

    def submit(self, values: list[bytes], latest_minute: int | None) -> None:
        if self._pool is None:
            self._queue.append(decode_messages(values, latest_minute, self.data_events))
        else:
            args = (values, latest_minute, self.data_events)
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
