"""``trailpulse score-series INPUT.csv``: the detector on one ``timestamp,value`` series.

Reads and writes CSV row by row (``-`` for stdin/stdout), so it can sit in a pipe. Output columns
are ``timestamp,value,baseline,score,insight,direction``; see :mod:`insights.series` for their
meaning.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from datetime import UTC, datetime
from typing import IO

from insights.series import SEASONS, SERIES_EVIDENCE_SURPRISE, SeriesScorer, series_params

SIDES = {1: "up", -1: "down", 0: ""}
SEASON_DAYS = {"day": 1, "week": 7}


class SeriesInputError(ValueError):
    """A row that cannot be read; reported with its line number."""


def parse_timestamp(text: str) -> datetime:
    """ISO-8601 with ``T`` or a space, optional fraction, optional ``Z`` or offset; naive is UTC."""
    value = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def score_csv(source: IO[str], sink: IO[str], scorer: SeriesScorer | None = None) -> int:
    """Score every row of ``source`` into ``sink`` (with ``scorer``, default a fresh
    :class:`SeriesScorer`); returns the number of rows."""
    reader = csv.reader(source)
    header = [h.strip().lower() for h in next(reader, [])]
    if "timestamp" not in header or "value" not in header:
        raise SeriesInputError("line 1: the header must name the columns timestamp and value")
    t_col, v_col = header.index("timestamp"), header.index("value")
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow(["timestamp", "value", "baseline", "score", "insight", "direction"])
    scorer = scorer or SeriesScorer()
    rows = 0
    for line, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        try:
            when = parse_timestamp(row[t_col])
            value = float(row[v_col])
            if not math.isfinite(value):
                raise ValueError(f"value {row[v_col]!r} is not a finite number")
            point = scorer.score(when, value)
        except (IndexError, ValueError) as exc:
            raise SeriesInputError(f"line {line}: {exc}") from exc
        baseline, score = f"{point.baseline:.6g}", f"{point.score:.6f}"
        writer.writerow([row[t_col], row[v_col], baseline, score, int(point.insight), SIDES[point.direction]])
        rows += 1
    return rows


DESCRIPTION = """\
Run the Insights detector over one series of counts at any regular interval (a metric export, a
log count per hour...): INPUT is a CSV file with a header naming the columns timestamp (ISO-8601,
UTC unless it says otherwise) and value; the output adds, for each row, the baseline learnt from the
rows before it, an anomaly score from 0 to 1 (0.5 where the evidence reaches the threshold of an
Insight; every row is scored, so a threshold on it can be swept), insight (1 while the series is
inside an Insight) and direction (up or down: the side of the evidence the score weighs). The
baseline spans 7 days (4 weeks with --season week) and needs 36 hours of history before any row
can be an Insight. Rows are read and written one at a time, so the command can sit in a pipe."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``score-series`` sub-command."""
    p = subparsers.add_parser(
        "score-series", help="score one timestamp,value CSV series for anomalies", description=DESCRIPTION
    )
    p.add_argument("input", metavar="INPUT", help="CSV file with a timestamp,value header, or - for stdin")
    p.add_argument("--output", "-o", metavar="OUTPUT", default="-", help="output CSV (default: stdout)")
    p.add_argument(
        "--evidence-surprise",
        type=non_negative,
        default=SERIES_EVIDENCE_SURPRISE,
        metavar="S",
        help="evidence a rise or drop of any length needs to become an Insight, as -log10 of a"
        " probability (default %(default)s; 0: single rows and short runs only, as before)",
    )
    p.add_argument(
        "--season",
        choices=tuple(SEASON_DAYS),
        default="day",
        help=f"compare each row with the same time of day on the days before (default), or of the"
        f" week on the {SEASONS} weeks before (for series with a weekly rhythm and weeks of history)",
    )


def non_negative(text: str) -> float:
    """A finite number >= 0 (argparse type)."""
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, not {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    """Run ``trailpulse score-series``: 0 when every row was scored, 1 for a bad row, 2 for a bad path."""
    try:
        source = sys.stdin if args.input == "-" else open(args.input, newline="", encoding="utf-8")  # noqa: SIM115
        sink = sys.stdout if args.output == "-" else open(args.output, "w", newline="", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        print(f"trailpulse score-series: {exc}", file=sys.stderr)
        return 2
    try:
        scorer = SeriesScorer(series_params(args.evidence_surprise), SEASON_DAYS[args.season])
        rows = score_csv(source, sink, scorer)
    except (SeriesInputError, UnicodeDecodeError, csv.Error) as exc:
        print(f"trailpulse score-series: {exc}", file=sys.stderr)
        return 1
    finally:
        for handle in (source, sink):
            if handle not in (sys.stdin, sys.stdout):
                handle.close()
    print(f"score-series: rows={rows}", file=sys.stderr)
    return 0
