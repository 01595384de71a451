"""``trailpulse replay``: run the engine over CloudTrail log files and print Insight events."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import IO

from consumers.config import engine_settings
from consumers.files.discover import InputError, discover
from consumers.files.replay import replay
from insights.config import EngineConfig
from insights.engine import Engine
from insights.events import encode_event, insight_event
from insights.transition import InsightTransition


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("replay", help="run the engine over CloudTrail log files")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, directories (recursive) or - for stdin")
    p.add_argument("--output", "-o", help="write Insight events here (default: stdout)")
    p.add_argument("--workers", type=int, default=1, help="decoding processes (default: 1)")
    p.add_argument("--config", help="TOML settings file (see consumers/config/engine_settings.py)")
    p.add_argument("--lateness", type=int, help="allowed lateness in minutes")
    p.add_argument("--warmup-minutes", type=int, help="history a key needs before it can alert")
    p.add_argument("--data-events", action="store_true", help="analyse data events too")


def config_from_args(args: argparse.Namespace) -> EngineConfig:
    """The settings file (if any) with the command-line flags on top."""
    base = engine_settings.load(args.config) if args.config else EngineConfig()
    overrides: dict[str, object] = {}
    if args.lateness is not None:
        overrides["allowed_lateness_minutes"] = args.lateness
    if args.warmup_minutes is not None:
        overrides["warmup_minutes"] = args.warmup_minutes
    if args.data_events:
        overrides["analyse_data_events"] = True
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
        files = discover(args.paths)
        out: IO[bytes] = open(args.output, "wb") if args.output else sys.stdout.buffer  # noqa: SIM115
    except (InputError, OSError, engine_settings.SettingsError) as exc:
        print(f"trailpulse replay: {exc}", file=sys.stderr)
        return 2
    engine = Engine(config)

    def emit(transitions: list[InsightTransition]) -> None:
        out.write(b"".join(encode_event(insight_event(t)) + b"\n" for t in transitions))

    try:
        summary = replay(files, engine, emit, workers=args.workers, stdin="-" in args.paths)
    except InputError as exc:
        print(f"trailpulse replay: {exc}", file=sys.stderr)
        return 2
    finally:
        if out is not sys.stdout.buffer:
            out.close()
        else:
            out.flush()
    print(summary.line(engine), file=sys.stderr)
    return 0
