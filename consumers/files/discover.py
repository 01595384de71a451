"""Finding CloudTrail log files for ``replay`` in the paths a user gives: files, directories, stdin.

The usual input is an ``aws s3 sync`` of a trail's bucket, which holds more than log files: digest
files (``CloudTrail-Digest/``, hashes that prove the logs unchanged), Insight files
(``CloudTrail-Insight/``, AWS's own Insight events, which must not be analysed as API calls), AWS
Config's files when the bucket is shared with it (``Config/``, as in a Control Tower log archive),
and whatever else lands in a directory (``.DS_Store``, notes). Those are counted as skipped, by kind.
A path that cannot be read (a dangling link, a directory that cannot be listed, a FIFO) is reported
by name and skipped, so one bad file does not cost the rest of a sync. Symbolic links are followed,
each directory and file is read once however often it is reached, and a link loop ends there.

Files are replayed in delivery order, not path order: the S3 layout sorts by account and region
first, so a path-ordered replay would read one account's whole month before the next account's
first day. The time in a CloudTrail file name (``..._20230710T1145Z_...``) is when the file was
*delivered* ("A log file delivered at a specific time can contain records written at any point
before that time", AWS), not the period it covers; ordering by it, then by path, replays the bucket
as a consumer watching it would have read it. Delivery order is not event order (an account-region's
files arrive 0-30 minutes after their period, some records in a later file), which the engine allows
for by keeping event time per account-region (:mod:`insights.clock`).
"""

from __future__ import annotations

import os
import re
import stat
from collections import Counter
from dataclasses import dataclass, field

from insights.decode import Envelope

SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
FILE_TIME = re.compile(r"_(\d{8}T\d{4})Z_")
# Folders (and file-name parts) of the S3 layout that hold something other than API call records.
NOT_LOGS = (
    ("CloudTrail-Digest", "digest_files"),
    ("CloudTrail-Insight", "insight_files"),
    ("Config", "config_files"),
)


class InputError(Exception):
    """A path that cannot be read; with ``--strict`` the replay stops on it."""


@dataclass(frozen=True, order=True)
class LogFile:
    """One input file; sorts by the time in its CloudTrail name, then by path."""

    time_key: str
    path: str

    @property
    def envelope(self) -> Envelope:
        name = self.path.removesuffix(".gz")
        return Envelope.JSONL if name.endswith((".jsonl", ".ndjson")) else Envelope.AUTO


@dataclass
class Inputs:
    """What the paths hold: log files in replay order, paths that could not be read, files skipped."""

    files: list[LogFile] = field(default_factory=list)
    unreadable: list[InputError] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


def _log_file(path: str) -> LogFile:
    match = FILE_TIME.search(os.path.basename(path))
    return LogFile(match.group(1) if match else "", path)


def _not_logs(path: str) -> str | None:
    """The skip reason of a digest or Insight file (by its folder or its name), else None."""
    parts = path.split(os.sep)
    for marker, reason in NOT_LOGS:
        if marker in parts or f"_{marker}_" in parts[-1]:
            return reason
    return None


def _error(path: str, exc: OSError) -> InputError:
    return InputError(f"cannot read {path}: {exc.strerror or exc}")


class _Walk:
    """One discovery: the identities (device, inode) already reached, so each is read once."""

    def __init__(self) -> None:
        self.found = Inputs()
        self.seen: set[tuple[int, int]] = set()
        self.directories: list[str] = []

    def first_visit(self, info: os.stat_result) -> bool:
        key = (info.st_dev, info.st_ino)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def path(self, path: str, named: bool) -> None:
        """A path named by the user (any file name is read) or met in a directory (log suffixes)."""
        try:
            info = os.stat(path)  # through links: a link is read as what it points to
        except OSError as exc:
            self.found.unreadable.append(_error(path, exc))
            return
        if stat.S_ISDIR(info.st_mode):
            if self.first_visit(info):  # a link back up the tree (a loop) ends here
                self.directories.append(path)
            return
        reason = _not_logs(path)
        if reason is not None:
            self.found.skipped[reason] += 1
        elif not named and not path.endswith(SUFFIXES):
            self.found.skipped["other_files"] += 1
        elif not stat.S_ISREG(info.st_mode):
            self.found.unreadable.append(InputError(f"cannot read {path}: not a regular file"))
        elif self.first_visit(info):
            self.found.files.append(_log_file(path))

    def walk(self) -> None:
        """Every directory queued so far, and those found in them."""
        while self.directories:
            top = self.directories.pop()
            try:
                with os.scandir(top) as entries:
                    paths = [entry.path for entry in entries]
            except OSError as exc:
                self.found.unreadable.append(_error(top, exc))
                continue
            for path in sorted(paths):
                self.path(path, named=False)


def discover(paths: list[str]) -> Inputs:
    """Expand files and directories (recursively, following links) into log files in replay order."""
    walk = _Walk()
    for raw in paths:
        if raw != "-":
            walk.path(raw, named=True)
            walk.walk()
    walk.found.files.sort()
    return walk.found
