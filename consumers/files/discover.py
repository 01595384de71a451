"""Finding and reading CloudTrail log files for ``replay``: paths, directories, stdin.

Files are replayed in event-time order, not path order: the S3 layout sorts by account and region
first, so a path-ordered replay would read one account's whole month before the next account's
first day and every record of the second account would arrive "late". CloudTrail names each file
after the time it covers (``..._20230710T1145Z_...``); files are ordered by that, then by path.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from insights.decode import Envelope

SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
FILE_TIME = re.compile(r"_(\d{8}T\d{4})Z_")


class InputError(Exception):
    """An input path that cannot be read at all (the replay stops with a one-line error)."""


@dataclass(frozen=True, order=True)
class LogFile:
    """One input file; sorts by the time in its CloudTrail name, then by path."""

    time_key: str
    path: str

    @property
    def envelope(self) -> Envelope:
        name = self.path.removesuffix(".gz")
        return Envelope.JSONL if name.endswith((".jsonl", ".ndjson")) else Envelope.AUTO


def _log_file(path: str) -> LogFile:
    match = FILE_TIME.search(os.path.basename(path))
    return LogFile(match.group(1) if match else "", path)


def discover(paths: list[str]) -> list[LogFile]:
    """Expand files and directories (recursively) into log files in replay order."""
    found: list[LogFile] = []
    for raw in paths:
        if raw == "-":
            continue
        path = Path(raw)
        if path.is_dir():
            for root, _dirs, names in os.walk(path):
                found += [_log_file(os.path.join(root, n)) for n in names if n.endswith(SUFFIXES)]
        elif path.is_file():
            found.append(_log_file(str(path)))
        else:
            raise InputError(f"cannot read {raw}: no such file or directory")
    return sorted(found)


def read_bytes(path: str) -> bytes:
    """The file's raw bytes (gzip is detected and opened by the decoder, by magic bytes)."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc


def read_stdin() -> bytes:
    """All of standard input: one document, JSON lines, or gzip of either."""
    return sys.stdin.buffer.read()
