#!/usr/bin/env python
"""Replay throughput against the decode floor, measured side by side in one run.

On a generated trace of gzipped CloudTrail files in the S3 layout (default options: ~1.8 M records
over 10.5 days), this measures:

* (a) the *decode floor*: read + gunzip + decode of every file with one :class:`Decoder` per envelope
  (as ``replay`` reuses them), one process, records discarded — what no replay can beat;
* (b) ``replay(workers=1)``: the full engine in one process, transitions discarded;
* (c) ``replay(workers=2)``: decoding in two processes, the engine in the main one.

Each round runs (a), (b) and (c) one after the other; with ``--repeat N`` rounds the best of each is
reported (the machine may be shared, so only ratios measured in the same run mean anything). Goals
(issue acceptance): b >= 0.5 * a, and c >= 150 k records/s.

A separate timed pass then reproduces ``replay()``'s batching in its own loop and times read,
decode (and gunzip within it), ``Engine.process`` (normalising vs minute closes and their steps)
and ``Engine.finish``, by wrapping methods of that pass's own objects (no engine code is changed).
It also times the MessagePack round trip that ``--workers N`` adds, to estimate the main process's
ceiling when decoding is farmed out. ``--profile N`` adds a cProfile pass of (b) (top N functions).

Run: ``.venv/bin/python bench/replay.py [--workdir DIR] [--repeat 2] [--days 10.5] [--scale 1]``
(``DIR`` is reused if ``DIR/labels.json`` exists, else the trace is generated there; without
``--workdir`` a temporary directory is used and removed). The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import multiprocessing
import pstats
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

import consumers.replay
import insights.decode
import insights.track
from consumers.files import LogFile, discover, read_bytes
from consumers.generate import generate_to_dir
from consumers.replay import BATCH_RECORDS, replay
from consumers.traffic_options import GenerateOptions
from insights.decode import Decoder, Envelope
from insights.engine import Engine
from insights.record import CloudTrailRecord
from insights.transition import InsightTransition

FLOOR_RATIO_GOAL = 0.5
TWO_CORE_GOAL = 150_000.0
MIN_RECORDS = 1_000_000


@dataclass
class Run:
    """One timed pass over the files."""

    name: str
    records: int
    seconds: float
    starts: int = 0
    ends: int = 0

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


# -- input -------------------------------------------------------------------------------------------
def ensure_trace(workdir: Path, options: GenerateOptions) -> list[LogFile]:
    """The trace's log files, generating the trace unless ``workdir/labels.json`` exists."""
    if (workdir / "labels.json").exists():
        print(f"reusing the trace in {workdir}", file=sys.stderr)
    else:
        print(f"generating {options.days} days (scale {options.scale}) into {workdir} ...", file=sys.stderr)
        began = time.perf_counter()
        workdir.mkdir(parents=True, exist_ok=True)
        generate_to_dir(workdir, options)
        print(f"  generated in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    return discover([str(workdir / "AWSLogs")])


# -- the three measurements -------------------------------------------------------------------------
_FLOOR_DECODERS: dict[Envelope, Decoder] = {}


def decode_floor(files: list[LogFile]) -> Run:
    """(a) read + gunzip + decode every file, one process, one decoder per envelope, nothing kept."""
    records = 0
    began = time.perf_counter()
    for item in files:
        decoder = _FLOOR_DECODERS.get(item.envelope)
        if decoder is None:
            decoder = _FLOOR_DECODERS[item.envelope] = Decoder(envelope=item.envelope)
        records += len(decoder.decode(read_bytes(item.path)).records)
    return Run("decode floor", records, time.perf_counter() - began)


def replay_run(files: list[LogFile], workers: int) -> Run:
    """(b)/(c) ``replay`` with a fresh default engine; transitions are discarded."""

    def discard(_transitions: list[InsightTransition]) -> None:
        return None

    summary = replay(files, Engine(), discard, workers=workers)
    return Run(f"replay workers={workers}", summary.records, summary.seconds, summary.starts, summary.ends)


def one_decode_worker_run(files: list[LogFile]) -> Run:
    """What-if: ``replay``'s multi-process path with a pool of ONE decode process.

    ``replay(workers=N)`` runs N decode processes besides the main one (which runs the engine), so
    on two cores ``--workers 2`` means three busy processes, and ``--workers 1`` means no pool.
    This swaps ``replay``'s file source for a one-process pool (same ``_decode_packed`` and
    MessagePack path) for the duration of one call, to see whether two processes beat three.
    """
    original = consumers.replay._decoded

    def one_worker(
        files: list[LogFile], workers: int
    ) -> Iterator[tuple[list[CloudTrailRecord], Counter[str]]]:
        packed_records = msgspec.msgpack.Decoder(list[CloudTrailRecord])
        with multiprocessing.get_context("forkserver").Pool(1) as pool:
            for packed, rejects in pool.imap(consumers.replay._decode_packed, files, chunksize=4):
                yield packed_records.decode(packed), rejects

    consumers.replay._decoded = one_worker
    try:
        run = replay_run(files, 2)
    finally:
        consumers.replay._decoded = original
    run.name = "1 decode proc + main"
    return run


# -- timed breakdown ----------------------------------------------------------------------------------
class Timers:
    """Inclusive wall time per call path of wrapped callables (nested wraps give a tree)."""

    def __init__(self) -> None:
        self.seconds: defaultdict[tuple[str, ...], float] = defaultdict(float)
        self.calls: defaultdict[tuple[str, ...], int] = defaultdict(int)
        self._stack: list[str] = []

    @contextmanager
    def span(self, label: str) -> Iterator[None]:
        self._stack.append(label)
        path = tuple(self._stack)
        began = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[path] += time.perf_counter() - began
            self.calls[path] += 1
            self._stack.pop()

    def wrap(self, owner: Any, attribute: str, label: str) -> Callable[[], None]:
        """Replace ``owner.attribute`` by a timed version; returns a function that undoes it."""
        inner = getattr(owner, attribute)
        had_own = isinstance(owner, type(sys)) or attribute in getattr(owner, "__dict__", {})

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.span(label):
                return inner(*args, **kwargs)

        setattr(owner, attribute, timed)

        def undo() -> None:
            if had_own:
                setattr(owner, attribute, inner)
            else:
                delattr(owner, attribute)

        return undo

    def rows(self) -> list[tuple[tuple[str, ...], float, float, int]]:
        """(path, inclusive s, self s, calls), depth-first in recorded order of first appearance."""
        children: defaultdict[tuple[str, ...], float] = defaultdict(float)
        for path, seconds in self.seconds.items():
            children[path[:-1]] += seconds
        ordered = sorted(self.seconds, key=lambda p: [self._rank(p[: i + 1]) for i in range(len(p))])
        return [(p, self.seconds[p], self.seconds[p] - children[p], self.calls[p]) for p in ordered]

    def _rank(self, path: tuple[str, ...]) -> float:
        return -self.seconds.get(path, 0.0)


def timed_breakdown(files: list[LogFile]) -> tuple[Run, Timers]:
    """Replay with ``replay()``'s batching in our own loop, every step timed."""
    timers = Timers()
    engine = Engine()
    undo: list[Callable[[], None]] = [
        timers.wrap(insights.decode, "unwrap", "gunzip"),
        timers.wrap(insights.track, "decide", "decide"),
        timers.wrap(engine.normaliser, "normalise", "normalise"),
    ]
    for track in engine.tracks:
        name = "call" if track is engine.call else "error"
        undo += [
            timers.wrap(track, "close_minute", f"close_minute[{name}]"),
            timers.wrap(track, "ingest", "ingest"),
            timers.wrap(track, "_view", "view"),
            timers.wrap(track, "_apply", "apply"),
            timers.wrap(track, "evict_idle", "evict_idle"),
            timers.wrap(track.baseline, "learn", "baseline.learn"),
            timers.wrap(track.baseline, "roll_hour", "baseline.roll_hour"),
            timers.wrap(track.baseline, "refresh", "baseline.refresh"),
            timers.wrap(track.attributions, "observe", "attr.observe"),
            timers.wrap(track.attributions, "flush", "attr.flush"),
            timers.wrap(track.attributions, "rotate", "attr.rotate"),
        ]
    decoders: dict[Envelope, Decoder] = {}
    encoder = msgspec.msgpack.Encoder()
    packed_decoder = msgspec.msgpack.Decoder(list[CloudTrailRecord])
    batch: list[CloudTrailRecord] = []
    records = starts = ends = 0

    def count(transitions: list[InsightTransition]) -> None:
        nonlocal starts, ends
        starts += sum(t.state == "Start" for t in transitions)
        ends += sum(t.state == "End" for t in transitions)

    try:
        began = time.perf_counter()
        for item in files:
            decoder = decoders.get(item.envelope)
            if decoder is None:
                decoder = decoders[item.envelope] = Decoder(envelope=item.envelope)
            with timers.span("read"):
                data = read_bytes(item.path)
            with timers.span("decode"):
                decoded = decoder.decode(data).records
            records += len(decoded)
            batch.extend(decoded)
            if len(batch) >= BATCH_RECORDS:
                with timers.span("engine.process"):
                    count(engine.process(batch))
                batch.clear()
        with timers.span("engine.process"):
            count(engine.process(batch))
        with timers.span("engine.finish"):
            count(engine.finish())
        run = Run("timed pass (workers=1)", records, time.perf_counter() - began, starts, ends)
    finally:
        for step in reversed(undo):
            step()
    # Outside the timed pass: the MessagePack round trip each file takes with --workers > 1
    # (encoded in a worker, decoded again in the main process, which also runs the engine).
    for item in files:
        decoder = decoders[item.envelope]
        decoded = decoder.decode(read_bytes(item.path)).records
        with timers.span("(extra) msgpack encode [worker side]"):
            packed = encoder.encode(decoded)
        with timers.span("(extra) msgpack decode [main side]"):
            packed_decoder.decode(packed)
    run.name += f" keys call={len(engine.call.keys)} error={len(engine.error.keys)}"
    return run, timers


def profile_replay(files: list[LogFile], top: int) -> None:
    """cProfile of ``replay(workers=1)``, top functions by own time, to stderr."""
    profiler = cProfile.Profile()
    profiler.enable()
    replay_run(files, 1)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stderr)
    stats.sort_stats("tottime").print_stats(top)


