"""``trailpulse replay``: run the engine over CloudTrail log files and print Insight events."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import IO, TextIO

from consumers.config import engine_settings
from consumers.files.discover import InputError, discover
from consumers.files.metrics_file import write_metrics_file
from consumers.files.replay import replay, warmup_note
from consumers.files.report import InputReport
from insights.config import EngineConfig
from insights.engine import Engine
from insights.events import encode_event, insight_event
from insights.eventtime import minute_to_iso
from insights.transition import InsightTransition

MAX_WORKERS = 256


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived (a BaseException, as KeyboardInterrupt: no handler of errors takes it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def int_in(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``, else a message saying so."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range: from {low} to {high}")
        return value

    return parse


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "replay",
        help="find Insight events in CloudTrail log files (e.g. an aws s3 sync of a trail's bucket)",
        description=(
            "Read CloudTrail log files (S3 log files, JSON lines, gzipped or not), in the order of the"
            " time in their names, and write the Insight events found as JSON lines. Digest and"
            " Insight files of the S3 layout are skipped; a path that cannot be read is named on"
            " stderr and skipped; a summary line ends the run on stderr."
        ),
    )
    p.add_argument(
        "paths", nargs="+", metavar="PATH", help="files, directories (read recursively) or - for stdin"
    )
    p.add_argument("--output", "-o", metavar="FILE", help="write Insight events here (default: stdout)")
    p.add_argument(
        "--workers",
        type=int_in(1, MAX_WORKERS),
        default=1,
        metavar="N",
        help="processes decoding files; more than 1 speeds up large replays (default: 1)",
    )
    p.add_argument("--config", metavar="FILE", help="TOML settings file (the engine settings of the README)")
    p.add_argument(
        "--lateness",
        type=int,
        metavar="MINUTES",
        help="how far behind the newest event time of its own account-region a record may be and still"
        " count (default: 35)",
    )
    p.add_argument(
        "--leave-open",
        action="store_true",
        help="do not close the minutes still open at the end of the input, as trailpulse run leaves them"
        " once caught up: the output is then what run gives for the same records",
    )
    p.add_argument(
        "--warmup-minutes",
        type=int,
        metavar="MINUTES",
        help="event-time history an API needs before it can raise an insight (default: 2160, 36 h)",
    )
    p.add_argument(
        "--data-events", action="store_true", help="analyse data events too, not only management events"
    )
    p.add_argument(
        "--strict", action="store_true", help="stop (exit 2) at the first path that cannot be read"
    )
    p.add_argument(
        "--rejects", metavar="FILE", help="write every rejected record as a JSON line (file, place, reason)"
    )
    p.add_argument(
        "--explain",
        action="store_true",
        help="for each Start, say on stderr which rule fired and on what figures (window, calls observed"
        " and expected, reference, tail probability)",
    )
    p.add_argument(
        "--reason-field",
        action="store_true",
        help='end each Start record with a "trailpulse": {"reason": ...} key saying the same (off: AWS\'s'
        " exact shape)",
    )
    p.add_argument(
        "--metrics-file",
        metavar="FILE",
        help="at the end, write the replay's figures in the Prometheus text format (e.g. FILE.prom in"
        " node_exporter's textfile directory)",
    )


def config_from_args(args: argparse.Namespace) -> EngineConfig:
    """The settings file (if any) with the command-line flags on top.

    Ranges are checked by the engine's settings themselves (``SettingsError`` names the setting),
    so a flag and a file are refused with the same words."""
    base = engine_settings.load(args.config) if args.config else EngineConfig()
    overrides: dict[str, object] = {}
    if args.lateness is not None:
        overrides["allowed_lateness_minutes"] = args.lateness
    if args.warmup_minutes is not None:
        overrides["warmup_minutes"] = args.warmup_minutes
    if args.data_events:
        overrides["analyse_data_events"] = True
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def explain_line(t: InsightTransition) -> str:
    """A Start for people: what started, where, when, and why (``--explain``)."""
    code = f" {t.error_code}" if t.error_code else ""
    where = f"{t.account_id} {t.region} {t.event_source} {t.event_name}{code}"
    return f"{t.state} {t.insight_type} {where} {minute_to_iso(t.event_minute)}: {t.why}"


def run(args: argparse.Namespace) -> int:
    stdin = "-" in args.paths
    try:
        config = config_from_args(args)
        inputs = discover(args.paths)
        if args.strict and inputs.unreadable:
            raise inputs.unreadable[0]
        if not (inputs.files or stdin) and inputs.unreadable:
            for error in inputs.unreadable:
                print(f"trailpulse replay: {error}", file=sys.stderr)
            return 2
        out: IO[bytes] = open(args.output, "wb") if args.output else sys.stdout.buffer  # noqa: SIM115
        rejects: TextIO | None = open(args.rejects, "w", encoding="utf-8") if args.rejects else None  # noqa: SIM115
    except (InputError, OSError, engine_settings.SettingsError) as exc:
        print(f"trailpulse replay: {exc}", file=sys.stderr)
        return 2
    engine = Engine(config)

    def emit(transitions: list[InsightTransition]) -> None:
        out.write(b"".join(encode_event(insight_event(t, args.reason_field)) + b"\n" for t in transitions))
        if args.explain:
            for t in transitions:
                if t.why is not None:
                    print(explain_line(t), file=sys.stderr)

    report = InputReport(sys.stderr, args.strict, rejects)
    # Both signals end replay the same way, through the finally blocks that stop the decode workers:
    # one line, and the status of a process killed by that signal (as a shell reports it).
    previous = {s: signal.signal(s, _interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        summary = replay(
            inputs, engine, emit, workers=args.workers, stdin=stdin, report=report, finish=not args.leave_open
        )
    except InputError as exc:
        print(f"trailpulse replay: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(f"trailpulse replay: stopped by {exc}; the output is incomplete", file=sys.stderr)
        return 128 + exc.signum
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if out is not sys.stdout.buffer:
            out.close()
        else:
            out.flush()
        if rejects is not None:
            rejects.close()
    print(summary.line(engine), file=sys.stderr)
    if args.metrics_file:
        try:
            write_metrics_file(args.metrics_file, summary, engine)
        except OSError as exc:
            print(f"trailpulse replay: cannot write the metrics file: {exc}", file=sys.stderr)
            return 2
    note = warmup_note(summary, config.warmup_minutes)
    if note is not None:
        print(f"trailpulse replay: {note}", file=sys.stderr)
    return 2 if summary.files == 0 and summary.unreadable else 0
