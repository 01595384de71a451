"""``trailpulse generate``: seeded synthetic CloudTrail traffic with ground-truth labels.

Writes gzipped CloudTrail log files in the S3 layout under ``OUT/AWSLogs/...`` and ``OUT/labels.json``
(the anomalies a detector must flag, and the API roster), or sends the same trace to a Kafka topic.
The same options give byte-identical output.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from consumers.synth import kafka_writer
from consumers.synth.kafka_arrival import ArrivalModel, horizon_minutes
from consumers.synth.options import ANOMALY_SUITES, DEFAULT_START, DELIVERIES, GenerateOptions, iso_to_minute
from consumers.synth.s3_delivery import iter_log_files
from consumers.synth.write_files import generate_with_stats

DESCRIPTION = """\
Write a seeded synthetic CloudTrail trace with injected anomalies: gzipped log files laid out as an S3
sync of CloudTrail holds them (OUT/AWSLogs/...), and OUT/labels.json naming each injected anomaly (the
Insights a detector should find) and the APIs of the trace. With --bootstrap-servers the same trace is
also sent to a Kafka topic. The same options always give byte-identical output.

--delivery realistic (the default) names each log file by the time it was delivered, as CloudTrail
does: each account-region's files arrive 0-10 minutes after their period closes, a few up to 30, so
names interleave out of event order across account-regions, and 2 % of records sit in a later file,
up to 30 minutes after their period. --delivery period names each file by the end of the 5-minute
period it covers, so names follow event time (1 % of records up to 20 minutes late): the in-order
control. replay keeps event time per account-region, so neither loses records as late.

To Kafka, messages go out in the order they would reach a real topic: EventBridge and raw records
1-10 seconds after their eventTime, CloudWatch Logs batches 1-5 minutes after, S3 files (s3, s3gz,
jsonl) at their delivery time as --delivery models it. --partition-skew-minutes makes some
account-regions' partitions run behind others; --backlog-hours writes the start of the trace at once
before --rate or --speedup pace the rest."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``generate`` sub-command."""
    d = GenerateOptions()
    p = subparsers.add_parser(
        "generate",
        help="write synthetic CloudTrail traffic with labelled anomalies",
        description=DESCRIPTION,
    )
    p.add_argument("--out", type=Path, help="output directory (required unless --bootstrap-servers)")
    p.add_argument(
        "--seed", type=int, default=d.seed, help="random seed: same seed, same trace (default %(default)s)"
    )
    p.add_argument("--days", type=float, default=d.days, help="trace length in days (default %(default)s)")
    p.add_argument("--start", default=DEFAULT_START, help="first minute, ISO-8601 UTC (default %(default)s)")
    p.add_argument("--no-anomalies", action="store_true", help="generate normal traffic only")
    p.add_argument(
        "--scale", type=float, default=d.scale, help="multiply busy API rates (default %(default)s)"
    )
    p.add_argument(
        "--delivery",
        choices=DELIVERIES,
        default=d.delivery,
        help="how log files are named and delayed: by the period they cover, or by delivery time as"
        " CloudTrail does (default %(default)s)",
    )
    p.add_argument(
        "--late-fraction",
        type=float,
        help="share of records put in the file of a later period, 0..0.5"
        " (default 0.01 with period delivery, 0.02 with realistic)",
    )
    p.add_argument(
        "--max-late",
        type=int,
        metavar="MINUTES",
        help="how many minutes after their own period a late record's file period may be, 5..120"
        " (default 20 with period delivery, 30 with realistic)",
    )
    p.add_argument(
        "--duplicate-fraction",
        type=float,
        default=d.duplicate_fraction,
        help="share of records delivered twice, in two files, 0..0.5 (default %(default)s)",
    )
    p.add_argument(
        "--accounts",
        type=int,
        default=d.accounts,
        help="AWS accounts in the trace, 1..8 (default %(default)s)",
    )
    p.add_argument(
        "--regions", type=int, default=d.regions, help="regions per account, 1..4 (default %(default)s)"
    )
    p.add_argument(
        "--anomaly-suite",
        choices=ANOMALY_SUITES,
        default=d.anomaly_suite,
        help="classic: six kinds far beyond normal; tiered: issue 10's nine kinds, each at a chosen"
        " window z (clear or edge), and quiet decoys in the normal traffic (default %(default)s)",
    )
    p.add_argument(
        "--gzip-level",
        type=int,
        default=d.gzip_level,
        help="compression of the log files, 0..9 (default %(default)s)",
    )
    p.add_argument("--overwrite", action="store_true", help="remove OUT/AWSLogs and OUT/labels.json first")
    kafka_writer.add_arguments(p)


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
            kafka_writer.parse_flags(args)  # fail before any file is written
        options = GenerateOptions(
            seed=args.seed,
            days=args.days,
            start_minute=iso_to_minute(args.start),
            anomalies=not args.no_anomalies,
            scale=args.scale,
            delivery=args.delivery,
            late_fraction=args.late_fraction,
            max_late_minutes=args.max_late,
            duplicate_fraction=args.duplicate_fraction,
            accounts=args.accounts,
            regions=args.regions,
            gzip_level=args.gzip_level,
            anomaly_suite=args.anomaly_suite,
        )
        options.validate()
    except ValueError as exc:
        print(f"trailpulse generate: {exc}", file=sys.stderr)
        return 2
    status = 0 if out is None else _write_files(out, options, args.overwrite)
    if status == 0 and args.bootstrap_servers is not None:
        model = ArrivalModel(options.seed, args.partition_skew_minutes, horizon_minutes(options.max_late))
        status = kafka_writer.run_kafka(args, iter_log_files(options), model)
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
    if options.delivery == "realistic" and stats.file_delays:
        delays = sorted(stats.file_delays.elements())
        print(
            f"trailpulse generate: files delivered {delays[len(delays) // 2]} min (median),"
            f" {delays[-1]} min (max) after their period closed",
            file=sys.stderr,
        )
    print(
        f"trailpulse generate: {stats.records} records ({stats.late} late, {stats.duplicates} duplicated) "
        f"in {stats.files} files, {len(labels['anomalies'])} anomalies, {written / 1e6:.1f} MB, "
        f"{took:.1f} s ({stats.records / max(took, 1e-9) / 1000:.0f}k records/s) -> {out}",
        file=sys.stderr,
    )
    return 0
