"""``trailpulse replay``: run the engine over CloudTrail files and print Insight events.

Decoding is the expensive step (JSON of ~1.4 KB records), so with ``--workers N`` it runs in N
processes of the :class:`DecodePool` the daemon uses too: this process reads a few files, submits
their bytes, and reads the next while workers decode; the engine stays here (it must see records in
one order to be deterministic). Results are consumed in submission order and grouped into the
engine's batches by the input alone, so the output does not depend on the number of workers.

A file is one value of the pool (gzip is recognised by its magic bytes), with the one-record limit
of :class:`DecodeLimits` still applied to each record in it, except a large JSON-lines file, read in
pieces of whole lines (:mod:`consumers.files.read`). Reading is done here, so an unreadable file is
reported by its name.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from consumers.files.discover import Inputs
from consumers.files.read import Task, tasks
from consumers.files.report import InputReport
from consumers.runtime.decode_pool import Decoded, DecodePool
from insights.classify import ColumnBatch
from insights.decode import DecodeLimits
from insights.transition import InsightTransition

# Annotations only: the engine loads scipy (~1.4 s), which each spawned decode worker would load again
# when the script that starts ``replay`` imports this module at its top (spawn re-imports ``__main__``).
if TYPE_CHECKING:
    from insights.engine import Engine

# Files are small (CloudTrail writes one every ~5 minutes per account and region): the engine gets
# them in batches of about this many records, so per-call costs are paid once per batch.
BATCH_RECORDS = 20_000
# Read ahead: enough tasks that workers stay busy while the engine takes a batch (~60 ms), few
# enough bytes (as read, mostly gzip) to bound memory when files are large.
TASKS_PER_WORKER = 8
READ_AHEAD_BYTES = 64 << 20
# A file (or stdin) is one value: it may decompress to this much, then each record is bounded.
FILE_LIMITS = DecodeLimits(max_message_bytes=4 << 30)


@dataclass
class ReplaySummary:
    """What a replay read, could not read, rejected, skipped and found."""

    files: int = 0
    unreadable: int = 0
    records: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    first_minute: int | None = None
    last_minute: int | None = None
    emitted: Counter[tuple[str, str]] = field(default_factory=Counter)  # by (insight type, state)
    seconds: float = 0.0

    @property
    def starts(self) -> int:
        return sum(n for (_, state), n in self.emitted.items() if state == "Start")

    @property
    def ends(self) -> int:
        return sum(n for (_, state), n in self.emitted.items() if state == "End")

    @property
    def minutes(self) -> int:
        """Event-time minutes from the first analysed record to the last (0 if none)."""
        if self.first_minute is None or self.last_minute is None:
            return 0
        return self.last_minute - self.first_minute + 1

    def line(self, engine: Engine) -> str:
        skipped = engine.normaliser.skipped + self.skipped
        parts = [
            f"files={self.files}",
            *([f"unreadable={self.unreadable}"] if self.unreadable else []),
            f"records={self.records}",
            f"rejected={sum(self.rejected.values())}",
            *(f"rejected.{k}={v}" for k, v in sorted(self.rejected.items())),
            f"analysed={engine.normaliser.analysed}",
            *(f"skipped.{k}={v}" for k, v in sorted(skipped.items()) if v),
            *([f"late.amended={engine.normaliser.amended}"] if engine.normaliser.amended else []),
            f"insights.start={self.starts}",
            f"insights.end={self.ends}",
            f"seconds={self.seconds:.2f}",
        ]
        return "replay: " + " ".join(parts)

    def span(self, batch: ColumnBatch) -> None:
        """Widen the event-time span by the minutes of ``batch``'s analysed records."""
        minutes = [minute for minute, *_ in batch.context]
        if minutes:
            low, high = min(minutes), max(minutes)
            self.first_minute = low if self.first_minute is None else min(self.first_minute, low)
            self.last_minute = high if self.last_minute is None else max(self.last_minute, high)


def replay(
    inputs: Inputs,
    engine: Engine,
    emit: Callable[[list[InsightTransition]], None],
    workers: int = 1,
    stdin: bool = False,
    report: InputReport | None = None,
    finish: bool = True,
) -> ReplaySummary:
    """Feed every file to ``engine`` in replay order, then (if ``finish``) close the minutes still
    open; ``emit`` gets transitions.

    Paths discovery could not read, and rejects, go to ``report`` (by default only counted).
    Batch boundaries depend only on the input, so the output is the same whatever ``workers`` is.
    """
    report = report or InputReport()
    summary = ReplaySummary(skipped=Counter(inputs.skipped))
    started = time.perf_counter()
    for error in inputs.unreadable:
        report.cannot_read(error)
    batches: list[ColumnBatch] = []
    pending = 0

    def handle(transitions: list[InsightTransition]) -> None:
        summary.emitted.update((t.insight_type, t.state) for t in transitions)
        if transitions:
            emit(transitions)

    def feed(decoded: Decoded, task: Task) -> None:
        nonlocal pending
        for reject in decoded.rejects:
            before = task.lines_before[reject.index]
            if before and reject.line is not None:  # a piece of a large file: its line in the file
                reject = replace(reject, line=before + reject.line)
            report.reject(task.paths[reject.index], reject)
        summary.files += task.files
        summary.records += decoded.batch.records
        summary.span(decoded.batch)
        batches.append(decoded.batch)
        pending += decoded.batch.records
        if pending >= BATCH_RECORDS:
            handle(engine.process_classified(batches))
            batches.clear()
            pending = 0

    pool = DecodePool(workers if workers > 1 else 0, engine.config.analyse_data_events, FILE_LIMITS)
    in_flight: deque[tuple[Task, int]] = deque()  # each task and its bytes, oldest first
    in_flight_bytes = 0

    def drain(keep: int) -> None:
        nonlocal in_flight_bytes
        while len(in_flight) > keep or (in_flight and in_flight_bytes > READ_AHEAD_BYTES):
            decoded = pool.take(block=True)
            task, size = in_flight.popleft()
            in_flight_bytes -= size
            if decoded is not None:
                feed(decoded, task)

    try:
        for task in tasks(inputs.files, stdin, report):
            pool.submit(task.values, None, task.envelopes)
            in_flight.append((task, sum(map(len, task.values))))
            in_flight_bytes += in_flight[-1][1]
            drain(keep=TASKS_PER_WORKER * pool.workers)
        drain(keep=0)
    finally:
        pool.close()
    handle(engine.process_classified(batches))
    if finish:
        handle(engine.finish())
    report.close()
    summary.unreadable = report.unreadable
    summary.rejected = report.rejected
    summary.seconds = time.perf_counter() - started
    return summary


def warmup_note(summary: ReplaySummary, warmup_minutes: int) -> str | None:
    """A note when the replayed records span less event time than a key needs to warm up."""
    if summary.minutes >= warmup_minutes or summary.records == 0:
        return None
    return (
        f"note: the replayed records span {_duration(summary.minutes)} of event time, but an API needs"
        f" {_duration(warmup_minutes)} of history (warmup_minutes={warmup_minutes}) before it can raise"
        " an insight; replay more history, or lower it with --warmup-minutes or warmup_minutes in --config"
    )


def _duration(minutes: int) -> str:
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes / 60
    return f"{hours:.0f} h" if hours < 72 else f"{hours / 24:.1f} days"
