"""``trailpulse plot``: draw one API's series, baseline and insights, from CloudTrail log files
replayed here (per minute) or from a daemon's state directory (per hour, see
:mod:`consumers.plot.state_series`)."""

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
from consumers.plot.render import PlotUnavailableError, render, render_hourly, title
from consumers.plot.series import KeyFilter, KeySeries, SeriesRecorder
from consumers.plot.state_series import hourly_series, matching_keys
from consumers.state.directory_store import StateStore, StateStoreError
from insights.config import EngineConfig
from insights.engine import Engine
from insights.snapshot import SnapshotError
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
            " insights shaded, like the CloudTrail console's graph; or, with --state-dir, draw what a"
            " daemon's saved state holds: hourly means over the baseline window and the open insight."
            " Needs matplotlib (pip install 'trailpulse[plot]')."
        ),
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (read recursively)")
    p.add_argument(
        "--state-dir",
        metavar="DIR",
        help="draw from the state directory of `trailpulse run` instead of replaying files"
        " (give --config the daemon's settings file)",
    )
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
    p.add_argument("--lateness", type=int, metavar="MINUTES", help="as for replay (files only)")
    p.add_argument("--warmup-minutes", type=int, metavar="MINUTES", help="as for replay (files only)")
    p.add_argument("--data-events", action="store_true", help="analyse data events too (files only)")


def span(series: KeySeries, since: str | None, until: str | None) -> tuple[int, int]:
    """The minutes to draw: the flags', else the insights with a margin, else everything recorded."""
    first, last = series.minutes[0], series.minutes[-1]
    if series.windows:
        first = max(first, min(w.start for w in series.windows) - MARGIN_MINUTES)
        ends = [last if w.end is None else w.end for w in series.windows]
        last = min(last, max(ends) + MARGIN_MINUTES)
    return clip(first, last, since, until)


def _minute(moment: datetime) -> int:
    return int(moment.timestamp() // 60)


def key_filter(args: argparse.Namespace) -> KeyFilter:
    """The API the flags name."""
    return KeyFilter(
        event_name=args.event_name,
        event_source=args.event_source,
        account=args.account,
        region=args.region,
        insight_type=ERROR_RATE if args.error_code else CALL_RATE,
        error_code=args.error_code,
    )


def clip(first: int, last: int, since: str | None, until: str | None) -> tuple[int, int]:
    """``first``..``last`` replaced by the minutes of ``--from``/``--to`` where given."""
    if since is not None:
        first = _minute(parse_timestamp(since))
    if until is not None:
        last = _minute(parse_timestamp(until))
    return first, last


def run(args: argparse.Namespace) -> int:
    if bool(args.paths) == (args.state_dir is not None):
        print("trailpulse plot: give either PATHs to replay or --state-dir, not both", file=sys.stderr)
        return 2
    if args.state_dir is not None:
        return run_state(args)
    try:
        config = config_from_args(args)
        inputs = discover(args.paths)
        _check_times(args)
    except (InputError, OSError, ValueError, engine_settings.SettingsError) as exc:
        print(f"trailpulse plot: {exc}", file=sys.stderr)
        return 2
    engine = Engine(config)
    recorder = SeriesRecorder(engine, key_filter(args))
    summary = replay(inputs, engine, recorder.add_transitions, workers=args.workers)
    print(summary.line(engine), file=sys.stderr)
    found = [s for s in recorder.series.values() if s.minutes]
    if len(found) != 1:
        what = "no API matches" if not found else f"{len(found)} APIs match; narrow with the flags:"
        print(f"trailpulse plot: {what}", file=sys.stderr)
        for series in found:
            print(f"  {title(series.key)}  ({len(series.windows)} insights)", file=sys.stderr)
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
        f"trailpulse plot: {title(series.key)}: {len(series.windows)} insights; wrote {args.output}",
        file=sys.stderr,
    )
    return 0


# Tables of the daemon's settings file that are not the engine's: plot reads the same file.
DAEMON_TABLES = ("kafka", "run", "alert")


def state_config(path: str | None) -> EngineConfig:
    """The engine settings of the daemon's ``--config`` file (its other tables ignored): the ring's
    layout must be the one the state was saved with."""
    if path is None:
        return EngineConfig()
    data = engine_settings.read_toml(path)
    return engine_settings.engine_config({k: v for k, v in data.items() if k not in DAEMON_TABLES}, path)


def run_state(args: argparse.Namespace) -> int:
    """``--state-dir``: draw the hourly series a daemon's saved state holds for the named API."""
    files_only = {
        "--workers": args.workers != 1,
        "--lateness": args.lateness is not None,
        "--warmup-minutes": args.warmup_minutes is not None,
        "--data-events": args.data_events,
    }
    if any(files_only.values()):
        given = ", ".join(flag for flag, on in files_only.items() if on)
        print(f"trailpulse plot: {given}: for replayed files only, not --state-dir", file=sys.stderr)
        return 2
    try:
        _check_times(args)
        config = state_config(args.config)
        state = StateStore(args.state_dir).load()
        if state is None:
            raise StateStoreError(f"no state in {args.state_dir} (the daemon has not saved any yet)")
        engine = Engine.restore(state.engine, config)
    except (ValueError, engine_settings.SettingsError, StateStoreError) as exc:
        hint = " (give --config the daemon's settings file)" if isinstance(exc, SnapshotError) else ""
        print(f"trailpulse plot: {exc}{hint}", file=sys.stderr)
        return 2
    found = matching_keys(engine, key_filter(args))
    if len(found) != 1:
        what = "no API matches" if not found else f"{len(found)} APIs match; narrow with the flags:"
        print(f"trailpulse plot: {what}", file=sys.stderr)
        for key in found:
            print(f"  {title(key)}", file=sys.stderr)
        return 2
    series = hourly_series(engine, found[0])
    if series is None:
        print("trailpulse plot: the state has no closed minute yet", file=sys.stderr)
        return 2
    first, last = clip(series.first_minute(), series.now - 1, args.since, args.until)
    if first > last:
        print("trailpulse plot: --from is after --to", file=sys.stderr)
        return 2
    try:
        render_hourly(series, first, last, Path(args.output))
    except PlotUnavailableError as exc:
        print(f"trailpulse plot: {exc}", file=sys.stderr)
        return 2
    opened = "an insight open" if series.window is not None else "no insight open"
    print(f"trailpulse plot: {title(series.key)}: {opened}; wrote {args.output}", file=sys.stderr)
    return 0


def _check_times(args: argparse.Namespace) -> None:
    """Refuse a bad ``--from``/``--to`` (``ValueError``) before any long work."""
    for text in (args.since, args.until):
        if text is not None:
            parse_timestamp(text)