# -- report -------------------------------------------------------------------------------------------
def line(run: Run) -> str:
    extra = f"  starts={run.starts} ends={run.ends}" if run.starts or run.ends else ""
    return (
        f"{run.name:<22} records={run.records:>9,}  seconds={run.seconds:7.2f}"
        f"  records/s={run.rate:>10,.0f}{extra}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, help="trace directory (reused if it has labels.json)")
    parser.add_argument("--days", type=float, default=GenerateOptions.days, help="trace length if generated")
    parser.add_argument("--scale", type=float, default=GenerateOptions.scale, help="busy-API rate factor")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2, help="interleaved rounds; best of each is kept")
    parser.add_argument("--workers", type=int, default=2, help="workers for measurement (c)")
    parser.add_argument(
        "--one-worker-what-if",
        action="store_true",
        help="also time replay's pool path with ONE decode process (two processes in all)",
    )
    parser.add_argument("--no-breakdown", action="store_true", help="skip the timed breakdown pass")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="also cProfile (b), top N")
    args = parser.parse_args()

    temporary = args.workdir is None
    workdir: Path = args.workdir or Path(tempfile.mkdtemp(prefix="trailpulse-bench-replay-"))
    try:
        options = GenerateOptions(seed=args.seed, days=args.days, scale=args.scale)
        files = ensure_trace(workdir, options)
        return measure(files, args)
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)


