"""Where (b)'s time goes, read from a cProfile of ``trailpulse run``'s process.

The daemon runs unchanged under ``python -m cProfile`` (``runs.run_daemon``'s ``prefix``): nothing in
it is wrapped or replaced, so the figures hold whatever its modules and clients are called. Own time is
summed by area of the code (a C built-in's time goes to the area that called it: msgspec's decode to
the engine, a socket read to kafka-python; waiting on a lock or a socket is an area of its own), and
trailpulse's own functions are listed by inclusive time. The profile covers the whole process, its
start-up (imports) included: the ``startup_s`` of the run says how much of it that is.
cProfile sees the main thread only (in wall time): kafka-python's IO thread (fetches, heartbeats,
rebalance listeners) shows as the main thread waiting for it.
"""

from __future__ import annotations

import pstats
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.throughput.runs import Run

# (area, path fragment): the first that a function's file contains names its area.
AREAS: tuple[tuple[str, str], ...] = (
    ("engine (insights/)", "/insights/"),
    ("daemon loop, checkpoint, logs (consumers/runtime/)", "/consumers/runtime/"),
    ("Kafka client adapters (consumers/kafka/)", "/consumers/kafka/"),
    ("state store (consumers/state/)", "/consumers/state/"),
    ("the rest of consumers/", "/consumers/"),
    ("kafka-python", "/site-packages/kafka/"),
    ("numpy", "/site-packages/numpy/"),
    ("other libraries", "/site-packages/"),
    ("Python standard library", "/lib/python3"),
    ("imports at start-up (Python's import machinery)", "<frozen importlib"),
)
TRAILPULSE_AREAS = {area for area, fragment in AREAS if fragment.startswith(("/insights/", "/consumers/"))}
BUILTIN = "~"  # cProfile's file name for C functions
# C functions that wait rather than work: for a poll's results from kafka-python's IO thread, for the
# decode pool, for the network.
WAITING_AREA = "waiting (locks, sleep, select)"
WAITING = ("acquire' of '_thread.", "time.sleep", "select.", "epoll")


def area_of(filename: str) -> str:
    if filename == BUILTIN:
        return "C built-ins called from C"
    path = filename.replace("\\", "/")
    return next((area for area, fragment in AREAS if fragment in path), "other")


def package_path(filename: str) -> str:
    """``consumers/runtime/daemon.py`` from wherever the package lives (a checkout or site-packages)."""
    path = filename.replace("\\", "/")
    cut = max(path.rfind("/consumers/"), path.rfind("/insights/"))
    return path[cut + 1 :] if cut >= 0 else path


def own_time_by_area(stats: dict[Any, Any]) -> dict[str, float]:
    """Seconds of own time per area; a built-in's time is split among its callers' areas."""
    totals: dict[str, float] = defaultdict(float)
    for (filename, _, name), (_, _, own, _, callers) in stats.items():
        if filename == BUILTIN and any(marker in name for marker in WAITING):
            totals[WAITING_AREA] += own
        elif filename == BUILTIN and callers:
            for (caller_file, _, _), edge in callers.items():
                totals[area_of(caller_file)] += edge[2]  # the built-in's own time under this caller
        else:
            totals[area_of(filename)] += own
    return dict(totals)


def print_breakdown(profile: Path, run: Run, top: int = 25) -> dict[str, float]:
    """Prints own time by area and trailpulse's busiest functions; returns the areas' seconds."""
    stats: dict[Any, Any] = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]
    areas = own_time_by_area(stats)
    profiled = sum(areas.values())
    print(
        f"\nbreakdown of (b), profiled pass: {run.seconds:.2f} s from spawn to the end offsets (slower than"
        f" unprofiled); the main thread's profile covers {profiled:.2f} s of wall time, waits included;"
        f" the process used {run.cpu_seconds:.2f} s of CPU, all threads"
    )
    print(f"  {'own time by area':<58}{'s':>8}{'%':>7}")
    for area, seconds in sorted(areas.items(), key=lambda item: -item[1]):
        print(f"  {area:<58}{seconds:8.2f}{100 * seconds / profiled:7.1f}")
    ours = [
        (key, value)
        for key, value in stats.items()
        if area_of(key[0]) in TRAILPULSE_AREAS and key[2] != "<module>"  # not the imports
    ]
    ours.sort(key=lambda item: -item[1][3])
    print(f"\n  {'trailpulse functions by inclusive time':<58}{'calls':>10}{'incl s':>8}{'own s':>8}")
    for (filename, line, name), (_, calls, own, inclusive, _) in ours[:top]:
        where = f"{package_path(filename)}:{line} {name}"
        print(f"  {where:<58}{calls:10,}{inclusive:8.2f}{own:8.2f}")
    return {area: round(seconds, 3) for area, seconds in areas.items()}


def print_profile(profile: Path, top: int) -> None:
    """cProfile's own table: the ``top`` functions by own time."""
    print(f"\ncProfile of (b), top {top} by own time:")
    pstats.Stats(str(profile), stream=sys.stdout).sort_stats("tottime").print_stats(top)
