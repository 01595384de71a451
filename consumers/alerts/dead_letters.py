"""Where alerts that could not be delivered go: a file, the dead-letter topic, or the log.

Never nowhere: an alert sink's ``dead_letter_file`` if set (JSON lines, fsynced before the checkpoint
goes on); else the ``[run] dead_letter_topic`` (header ``trailpulse.reason`` =
``alert_undeliverable``, the Insight event as the value); else an error log line carrying the whole
Insight event. Each line or message names the sink, the reason and the last error, so an operator
can post them again by hand.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from consumers.alerts.sink import DeadAlert
from consumers.runtime.logs import JsonLog
from consumers.sinks.base import Sink
from consumers.sinks.dead_letters import DeadLetter
from insights.events import encode_event

DeadAlertWriter = Callable[[list[DeadAlert]], None]


def _doc(alert: DeadAlert) -> dict[str, object]:
    return {
        "sink": alert.sink,
        "reason": alert.reason,
        "detail": alert.detail,
        "insight": alert.insight.record,
    }


def to_file(path: str) -> DeadAlertWriter:
    """Append JSON lines to ``path`` and fsync (``OSError`` fails the checkpoint: retried later)."""

    def write(alerts: Sequence[DeadAlert]) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            for alert in alerts:
                f.write(json.dumps({"ts": time.time(), **_doc(alert)}) + "\n")
            f.flush()
            os.fsync(f.fileno())

    return write


def to_topic(sink: Sink[DeadLetter]) -> DeadAlertWriter:
    """Add them to the dead-letter sink, which the checkpoint flushes after the alert sinks."""

    def write(alerts: Sequence[DeadAlert]) -> None:
        for alert in alerts:
            detail = f"{alert.sink}: {alert.reason}: {alert.detail}"
            sink.add(
                DeadLetter(encode_event(alert.insight.record), "alert_undeliverable", detail, alert.sink)
            )

    return write


def to_log(log: JsonLog) -> DeadAlertWriter:
    """The last resort: one error line per alert, with the whole Insight event."""

    def write(alerts: Sequence[DeadAlert]) -> None:
        for alert in alerts:
            log.error("alert_undeliverable", **_doc(alert))

    return write
