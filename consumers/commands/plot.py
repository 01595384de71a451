"""``trailpulse plot``: replay CloudTrail log files and draw one API's series, baseline and insights."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from consumers.commands.replay import config_from_args, int_in
from consumers.commands.score_series import parse_timestamp
from consumers.config import engine_settings
from consumers.files.discover import InputError, discover
from consumers.files.replay import replay
from consumers.plot.render import PlotUnavailableError, render, title
from consumers.plot.series import KeyFilter, KeySeries, SeriesRecorder
from insights.engine import Engine
from insights.transition import CALL_RATE, ERROR_RATE

# Without --from/--to: this much on each side of the insights, or the whole input if there are none.
MARGIN_MINUTES = 12 * 60


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "plot",
        help="draw one API's calls per minute, its baseline and its insights as a PNG",
        description=(
            "Replay CloudTrail log files as `trailpulse replay` does and draw one API's calls (or"
            " errors) per minute, the references the detector judged each minute against, and its"
            " insights shaded, like the CloudTrail console's graph. Needs matplotlib"
            " (pip install 'trailpulse[plot]')."
        ),
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or directories (read recursively)")
    p.add_argument(
        "--event-name", required=True, metavar="NAME", help="the API's eventName, e.g. RunInstances"
    )
    p.add_argument(
        "--event-source", metavar="SOURCE", help="e.g. ec2.amazonaws.com (if the name is ambiguous)"
    )
    p.add_argument("--account", metavar="ID", help="recipient account id (if the API is seen in several)")
    p.add_argument("--region", metavar="REGION", help="e.g. us-east-1 (if the API is seen in several)")
    p.add_argument(
        "--error-code", metavar="CODE", help="draw the error rate of this errorCode instead of the call rate"
    )
    p.add_argument("--from", dest="since", metavar="TIME", help="start of the span (ISO 8601, UTC)")
    p.add_argument("--to", dest="until", metavar="TIME", help="end of the span (ISO 8601, UTC)")
    p.add_argument("--output", "-o", required=True, metavar="FILE.png", help="the picture to write")
    p.add_argument("--workers", type=int_in(1, 256), default=1, metavar="N", help="decode processes")
    p.add_argument("--config", metavar="FILE", help="TOML settings file (the engine settings of the README)")
    p.add_argument("--lateness", type=int, metavar="MINUTES", help="as for replay")
    p.add_argument("--warmup-minutes", type=int, metavar="MINUTES", help="as for replay")
    p.add_argument("--data-events", action="store_true", help="analyse data events too")


def span(series: KeySeries, since: str | None, until: str | None) -> tuple[int, int]:
    """The minutes to draw: the flags', else the insights with a margin, else everything recorded."""
    first, last = series.minutes[0], series.minutes[-1]
    if series.windows:
        first = max(first, min(w.start for w in series.windows) - MARGIN_MINUTES)
        ends = [last if w.end is None else w.end for w in series.windows]
        last = min(last, max(ends) + MARGIN_MINUTES)
    if since is not None:
        first = _minute(parse_timestamp(since))
    if until is not None:
        last = _minute(parse_timestamp(until))
    return first, last


def _minute(moment: datetime) -> int:
    return int(moment.timestamp() // 60)


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
        inputs = discover(args.paths)
        for text in (args.since, args.until):
            if text is not None:
                parse_timestamp(text)  # a bad time is refused before a long replay
    except (InputError, OSError, ValueError, engine_settings.SettingsError) as exc:
        print(f"trailpulse plot: {exc}", file=sys.stderr)
        return 2
    wanted = KeyFilter(
        event_name=args.event_name,
        event_source=args.event_source,
        account=args.account,
        region=args.region,
        insight_type=ERROR_RATE if args.error_code else CALL_RATE,
        error_code=args.error_code,
    )
    engine = Engine(config)
    recorder = SeriesRecorder(engine, wanted)
    summary = replay(inputs, engine, recorder.add_transitions, workers=args.workers)
    print(summary.line(engine), file=sys.stderr)
    found = [s for s in recorder.series.values() if s.minutes]
    if len(found) != 1:
        what = "no API matches" if not found else f"{len(found)} APIs match; narrow with the flags:"
        print(f"trailpulse plot: {what}", file=sys.stderr)
        for series in found:
            print(f"  {title(series)}  ({len(series.windows)} insights)", file=sys.stderr)
        return 2
    series = found[0]
    first, last = span(series, args.since, args.until)
    if first > last:
        print("trailpulse plot: --from is after --to", file=sys.stderr)
        return 2
    try:
        render(series, first, last, Path(args.output))
    except PlotUnavailableError as exc:
        print(f"trailpulse plot: {exc}", file=sys.stderr)
        return 2
    print(
        f"trailpulse plot: {title(series)}: {len(series.windows)} insights; wrote {args.output}",
        file=sys.stderr,
    )
    return 0
