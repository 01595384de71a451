"""The ``trailpulse`` command line: one sub-command per module, imported only when chosen.

Each module in ``COMMANDS`` provides ``add_parser(subparsers)`` and ``run(args) -> int``. Only the
chosen command's module is imported (the others would pull in numpy, Kafka clients and the engine for
nothing), so the top-level help lists the commands with the summaries kept here.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

DESCRIPTION = """\
Streaming CloudTrail Insights: learns per-API baselines of call and error rates and writes Insight
events in the AWS schema when an API's rate leaves its baseline."""

# Sub-command name -> (module, the one-line summary that `trailpulse --help` shows).
COMMANDS: dict[str, tuple[str, str]] = {
    "replay": ("consumers.commands.replay", "detect Insights in CloudTrail log files (an S3 sync, or stdin)"),
    "run": (
        "consumers.commands.run",
        "detect Insights continuously: CloudTrail from Kafka, Insights to Kafka",
    ),
    "generate": ("consumers.commands.generate", "write synthetic CloudTrail traffic with labelled anomalies"),
    "score-series": ("consumers.commands.score_series", "score one timestamp,value CSV series for anomalies"),
    "plot": ("consumers.commands.plot", "draw one API's calls per minute, baseline and insights as a PNG"),
}

# The exit status of a process killed by SIGPIPE, as a shell reports it (128 + signal number).
CLOSED_PIPE_STATUS = 128 + signal.SIGPIPE


def installed_version() -> str:
    """The installed distribution's version (from its metadata: pyproject.toml is the one source)."""
    try:
        return version("trailpulse")
    except PackageNotFoundError:
        return "(not installed: run scripts/setup-venv.sh)"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen sub-command; returns the process exit status.

    A reader that stops early (``trailpulse replay ... | head``) closes the pipe under our stdout:
    that ends the command quietly with the status of a process killed by SIGPIPE, not a traceback.
    Stdout then points at /dev/null so the interpreter's last flush at exit cannot fail again
    (the recipe of the Python docs, "Note on SIGPIPE").
    """
    try:
        status = _dispatch(list(sys.argv[1:] if argv is None else argv))
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return CLOSED_PIPE_STATUS
    return status


def _dispatch(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="trailpulse", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, summary) in COMMANDS.items():
        if name == chosen:
            importlib.import_module(module_name).add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=summary)
    args = parser.parse_args(argv)
    module = importlib.import_module(COMMANDS[args.command][0])
    status: int = module.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
