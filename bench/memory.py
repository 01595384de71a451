#!/usr/bin/env python
"""Resident memory with 100 k tracked keys and a full 7-day baseline, and bytes per key.

Builds a default :class:`Engine` (7-day window), tracks ``--keys`` call-rate keys (and
``--error-keys`` error-rate keys) and drives it through ``--days`` of closed minutes (default 7.5:
more than the 10080-minute window, so every hourly ring slot has been written, every key has seen
hour rolls and attribution-epoch rotations, and both epochs' sketches hold values).

Driving 100 k keys through ``Engine.process`` with real records would take hours, so the tracks
are fed directly, the way the normaliser feeds them: keys are created with ``Track.slot_for``,
then each hour ``Engine._ingest`` gets that hour's random observations (a few thousand a minute on
random keys, values being interned ids of a few hundred ARNs and user agents, skewed so some are
heavy hitters), and ``Engine._close_through`` closes the minutes one by one, as ``process`` does.
A state check after the run shows the ring, baseline and sketches are full.

It reports the RSS (``VmRSS`` of ``/proc/self/status``) before the keys exist and after the run,
the RSS delta per key against the 4 KiB goal and the theoretical bytes of every step's columns,
the snapshot size, and the time a minute close takes at this many keys.

``--flood 100000`` measures something else: the peak RSS each extra key costs when 300 k write calls
spread over 100 k junk API names instead of 250 (see ``bench/memory_flood.py``).

Run: ``.venv/bin/python bench/memory.py [--keys 100000] [--error-keys 10000] [--days 7.5]``
(progress goes to stderr; the last line printed is JSON).
"""

from __future__ import annotations

import argparse
import cProfile
import ctypes
import ctypes.util
import gc
import json
import pstats
import statistics
import sys
import time
from typing import Any

import memory_flood
import numpy as np
from memory_state import Traffic, create_keys, key_table_bytes, make_keys, state_check

from insights.engine import Engine

