"""The ``trailpulse`` command line: one sub-command per module, imported only when chosen."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Sub-command name -> module that provides ``add_parser(subparsers)`` and ``run(args) -> int``.
COMMANDS: dict[str, str] = {
    "replay": "consumers.commands.replay",
    "score-series": "consumers.commands.score_series",
    "generate": "consumers.commands.generate",
    "run": "consumers.commands.run",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen sub-command; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="trailpulse", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, module_name in COMMANDS.items():
        if name == chosen:
            importlib.import_module(module_name).add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=f"see 'trailpulse {name} --help'")
    args = parser.parse_args(argv)
    module = importlib.import_module(COMMANDS[args.command])
    status: int = module.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
