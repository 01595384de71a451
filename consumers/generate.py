"""``trailpulse generate``: seeded synthetic CloudTrail traffic with ground-truth labels.

Writes gzipped CloudTrail log files in the S3 layout under ``OUT/AWSLogs/...`` and ``OUT/labels.json``
(the anomalies a detector must flag, and the API roster). The same options give byte-identical
output. The traffic model lives in ``consumers.traffic``; files come from ``iter_log_files``, which a
Kafka writer can reuse without touching the disk.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from consumers import generate_kafka
from consumers.delivery import DeliveryStats, GeneratedFile, iter_log_files
from consumers.traffic import Labels, TrafficPlan, plan_traffic
from consumers.traffic_options import DEFAULT_START, GenerateOptions, iso_to_minute

__all__ = [
    "DeliveryStats",
    "GenerateOptions",
    "GeneratedFile",
    "Labels",
    "TrafficPlan",
    "add_parser",
    "generate_to_dir",
    "generate_with_stats",
    "iter_log_files",
    "plan_traffic",
    "run",
]

LABELS_FILE = "labels.json"


def gzip_bytes(data: bytes, level: int) -> bytes:
    """Gzip ``data`` deterministically (no file name, zero mtime)."""
    return zlib.compress(data, level, wbits=31)


def generate_with_stats(out: Path, options: GenerateOptions) -> tuple[Labels, DeliveryStats, int]:
    """Write the trace and labels under ``out``; returns labels, delivery counts and bytes written."""
    plan = plan_traffic(options)
    stats = DeliveryStats()
    written = 0
    made: set[Path] = set()
    pending: deque[tuple[Path, Future[bytes]]] = deque()

    def flush(keep: int) -> None:
        nonlocal written
        while len(pending) > keep:
            path, future = pending.popleft()
            data = future.result()
            path.write_bytes(data)
            written += len(data)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for log in iter_log_files(options, plan, stats):
            path = out / log.path
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            pending.append((path, pool.submit(gzip_bytes, log.body(), options.gzip_level)))
            flush(16)
        flush(0)
    labels = plan.labels()
    (out / LABELS_FILE).write_text(json.dumps(labels, indent=1) + "\n")
    return labels, stats, written


def generate_to_dir(out: Path, options: GenerateOptions) -> Labels:
    """Write the trace's log files and ``labels.json`` under ``out``; returns the labels."""
    return generate_with_stats(out, options)[0]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``generate`` sub-command."""
    d = GenerateOptions()
    p = subparsers.add_parser(
        "generate", help="write seeded synthetic CloudTrail log files and labels.json", description=__doc__
    )
    p.add_argument("--out", type=Path, help="output directory (required unless --bootstrap-servers)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--days", type=float, default=d.days, help="trace length in days (default %(default)s)")
    p.add_argument("--start", default=DEFAULT_START, help="first minute, ISO-8601 UTC (default %(default)s)")
    p.add_argument("--no-anomalies", action="store_true", help="generate normal traffic only")
    p.add_argument(
        "--scale", type=float, default=d.scale, help="multiply busy API rates (default %(default)s)"
    )
    p.add_argument("--late-fraction", type=float, default=d.late_fraction)
    p.add_argument("--duplicate-fraction", type=float, default=d.duplicate_fraction)
    p.add_argument("--accounts", type=int, default=d.accounts)
    p.add_argument("--regions", type=int, default=d.regions)
    p.add_argument("--gzip-level", type=int, default=d.gzip_level)
    p.add_argument("--overwrite", action="store_true", help="remove OUT/AWSLogs and OUT/labels.json first")
    generate_kafka.add_arguments(p)


def run(args: argparse.Namespace) -> int:
    """Run ``trailpulse generate``; prints a one-line summary to stderr.

    With ``--bootstrap-servers`` the trace also goes to Kafka (after the files, if ``--out`` is given).
    """
    out: Path | None = args.out
    try:
        if args.bootstrap_servers is None and (out is None or args.topic is not None):
            raise ValueError("--out is required (or --bootstrap-servers with --topic)")
        if args.bootstrap_servers is not None and not args.topic:
            raise ValueError("--topic is required with --bootstrap-servers")
        if args.bootstrap_servers is not None:
            generate_kafka.parse_flags(args)  # fail before any file is written
        options = GenerateOptions(
            seed=args.seed,
            days=args.days,
            start_minute=iso_to_minute(args.start),
            anomalies=not args.no_anomalies,
            scale=args.scale,
            late_fraction=args.late_fraction,
            duplicate_fraction=args.duplicate_fraction,
            accounts=args.accounts,
            regions=args.regions,
            gzip_level=args.gzip_level,
        )
        options.validate()
    except ValueError as exc:
        print(f"trailpulse generate: {exc}", file=sys.stderr)
        return 2
    status = 0 if out is None else _write_files(out, options, args.overwrite)
    if status == 0 and args.bootstrap_servers is not None:
        status = generate_kafka.run_kafka(args, iter_log_files(options))
    return status


def _write_files(out: Path, options: GenerateOptions, overwrite: bool) -> int:
    logs = out / "AWSLogs"
    if logs.exists() and any(logs.iterdir()):
        if not overwrite:
            print(f"trailpulse generate: {logs} is not empty (use --overwrite)", file=sys.stderr)
            return 2
        shutil.rmtree(logs)
    out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    labels, stats, written = generate_with_stats(out, options)
    took = time.perf_counter() - began
    print(
        f"trailpulse generate: {stats.records} records ({stats.late} late, {stats.duplicates} duplicated) "
        f"in {stats.files} files, {len(labels['anomalies'])} anomalies, {written / 1e6:.1f} MB, "
        f"{took:.1f} s ({stats.records / max(took, 1e-9) / 1000:.0f}k records/s) -> {out}",
        file=sys.stderr,
    )
    return 0