def measure(files: list[LogFile], args: argparse.Namespace) -> int:
    best: dict[str, Run] = {}
    all_runs: defaultdict[str, list[float]] = defaultdict(list)
    kinds: list[tuple[str, Callable[[], Run]]] = [
        ("floor", lambda: decode_floor(files)),
        ("one", lambda: replay_run(files, 1)),
        ("parallel", lambda: replay_run(files, args.workers)),
    ]
    if args.one_worker_what_if:
        kinds.append(("one_worker", lambda: one_decode_worker_run(files)))
    for round_no in range(1, args.repeat + 1):
        for kind, fn in kinds:
            gc.collect()
            run = fn()
            all_runs[kind].append(run.rate)
            print(f"round {round_no}: {line(run)}", file=sys.stderr)
            if kind not in best or run.seconds < best[kind].seconds:
                best[kind] = run

    floor, one, parallel = best["floor"], best["one"], best["parallel"]
    outputs = {(r.starts, r.ends) for r in best.values() if r is not floor}
    # Ratios within each round (runs seconds apart), less exposed to load changing between rounds.
    paired_one = [o / f for f, o in zip(all_runs["floor"], all_runs["one"], strict=True)]
    paired_parallel = [p / f for f, p in zip(all_runs["floor"], all_runs["parallel"], strict=True)]
    ratio_one = one.rate / floor.rate
    ratio_parallel = parallel.rate / floor.rate
    goal_one = ratio_one >= FLOOR_RATIO_GOAL
    goal_parallel = parallel.rate >= TWO_CORE_GOAL

    print(f"\n{len(files):,} files; best of {args.repeat} interleaved rounds")
    for run in best.values():
        print(line(run))
    print(
        f"replay workers=1 / floor = {ratio_one:.2f}  (goal >= {FLOOR_RATIO_GOAL}: "
        f"{'met' if goal_one else 'NOT met'}); per round: {', '.join(f'{r:.2f}' for r in paired_one)}"
    )
    print(
        f"replay workers={args.workers} / floor = {ratio_parallel:.2f}; {parallel.rate:,.0f} records/s "
        f"(goal >= {TWO_CORE_GOAL:,.0f}: {'met' if goal_parallel else 'NOT met'});"
        f" per round / floor: {', '.join(f'{r:.2f}' for r in paired_parallel)}"
    )
    if "one_worker" in best:
        print(f"what-if, 1 decode process + main: {best['one_worker'].rate:,.0f} records/s")
    if floor.records < MIN_RECORDS:
        print(f"warning: only {floor.records:,} records (the issue asks for >= {MIN_RECORDS:,})")
    if len(outputs) != 1:
        print(f"warning: replays disagree on insights (starts, ends): {sorted(outputs)}")

    breakdown: dict[str, float] = {}
    if not args.no_breakdown:
        gc.collect()
        timed, timers = timed_breakdown(files)
        print(f"\nbreakdown of one-process replay ({line(timed)}):")
        print(f"  {'step':<58}{'incl s':>9}{'self s':>9}{'calls':>10}{'% pass':>8}")
        for path, inclusive, own, calls in timers.rows():
            if len(path) > 1 and inclusive < 0.002 * timed.seconds:
                continue  # noise (e.g. the few minutes engine.finish closes)
            label = "  " * (len(path) - 1) + path[-1]
            extra = path[0].startswith("(extra)")
            share = "-" if extra else f"{100 * inclusive / timed.seconds:.1f}"
            print(f"  {label:<58}{inclusive:9.2f}{own:9.2f}{calls:10,}{share:>8}")
            if len(path) <= 2:
                breakdown["/".join(path)] = round(inclusive, 3)
        engine_seconds = sum(timers.seconds[(k,)] for k in ("engine.process", "engine.finish"))
        main_side = engine_seconds + timers.seconds[("(extra) msgpack decode [main side]",)]
        print(
            f"  engine alone: {timed.records / engine_seconds:,.0f} records/s; main process with workers>1"
            f" (msgpack decode + engine): ceiling ~{timed.records / main_side:,.0f} records/s"
        )
        breakdown["engine_records_per_s"] = round(timed.records / engine_seconds)
        breakdown["parallel_main_ceiling_records_per_s"] = round(timed.records / main_side)

    if args.profile:
        profile_replay(files, args.profile)

    print(
        json.dumps(
            {
                "bench": "replay",
                "files": len(files),
                "records": floor.records,
                "repeat": args.repeat,
                "floor": {"seconds": round(floor.seconds, 3), "records_per_s": round(floor.rate)},
                "replay_workers_1": {"seconds": round(one.seconds, 3), "records_per_s": round(one.rate)},
                f"replay_workers_{args.workers}": {
                    "seconds": round(parallel.seconds, 3),
                    "records_per_s": round(parallel.rate),
                },
                "all_rates": {k: [round(r) for r in v] for k, v in all_runs.items()},
                "one_decode_process_what_if": (
                    {
                        "seconds": round(best["one_worker"].seconds, 3),
                        "records_per_s": round(best["one_worker"].rate),
                    }
                    if "one_worker" in best
                    else None
                ),
                "ratio_workers_1": round(ratio_one, 3),
                "ratio_workers_1_per_round": [round(r, 3) for r in paired_one],
                f"ratio_workers_{args.workers}": round(ratio_parallel, 3),
                "goal_ratio_workers_1": goal_one,
                "goal_two_cores_150k": goal_parallel,
                "insights": {"starts": one.starts, "ends": one.ends},
                "breakdown_seconds": breakdown,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