GOAL_BYTES_PER_KEY = 4096
MINUTES_PER_DAY = 1440
HOUR = 60
# 2026-01-05 plus a few hours, placed half an attribution epoch (3.5 days) past an epoch boundary,
# so that a 7.5-day run rotates twice and ends with both epochs well filled.
EPOCH_MINUTES = 7 * MINUTES_PER_DAY // 2
FIRST_MINUTE = (29_459_520 // EPOCH_MINUTES) * EPOCH_MINUTES + EPOCH_MINUTES // 2


def rss_bytes(field: str = "VmRSS") -> int:
    """A ``/proc/self/status`` memory figure (VmRSS: resident now; VmHWM: peak), in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def malloc_trim() -> bool:
    """Give free heap memory back to the OS (glibc), to tell live data from allocator slack."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        return bool(ctypes.CDLL(name).malloc_trim(0))
    except (OSError, AttributeError):
        return False


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- main ---------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keys", type=int, default=100_000, help="call-rate keys (default %(default)s)")
    parser.add_argument(
        "--error-keys", type=int, default=10_000, help="error-rate keys (default %(default)s)"
    )
    parser.add_argument(
        "--days", type=float, default=7.5, help="days of minutes to close (default %(default)s)"
    )
    parser.add_argument("--per-minute", type=int, default=3000, help="call observations per minute")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--profile-hours",
        type=int,
        default=0,
        metavar="N",
        help="cProfile the minute closes of the last N hours (top functions to stderr; their times"
        " are left out of the close statistics)",
    )
    parser.add_argument(
        "--flood",
        type=int,
        default=0,
        metavar="NAMES",
        help="instead: peak RSS per key of write calls over NAMES junk API names vs 250 names"
        " (bench/memory_flood.py)",
    )
    parser.add_argument("--flood-calls", type=int, default=300_000, help=argparse.SUPPRESS)
    parser.add_argument("--flood-minutes", type=int, default=180, help=argparse.SUPPRESS)
    parser.add_argument("--flood-child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flood_child:
        memory_flood.child(args.flood_calls, args.flood_child, args.flood_minutes, args.seed)
        return 0
    if args.flood:
        memory_flood.run(args.flood_calls, args.flood, args.flood_minutes, args.seed)
        return 0
    hours = max(1, round(args.days * MINUTES_PER_DAY / HOUR))
    if hours * HOUR <= 7 * MINUTES_PER_DAY:
        progress(f"warning: {hours * HOUR} minutes do not fill the 7-day baseline ring")

    engine = Engine()
    call_traffic = Traffic(engine, range(args.keys), args.per_minute, args.seed)
    error_per_minute = max(1, args.per_minute * args.error_keys // max(args.keys, 1))
    error_traffic = Traffic(
        engine, range(args.keys, args.keys + args.error_keys), error_per_minute, args.seed + 1
    )
    gc.collect()
    malloc_trim()
    rss_before = rss_bytes()

    began = time.perf_counter()
    call_keys = make_keys(args.keys, with_error=False)
    error_keys = make_keys(args.error_keys, with_error=True)
    create_keys(engine.track, call_keys, FIRST_MINUTE)
    create_keys(engine.track, error_keys, FIRST_MINUTE)
    del call_keys, error_keys  # the key tables hold the tuples now
    progress(f"created {args.keys:,} + {args.error_keys:,} keys in {time.perf_counter() - began:.1f} s")

    close_ms: list[float] = []
    hour_close_ms: list[float] = []
    rotate_close_ms: list[float] = []
    profiler = cProfile.Profile()
    began = time.perf_counter()
    for h in range(hours):
        first = FIRST_MINUTE + h * HOUR
        engine._ingest(*call_traffic.hour(first))
        if args.error_keys:
            engine._ingest(*error_traffic.hour(first))
        profiling = h >= hours - args.profile_hours
        for minute in range(first, first + HOUR):
            t0 = time.perf_counter()
            if profiling:
                profiler.enable()
            transitions = engine._close_through(minute)
            if profiling:
                profiler.disable()
                continue
            ms = 1000 * (time.perf_counter() - t0)
            if (minute + 1) % EPOCH_MINUTES == 0:
                rotate_close_ms.append(ms)
            elif (minute + 1) % HOUR == 0:
                hour_close_ms.append(ms)
            else:
                close_ms.append(ms)
            if transitions:
                progress(f"  minute {minute}: {len(transitions)} transitions")
        if (h + 1) % 24 == 0 or h + 1 == hours:
            progress(
                f"  day {(h + 1) / 24:.1f}: {time.perf_counter() - began:.0f} s, "
                f"RSS {rss_bytes() / 2**20:.0f} MiB, minute close median {median(close_ms):.2f} ms"
            )
    drive_seconds = time.perf_counter() - began
    if args.profile_hours:
        progress(f"profile of the minute closes of the last {args.profile_hours} hours:")
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)

    gc.collect()
    rss_after = rss_bytes()
    peak = rss_bytes("VmHWM")
    trimmed = malloc_trim()
    rss_trimmed = rss_bytes()
    call_count = sum(1 for key in engine.track.keys.table.index if len(key) == 5)
    error_count = len(engine.track.keys) - call_count
    keys = len(engine.track.keys)
    delta = rss_after - rss_before
    per_key = delta / keys
    theory = {"key": sum(cols.nbytes_per_key() for cols in engine.track.columns)}
    theory_total = theory["key"] * keys
    checks = {"keys": state_check(engine.track)}
    key_tables = key_table_bytes([engine.track])
    strings = len(engine.strings)

    t0 = time.perf_counter()
    snap = len(engine.snapshot())
    snap_seconds = time.perf_counter() - t0
    snap_peak = rss_bytes("VmHWM")

    print(f"keys: {call_count:,} call-rate + {error_count:,} error-rate = {keys:,}")
    print(
        f"minutes closed: {hours * HOUR:,} ({hours * HOUR / MINUTES_PER_DAY:.2f} days)"
        f" in {drive_seconds:.0f} s"
    )
    print(
        f"RSS before keys {rss_before / 2**20:.1f} MiB, after {rss_after / 2**20:.1f} MiB,"
        f" delta {delta / 2**20:.1f} MiB"
    )
    print(
        f"RSS after malloc_trim {rss_trimmed / 2**20:.1f} MiB ({'done' if trimmed else 'nothing freed'}),"
        f" delta {(rss_trimmed - rss_before) / keys:,.0f} B/key; peak (VmHWM) {peak / 2**20:.1f} MiB"
    )
    print(
        f"bytes per key (RSS delta / keys): {per_key:,.0f}  (goal <= {GOAL_BYTES_PER_KEY}: "
        f"{'met' if per_key <= GOAL_BYTES_PER_KEY else 'NOT met'})"
    )
    print(
        f"theoretical columns per key: {theory['key']:,} B;"
        f" all columns {theory_total / 2**20:.1f} MiB = {theory_total / keys:,.0f} B/key"
    )
    print(
        f"of the rest ({(delta - theory_total) / keys:,.0f} B/key): key tables (dicts, lists, key tuples and"
        f" their strings) {key_tables / keys:,.0f} B/key; allocator slack and other"
        f" {(delta - theory_total - key_tables) / keys:,.0f} B/key"
        f" ({(rss_trimmed - rss_before - theory_total - key_tables) / keys:,.0f} after malloc_trim)"
    )
    print(
        f"snapshot: {snap / 2**20:.1f} MiB = {snap / keys:,.0f} B/key, {snap_seconds:.2f} s"
        f" (peak RSS while snapshotting {snap_peak / 2**20:.0f} MiB)"
    )
    print(
        f"minute close at {keys:,} keys: median {median(close_ms):.2f} ms,"
        f" p99 {np.percentile(close_ms or [np.nan], 99):.2f} ms;"
        f" at an hour roll median {median(hour_close_ms):.1f} ms;"
        f" at an epoch rotation {statistics.mean(rotate_close_ms) if rotate_close_ms else 0:.1f} ms"
    )
    print(f"interned strings: {strings:,}; state check: {json.dumps(checks)}")

    result: dict[str, Any] = {
        "bench": "memory",
        "keys": keys,
        "call_keys": call_count,
        "error_keys": error_count,
        "minutes": hours * HOUR,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "rss_delta": delta,
        "rss_after_trim": rss_trimmed,
        "rss_peak": peak,
        "bytes_per_key": round(per_key),
        "goal_bytes_per_key": GOAL_BYTES_PER_KEY,
        "goal_met": per_key <= GOAL_BYTES_PER_KEY,
        "nbytes_per_key": theory,
        "key_table_bytes_per_key": round(key_tables / keys),
        "snapshot_bytes": snap,
        "snapshot_bytes_per_key": round(snap / keys),
        "close_ms_median": round(median(close_ms), 3),
        "close_ms_p99": round(float(np.percentile(close_ms or [np.nan], 99)), 3),
        "close_ms_hour_roll_median": round(median(hour_close_ms), 3),
        "close_ms_epoch_rotation": [round(x, 1) for x in rotate_close_ms],
        "state_check": checks,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
