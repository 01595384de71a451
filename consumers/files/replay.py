"""``trailpulse replay``: run the engine over CloudTrail files and print Insight events.

Decoding is the expensive step (JSON of ~1.4 KB records), so with ``--workers N`` it runs in N
processes, each turning a file into a compact MessagePack list of just the fields the engine reads;
the main process keeps the engine (which must see records in one order to be deterministic).
Files are handed out and their results consumed in replay order, so the output does not depend on
the number of workers.
"""

from __future__ import annotations

import functools
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import msgspec

from consumers.files.discover import LogFile, read_bytes, read_stdin
from insights.classify import ColumnBatch, classify
from insights.decode import DecodeLimits, Decoder, Envelope
from insights.engine import Engine
from insights.transition import InsightTransition

# Files are small (CloudTrail writes one every ~5 minutes per account and region): the engine gets
# them in batches of about this many records, so per-call costs are paid once per batch.
BATCH_RECORDS = 20_000
STDIN_LIMITS = DecodeLimits(max_message_bytes=4 << 30)
FILES_PER_TASK = 16
_ENCODER = msgspec.msgpack.Encoder()


@dataclass
class ReplaySummary:
    """What a replay read, rejected, skipped and found."""

    files: int = 0
    records: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    starts: int = 0
    ends: int = 0
    seconds: float = 0.0

    def line(self, engine: Engine) -> str:
        skipped = engine.normaliser.skipped  # "late" included: the normaliser drops late records
        parts = [
            f"files={self.files}",
            f"records={self.records}",
            f"rejected={sum(self.rejected.values())}",
            *(f"rejected.{k}={v}" for k, v in sorted(self.rejected.items())),
            f"analysed={engine.normaliser.analysed}",
            *(f"skipped.{k}={v}" for k, v in sorted(skipped.items()) if v),
            f"insights.start={self.starts}",
            f"insights.end={self.ends}",
            f"seconds={self.seconds:.2f}",
        ]
        return "replay: " + " ".join(parts)


_DECODERS: dict[Envelope, Decoder] = {}
_MINUTES: dict[str, int | None] = {}


@dataclass
class Decoded:
    """One file, decoded and classified: what the engine's stateful step needs of it."""

    batch: ColumnBatch
    rejects: Counter[str]


def _decode(item: LogFile, data_events: bool) -> Decoded:
    """Read, decode and classify one file; decoders are reused for their name caches."""
    decoder = _DECODERS.get(item.envelope)
    if decoder is None:
        decoder = _DECODERS[item.envelope] = Decoder(envelope=item.envelope)
    result = decoder.decode(read_bytes(item.path))
    rejects = Counter(str(r.reason) for r in result.rejects)
    return Decoded(classify(result.records, data_events, _MINUTES), rejects)


def _decode_packed(items: list[LogFile], data_events: bool) -> bytes:
    """Worker: :func:`_decode` for a few files, packed as integer columns for the main process."""
    packed = []
    for item in items:
        decoded = _decode(item, data_events)
        packed.append([decoded.batch.pack(), dict(decoded.rejects)])
    return _ENCODER.encode(packed)


def _decoded(files: list[LogFile], workers: int, data_events: bool) -> Iterator[Decoded]:
    if workers <= 1:
        for item in files:
            yield _decode(item, data_events)
        return
    context = multiprocessing.get_context("forkserver")
    groups = [files[i : i + FILES_PER_TASK] for i in range(0, len(files), FILES_PER_TASK)]
    with context.Pool(workers) as pool:
        work = functools.partial(_decode_packed, data_events=data_events)
        for packed in pool.imap(work, groups):
            for batch, rejects in msgspec.msgpack.decode(packed):
                yield Decoded(ColumnBatch.unpack(batch), Counter(rejects))


def replay(
    files: list[LogFile],
    engine: Engine,
    emit: Callable[[list[InsightTransition]], None],
    workers: int = 1,
    stdin: bool = False,
) -> ReplaySummary:
    """Feed every file to ``engine`` in replay order, then finish; ``emit`` gets transitions.

    Files are grouped into batches of about ``BATCH_RECORDS`` input records; batch boundaries
    depend only on the input, so the output is the same whatever ``workers`` is.
    """
    summary = ReplaySummary()
    started = time.perf_counter()
    batches: list[ColumnBatch] = []
    pending = 0

    def handle(transitions: list[InsightTransition]) -> None:
        summary.starts += sum(t.state == "Start" for t in transitions)
        summary.ends += sum(t.state == "End" for t in transitions)
        if transitions:
            emit(transitions)

    def feed(decoded: Decoded) -> None:
        nonlocal pending
        summary.files += 1
        summary.records += decoded.batch.records
        summary.rejected.update(decoded.rejects)
        batches.append(decoded.batch)
        pending += decoded.batch.records
        if pending >= BATCH_RECORDS:
            handle(engine.process_classified(batches))
            batches.clear()
            pending = 0

    data_events = engine.config.analyse_data_events
    if stdin:
        result = Decoder(STDIN_LIMITS).decode(read_stdin())
        feed(Decoded(engine.classify(result.records), Counter(str(r.reason) for r in result.rejects)))
    for decoded in _decoded(files, workers, data_events):
        feed(decoded)
    handle(engine.process_classified(batches))
    handle(engine.finish())
    summary.seconds = time.perf_counter() - started
    return summary
