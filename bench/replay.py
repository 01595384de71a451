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

A separate pass runs ``replay(workers=1)`` again with timers wrapped around the steps it goes
through (read, decode, gunzip, the engine's stages, minute closes and their parts), so it is
replay's own batching; only this process's objects are wrapped, no engine code is changed, and a
step the code does not have (it evolves) is simply not shown. ``--profile N`` adds a cProfile pass
of (b) (top N functions by own time, to stderr).

Run: ``.venv/bin/python bench/replay.py [--workdir DIR] [--repeat 2] [--days 10.5] [--scale 1]``
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
import types
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import consumers.files.replay
import insights.decode
from consumers.files.discover import LogFile, discover, read_bytes
from consumers.files.replay import replay
from consumers.synth.options import GenerateOptions
from consumers.synth.write_files import generate_to_dir
from insights.decode import Decoder, Envelope
from insights.engine import Engine
from insights.transition import InsightTransition

FLOOR_RATIO_GOAL = 0.5
TWO_CORE_GOAL = 150_000.0
MIN_RECORDS = 1_000_000
# The engine's entry points replay may call (whichever exist): time inside them is "engine" time.
ENGINE_ENTRY_POINTS = ("process", "classify", "process_classified", "finish")
# Steps timed in the breakdown pass, where they exist: (owner path, attribute, label).
ENGINE_STEPS = (
    ("normaliser", "normalise", "normalise"),
    ("normaliser", "classify", "classify"),
    ("", "_ingest", "ingest"),
)
TRACK_STEPS = (
    ("", "close", "close_minute[{track}]"),
    ("", "_view", "view"),
    ("lifecycle", "decide", "decide"),
    ("", "_apply", "apply"),
    ("", "evict_idle", "evict_idle"),
    ("baseline", "learn", "baseline.learn"),
    ("baseline", "roll_hour", "baseline.roll_hour"),
    ("baseline", "refresh", "baseline.refresh"),
    ("attributions", "observe", "attr.observe"),
    ("attributions", "flush", "attr.flush"),
    ("attributions", "rotate", "attr.rotate"),
)


@dataclass
class Run:
    """One timed pass over the files."""

    name: str
    records: int
    seconds: float
    cpu_seconds: float
    engine_seconds: float | None = None
    engine_cpu_seconds: float | None = None
    starts: int = 0
    ends: int = 0

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_rate(self) -> float:
        return self.records / self.cpu_seconds if self.cpu_seconds > 0 else 0.0


# -- timers -------------------------------------------------------------------------------------------
class Timers:
    """Inclusive wall time per call path of wrapped callables (nested wraps give a tree).

    ``cpu`` holds the calling thread's CPU time per path: unlike wall time it leaves out time the
    process was waiting for a core (on a loaded machine) or for other threads holding the GIL.
    """

    def __init__(self) -> None:
        self.seconds: defaultdict[tuple[str, ...], float] = defaultdict(float)
        self.cpu: defaultdict[tuple[str, ...], float] = defaultdict(float)
        self.calls: defaultdict[tuple[str, ...], int] = defaultdict(int)
        self._stack: list[str] = []
        self._undo: list[Callable[[], None]] = []

    @contextmanager
    def span(self, label: str) -> Iterator[None]:
        self._stack.append(label)
        path = tuple(self._stack)
        began, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.seconds[path] += time.perf_counter() - began
            self.cpu[path] += time.thread_time() - cpu
            self.calls[path] += 1
            self._stack.pop()

    def wrap(self, owner: Any, attribute: str, label: str) -> bool:
        """Replace ``owner.attribute`` by a timed version until :meth:`unwrap_all`; False if absent."""
        inner = getattr(owner, attribute, None)
        if owner is None or not callable(inner):
            return False
        own = isinstance(owner, type | types.ModuleType) or attribute in getattr(owner, "__dict__", {})

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.span(label):
                return inner(*args, **kwargs)

        setattr(owner, attribute, timed)
        self._undo.append(lambda: setattr(owner, attribute, inner) if own else delattr(owner, attribute))
        return True

    def unwrap_all(self) -> None:
        while self._undo:
            self._undo.pop()()

    def top_level(self) -> float:
        return sum(s for path, s in self.seconds.items() if len(path) == 1)

    def rows(self) -> list[tuple[tuple[str, ...], float, float, int]]:
        """(path, inclusive s, self s, calls); children under parents, busiest first."""
        children: defaultdict[tuple[str, ...], float] = defaultdict(float)
        for path, seconds in self.seconds.items():
            children[path[:-1]] += seconds
        ordered = sorted(self.seconds, key=lambda p: [-self.seconds[p[: i + 1]] for i in range(len(p))])
        return [(p, self.seconds[p], self.seconds[p] - children[p], self.calls[p]) for p in ordered]


def _attribute_path(root: Any, path: str) -> Any:
    for part in filter(None, path.split(".")):
        root = getattr(root, part, None)
    return root


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
    began, cpu = time.perf_counter(), time.process_time()
    for item in files:
        decoder = _FLOOR_DECODERS.get(item.envelope)
        if decoder is None:
            decoder = _FLOOR_DECODERS[item.envelope] = Decoder(envelope=item.envelope)
        records += len(decoder.decode(read_bytes(item.path)).records)
    return Run("decode floor", records, time.perf_counter() - began, time.process_time() - cpu)


def _discard(_transitions: list[InsightTransition]) -> None:
    return None


def replay_run(files: list[LogFile], workers: int, timers: Timers | None = None) -> Run:
    """(b)/(c) ``replay`` with a fresh default engine, engine entry points timed; output discarded.

    With ``timers``, every step of :data:`ENGINE_STEPS`/:data:`TRACK_STEPS` and the decode path is
    timed as well (the breakdown pass).
    """
    engine = Engine()
    own = timers or Timers()
    for name in ENGINE_ENTRY_POINTS:
        own.wrap(engine, name, f"engine.{name}")
    if timers is not None:
        own.wrap(consumers.files.replay, "read_bytes", "read")
        own.wrap(consumers.files.replay, "classify", "classify")
        own.wrap(Decoder, "decode", "decode")
        own.wrap(insights.decode, "unwrap", "gunzip")
        for owner, attribute, label in ENGINE_STEPS:
            own.wrap(_attribute_path(engine, owner), attribute, label)
        for name, track in (("keys", engine.track),):
            for owner, attribute, label in TRACK_STEPS:
                own.wrap(_attribute_path(track, owner), attribute, label.format(track=name))
    cpu = time.process_time()
    try:
        summary = replay(files, engine, _discard, workers=workers)
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


# -- report -------------------------------------------------------------------------------------------
def line(run: Run) -> str:
    text = (
        f"{run.name:<18} records={run.records:>9,}  wall={run.seconds:6.2f} s  records/s={run.rate:>9,.0f}"
        f"  main cpu={run.cpu_seconds:6.2f} s ({100 * run.cpu_seconds / run.seconds:3.0f}% of wall,"
        f" {run.cpu_rate:,.0f} records/cpu-s)"
    )
    if run.engine_seconds is not None and run.engine_cpu_seconds is not None:
        text += f"  in engine={run.engine_seconds:5.2f} s (cpu {run.engine_cpu_seconds:5.2f} s)"
    if run.starts or run.ends:
        text += f"  insights={run.starts}/{run.ends}"
    return text


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

    print(f"\n{len(files):,} files; best of {args.repeat} interleaved rounds (by wall time)")
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
        print(f"  {'step':<50}{'incl s':>9}{'self s':>9}{'calls':>10}{'% wall':>8}")
        for path, inclusive, own, calls in timers.rows():
            if len(path) > 1 and inclusive < 0.002 * timed.seconds:
                continue  # noise, e.g. the few minutes engine.finish closes
            label = "  " * (len(path) - 1) + path[-1]
            share = 100 * inclusive / timed.seconds
            print(f"  {label:<50}{inclusive:9.2f}{own:9.2f}{calls:10,}{share:8.1f}")
            if len(path) <= 2:
                breakdown["/".join(path)] = round(inclusive, 3)
        rest = timed.seconds - timers.top_level()
        print(
            f"  {'(replay outside the timed steps)':<50}{rest:9.2f}{'':>19}{100 * rest / timed.seconds:8.1f}"
        )
        breakdown["untimed"] = round(rest, 3)

    if args.profile:
        profile_replay(files, args.profile)

    def figures(run: Run) -> dict[str, Any]:
        return {
            "seconds": round(run.seconds, 3),
            "records_per_s": round(run.rate),
            "cpu_seconds": round(run.cpu_seconds, 3),
            "engine_seconds": None if run.engine_seconds is None else round(run.engine_seconds, 3),
            "engine_cpu_seconds": None
            if run.engine_cpu_seconds is None
            else round(run.engine_cpu_seconds, 3),
        }

    print(
        json.dumps(
            {
                "bench": "replay",
                "files": len(files),
                "records": floor.records,
                "repeat": args.repeat,
                "floor": figures(floor),
                "replay_workers_1": figures(one),
                f"replay_workers_{args.workers}": figures(parallel),
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
