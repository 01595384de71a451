#!/usr/bin/env python
"""Replay throughput against the decode floor, measured side by side in one run.

On a generated trace of gzipped CloudTrail files in the S3 layout (default options: ~1.85 M records
over 10.5 days), this measures:

* (a) the *decode floor*: read + gunzip + decode of every file with one :class:`Decoder` per envelope
  (as ``replay`` reuses them), one process, records discarded: what no replay can beat;
* (b) ``replay(workers=1)``: the full engine in one process, transitions discarded;
* (c) ``replay(workers=2)``: decoding in two processes, the engine in the main one.

Each round runs (a), (b) and (c) one after the other; with ``--repeat N`` rounds the best of each is
reported, with the ratios of each round (the machine may be shared, so only figures measured in the
same run mean anything). Besides wall time, each run reports the main process's CPU time (how much
of a core it got; records per CPU second compare (a) and (b) less exposed to the load, though on a
VM whose host is busy CPU time inflates too). For every replay the time spent inside the
engine's entry points is measured too, which for (c) shows whether the main process is the limit.
Goals (issue acceptance): b >= 0.5 * a, and c >= 150 k records/s.

A separate pass runs ``replay(workers=1)`` again with the timers of ``bench/replay_measures.py``
around the steps it goes through. ``--profile N`` adds a cProfile pass of (b) (top N functions by
own time, to stderr).

``--small-files`` generates the layout of a real bucket of small accounts instead: 8 accounts x 4
regions at scale 0.3 with realistic delivery, 2 days (~620 k records in ~20 k files, median ~14
records per file), where per-file and per-record costs outside decoding show; ``--scale`` changes
its rates (``--scale 1``: ~1.6 M records in ~21 k files, median ~31 records per file). The
median records per file of the trace is printed either way.

Run: ``.venv/bin/python bench/replay.py [--workdir DIR] [--repeat 2] [--days 10.5] [--scale 1]
[--small-files]``
(``DIR`` is reused if ``DIR/labels.json`` exists, else the trace is generated there; without
``--workdir`` a temporary directory is used and removed). The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from replay_measures import Run, Timers, line, print_breakdown, wrap_steps

from consumers.files.discover import Inputs, LogFile, discover
from consumers.files.read import read_file
from consumers.files.replay import replay
from consumers.synth.options import GenerateOptions
from insights.decode import Decoder, Envelope
from insights.envelope import log_file_records, unwrap
from insights.transition import InsightTransition

# The engine (scipy) and the generator are imported where they are used, not here: the decode
# workers of (c) are spawned processes, which import this script again before their first task;
# with those imports at its top each worker took ~1.5 s of CPU to start, which the CLI (whose
# entry module is light) does not pay, so (c) measured that start-up on top of replay's work.

FLOOR_RATIO_GOAL = 0.5
TWO_CORE_GOAL = 150_000.0
MIN_RECORDS = 1_000_000
# --small-files: many small account-regions, as a real organisation's bucket holds (issue 8).
SMALL_FILES: dict[str, Any] = {
    "accounts": 8,
    "regions": 4,
    "scale": 0.3,
    "days": 2.0,
    "delivery": "realistic",
}
# The engine's entry points replay may call (whichever exist): time inside them is "engine" time.
ENGINE_ENTRY_POINTS = ("process", "classify", "process_classified", "finish")


# -- input -------------------------------------------------------------------------------------------
def ensure_trace(workdir: Path, options: GenerateOptions) -> list[LogFile]:
    """The trace's log files, generating the trace unless ``workdir/labels.json`` exists."""
    if (workdir / "labels.json").exists():
        print(f"reusing the trace in {workdir}", file=sys.stderr)
    else:
        print(f"generating {options.days} days (scale {options.scale}) into {workdir} ...", file=sys.stderr)
        began = time.perf_counter()
        workdir.mkdir(parents=True, exist_ok=True)
        from consumers.synth.write_files import generate_to_dir

        generate_to_dir(workdir, options)
        print(f"  generated in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    return discover([str(workdir / "AWSLogs")]).files


def median_records_per_file(files: list[LogFile]) -> float:
    """Median number of records per file (its ``Records``, undecoded; 0 for a file of another kind)."""
    counts = [len(log_file_records(unwrap(read_file(item.path), 1 << 32)) or ()) for item in files]
    return statistics.median(counts) if counts else 0.0


# -- the three measurements -------------------------------------------------------------------------
_FLOOR_DECODERS: dict[Envelope, Decoder] = {}


def decode_floor(files: list[LogFile]) -> Run:
    """(a) read + gunzip + decode every file, one process, one decoder per envelope, nothing kept."""
    records = 0
    began, cpu = time.perf_counter(), time.process_time()
    for item in files:
        decoder = _FLOOR_DECODERS.get(item.envelope)
        if decoder is None:
            decoder = _FLOOR_DECODERS[item.envelope] = Decoder(envelope=item.envelope)
        records += len(decoder.decode(read_file(item.path)).records)
    return Run("decode floor", records, time.perf_counter() - began, time.process_time() - cpu)


def _discard(_transitions: list[InsightTransition]) -> None:
    return None


def replay_run(files: list[LogFile], workers: int, timers: Timers | None = None) -> Run:
    """(b)/(c) ``replay`` with a fresh default engine, engine entry points timed; output discarded.

    With ``timers``, the steps of :func:`replay_measures.wrap_steps` are timed as well (the breakdown
    pass).
    """
    from insights.engine import Engine

    engine = Engine()
    own = timers or Timers()
    for name in ENGINE_ENTRY_POINTS:
        own.wrap(engine, name, f"engine.{name}")
    if timers is not None:
        wrap_steps(timers, engine)
    cpu = time.process_time()
    try:
        summary = replay(Inputs(files=files), engine, _discard, workers=workers)
    finally:
        own.unwrap_all()
    entry = [path for path in own.seconds if len(path) == 1 and path[0].startswith("engine.")]
    return Run(
        f"replay workers={workers}",
        summary.records,
        summary.seconds,
        time.process_time() - cpu,
        engine_seconds=sum(own.seconds[p] for p in entry),
        engine_cpu_seconds=sum(own.cpu[p] for p in entry),
        starts=summary.starts,
        ends=summary.ends,
    )


def profile_replay(files: list[LogFile], top: int) -> None:
    """cProfile of ``replay(workers=1)``, top functions by own time, to stderr."""
    profiler = cProfile.Profile()
    profiler.enable()
    replay_run(files, 1)
    profiler.disable()
    print(f"\ncProfile of replay(workers=1), top {top} by own time:", file=sys.stderr)
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(top)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, help="trace directory (reused if it has labels.json)")
    parser.add_argument("--days", type=float, default=GenerateOptions.days, help="trace length if generated")
    parser.add_argument(
        "--scale",
        type=float,
        help=f"busy-API rate factor (default {GenerateOptions.scale}; 0.3 with --small-files)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--small-files",
        action="store_true",
        help="generate 8 accounts x 4 regions at scale 0.3, realistic delivery, 2 days: small files",
    )
    parser.add_argument("--repeat", type=int, default=2, help="interleaved rounds; best of each is kept")
    parser.add_argument("--workers", type=int, default=2, help="workers for measurement (c)")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the timed breakdown pass")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="also cProfile (b), top N")
    args = parser.parse_args()

    temporary = args.workdir is None
    workdir: Path = args.workdir or Path(tempfile.mkdtemp(prefix="trailpulse-bench-replay-"))
    try:
        options = GenerateOptions(seed=args.seed, days=args.days)
        if args.small_files:
            options = replace(options, **SMALL_FILES)
        if args.scale is not None:
            options = replace(options, scale=args.scale)
        files = ensure_trace(workdir, options)
        return measure(files, args)
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)


