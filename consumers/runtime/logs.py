"""Structured logs: one JSON object per line on stderr, and a per-reason rate limit for per-record errors.

>>> import io
>>> out = io.StringIO()
>>> log = JsonLog(out, clock=lambda: 0.0)
>>> log.info("started", group="g")
>>> out.getvalue().count('"event": "started"')
1
>>> limited = RateLimited(log, per_reason=2, interval_s=60.0, clock=lambda: 0.0)
>>> for _ in range(5):
...     limited.warning("rejected", reason="invalid_json")
>>> out.getvalue().count('"event": "rejected"'), limited.suppressed["invalid_json"]
(2, 3)
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from insights.eventtime import minute_to_iso
from insights.transition import InsightTransition


class JsonLog:
    """Writes ``{"ts", "level", "event", ...fields}`` lines; values that are not JSON become strings."""

    def __init__(self, stream: TextIO | None = None, clock: Callable[[], float] = time.time) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock

    def write(self, level: str, event: str, **fields: Any) -> None:
        ts = datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="milliseconds")
        line = json.dumps({"ts": ts, "level": level, "event": event, **fields}, default=str)
        self.stream.write(line + "\n")
        self.stream.flush()

    def info(self, event: str, **fields: Any) -> None:
        self.write("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self.write("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self.write("error", event, **fields)


class RateLimited:
    """At most ``per_reason`` lines per reason per ``interval_s``; the rest are counted, then reported."""

    def __init__(
        self,
        log: JsonLog,
        per_reason: int = 5,
        interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.per_reason = per_reason
        self.interval_s = interval_s
        self.clock = clock
        self._window_start = clock()
        self._written: Counter[str] = Counter()
        self.suppressed: Counter[str] = Counter()

    def warning(self, event: str, reason: str, **fields: Any) -> None:
        self._write("warning", event, reason, fields)

    def info(self, event: str, reason: str, **fields: Any) -> None:
        self._write("info", event, reason, fields)

    def _write(self, level: str, event: str, reason: str, fields: dict[str, Any]) -> None:
        now = self.clock()
        if now - self._window_start >= self.interval_s:
            if self.suppressed:
                self.log.warning("log_lines_suppressed", event_name=event, counts=dict(self.suppressed))
            self._window_start = now
            self._written.clear()
            self.suppressed.clear()
        if self._written[reason] < self.per_reason:
            self._written[reason] += 1
            self.log.write(level, event, reason=reason, **fields)
        else:
            self.suppressed[reason] += 1


def start_fields(t: InsightTransition) -> dict[str, Any]:
    """What a log line says of a Start: its key, ``eventTime`` and why it started, in words and in
    figures (:class:`~insights.reason.StartReason`)."""
    fields: dict[str, Any] = {
        "insight_type": t.insight_type,
        "account": t.account_id,
        "region": t.region,
        "event_source": t.event_source,
        "event_name": t.event_name,
    }
    if t.error_code:
        fields["error_code"] = t.error_code
    fields["event_time"] = minute_to_iso(t.event_minute)
    if t.reason is not None:
        fields["why"] = t.why
        fields["window_minutes"] = t.reason.window_minutes
        fields["observed"] = t.reason.observed
        fields["expected"] = round(t.reason.expected, 3)
        fields["surprise"] = round(t.reason.surprise, 2)
    return fields
