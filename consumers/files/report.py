"""Telling a replay's user what it could not use: unreadable paths, and rejects with their file.

A reject that does not say where it came from cannot be fixed or even looked at, and a sync of
months of logs may hold thousands of the same reject. So every reject is named (file, and record
index or line) but stderr gets only the first few per reason, then a count; ``--rejects FILE`` gets
every one as a JSON line. Unreadable paths are few and each matters: every one is named.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TextIO

from consumers.files.discover import InputError
from consumers.runtime.decode_pool import Reject

SHOWN_PER_REASON = 5
PREFIX = "trailpulse replay: "


def where(path: str, reject: Reject) -> str:
    """``path``, with the record index or line of ``reject`` in it when it has one."""
    parts = [path]
    if reject.line is not None:
        parts.append(f"line {reject.line}")
    if reject.record is not None:
        parts.append(f"record {reject.record}")
    return ", ".join(parts)


class InputReport:
    """Reports what a replay skips; with ``strict``, an unreadable path raises instead.

    ``err`` None keeps the counts only (as the benchmarks want); ``rejects_out`` gets one JSON line
    per reject: ``{"file", "record", "line", "reason", "detail"}``.
    """

    def __init__(
        self, err: TextIO | None = None, strict: bool = False, rejects_out: TextIO | None = None
    ) -> None:
        self.err = err
        self.strict = strict
        self.rejects_out = rejects_out
        self.unreadable = 0
        self.rejected: Counter[str] = Counter()

    def cannot_read(self, error: InputError) -> None:
        if self.strict:
            raise error
        self.unreadable += 1
        if self.err is not None:
            print(f"{PREFIX}{error} (skipped)", file=self.err)

    def reject(self, path: str, reject: Reject) -> None:
        self.rejected[reject.reason] += 1
        if self.err is not None and self.rejected[reject.reason] <= SHOWN_PER_REASON:
            print(f"{PREFIX}rejected {where(path, reject)}: {reject.reason}: {reject.detail}", file=self.err)
        if self.rejects_out is not None:
            line = {
                "file": path,
                "record": reject.record,
                "line": reject.line,
                "reason": reject.reason,
                "detail": reject.detail,
            }
            self.rejects_out.write(json.dumps(line) + "\n")

    def close(self) -> None:
        """Say how many rejects of each reason were not shown."""
        if self.err is None:
            return
        for reason, count in sorted(self.rejected.items()):
            if count > SHOWN_PER_REASON:
                more = count - SHOWN_PER_REASON
                hint = "" if self.rejects_out is not None else " (--rejects FILE lists them all)"
                print(f"{PREFIX}{more} more {reason} rejects not shown{hint}", file=self.err)