def measure(files: list[LogFile], args: argparse.Namespace) -> int:
    runs: defaultdict[str, list[Run]] = defaultdict(list)
    kinds: list[tuple[str, Callable[[], Run]]] = [
        ("floor", lambda: decode_floor(files)),
        ("one", lambda: replay_run(files, 1)),
        ("parallel", lambda: replay_run(files, args.workers)),
    ]
    for round_no in range(1, args.repeat + 1):
        for kind, fn in kinds:
            gc.collect()
            run = fn()
            runs[kind].append(run)
            print(f"round {round_no}: {line(run)}", file=sys.stderr)

    best = {kind: min(items, key=lambda r: r.seconds) for kind, items in runs.items()}
    floor, one, parallel = best["floor"], best["one"], best["parallel"]
    outputs = {(r.starts, r.ends) for kind in ("one", "parallel") for r in runs[kind]}
    ratio_one = one.rate / floor.rate
    ratio_parallel = parallel.rate / floor.rate
    # Within a round the runs are seconds apart: less exposed to the load changing between rounds.
    paired_one = [o.rate / f.rate for f, o in zip(runs["floor"], runs["one"], strict=True)]
    paired_parallel = [p.rate / f.rate for f, p in zip(runs["floor"], runs["parallel"], strict=True)]
    cpu_ratio_one = statistics.median(
        o.cpu_rate / f.cpu_rate for f, o in zip(runs["floor"], runs["one"], strict=True)
    )
    goal_one = ratio_one >= FLOOR_RATIO_GOAL
    goal_parallel = parallel.rate >= TWO_CORE_GOAL

    median = median_records_per_file(files)
    print(
        f"\n{len(files):,} files, median {median:g} records per file;"
        f" best of {args.repeat} interleaved rounds (by wall time)"
    )
    for run in (floor, one, parallel):
        print(line(run))
    print(
        f"replay workers=1 / floor = {ratio_one:.2f}  (goal >= {FLOOR_RATIO_GOAL}:"
        f" {'met' if goal_one else 'NOT met'}); per round {', '.join(f'{r:.2f}' for r in paired_one)};"
        f" per CPU second (median of rounds) {cpu_ratio_one:.2f}"
    )
    print(
        f"replay workers={args.workers}: {parallel.rate:,.0f} records/s (goal >= {TWO_CORE_GOAL:,.0f}:"
        f" {'met' if goal_parallel else 'NOT met'}); / floor = {ratio_parallel:.2f},"
        f" per round {', '.join(f'{r:.2f}' for r in paired_parallel)}"
    )
    engine_parallel = parallel.engine_seconds or 0.0
    engine_parallel_cpu = parallel.engine_cpu_seconds or 0.0
    print(
        f"  main process of workers={args.workers}: {parallel.cpu_seconds:.2f} s cpu"
        f" in {parallel.seconds:.2f} s wall, of which in engine {engine_parallel:.2f} s wall"
        f" / {engine_parallel_cpu:.2f} s cpu"
        f" (workers=1: {one.engine_seconds or 0.0:.2f} s / {one.engine_cpu_seconds or 0.0:.2f} s);"
        f" main-process ceiling {parallel.records / max(parallel.cpu_seconds, 1e-9):,.0f} records/s"
    )
    if floor.records < MIN_RECORDS:
        print(f"warning: only {floor.records:,} records (the issue asks for >= {MIN_RECORDS:,})")
    if len(outputs) != 1:
        print(f"warning: replays disagree on insights (starts, ends): {sorted(outputs)}")

    breakdown: dict[str, float] = {}
    if not args.no_breakdown:
        gc.collect()
        timers = Timers()
        timed = replay_run(files, 1, timers)
        print(f"\nbreakdown of replay(workers=1), timed pass: {line(timed)}")
        breakdown = print_breakdown(timers, timed.seconds)

    if args.profile:
        profile_replay(files, args.profile)

    print(
        json.dumps(
            {
                "bench": "replay",
                "files": len(files),
                "median_records_per_file": median,
                "records": floor.records,
                "repeat": args.repeat,
                "floor": floor.figures(),
                "replay_workers_1": one.figures(),
                f"replay_workers_{args.workers}": parallel.figures(),
                "rates_per_round": {k: [round(r.rate) for r in v] for k, v in runs.items()},
                "ratio_workers_1": round(ratio_one, 3),
                "ratio_workers_1_per_round": [round(r, 3) for r in paired_one],
                "ratio_workers_1_per_cpu_second": round(cpu_ratio_one, 3),
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
