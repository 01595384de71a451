"""Options of ``trailpulse generate`` and the minute/ISO-8601 conversions the generator uses.

Times are integer minutes since the Unix epoch, as in ``labels.json``.

>>> minute_to_iso(iso_to_minute("2026-01-05T00:00:00Z"))
'2026-01-05T00:00:00Z'
>>> GenerateOptions(days=1.0).minutes
1440
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

DEFAULT_START = "2026-01-05T00:00:00Z"  # a Monday, 00:00 UTC


def iso_to_minute(text: str) -> int:
    """Minutes since the epoch for an ISO-8601 UTC time that falls on a whole minute."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = (moment - _EPOCH).total_seconds()
    if seconds % 60:
        raise ValueError(f"start time must fall on a whole minute: {text!r}")
    return int(seconds // 60)


def minute_to_iso(minute: int) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` for a minute since the epoch."""
    return (_EPOCH + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class GenerateOptions:
    """Everything that determines a generated trace; the same options give byte-identical output.

    ``api_factor`` scales the number of APIs of each tier (small values make quick test traces),
    ``scale`` multiplies the rates of busy and medium APIs (throughput benchmarks), and
    ``anomalies_per_kind`` fixes the number of instances of each anomaly kind (default: 4 to 6).
    """

    seed: int = 0
    days: float = 10.5
    start_minute: int = iso_to_minute(DEFAULT_START)
    anomalies: bool = True
    scale: float = 1.0
    late_fraction: float = 0.01
    duplicate_fraction: float = 0.001
    accounts: int = 3
    regions: int = 2
    api_factor: float = 1.0
    warmup_minutes: int = 2 * 1440
    anomalies_per_kind: int | None = None
    gzip_level: int = 3
    max_records_per_file: int = 500

    @property
    def minutes(self) -> int:
        """Length of the trace in minutes."""
        return round(self.days * 1440)

    def validate(self) -> None:
        """Raise ``ValueError`` for options that cannot produce a trace."""
        if self.minutes < 60:
            raise ValueError("days must cover at least one hour")
        if not 1 <= self.accounts <= 8 or not 1 <= self.regions <= 4:
            raise ValueError("accounts must be 1..8 and regions 1..4")
        if not 0.0 <= self.late_fraction <= 0.5 or not 0.0 <= self.duplicate_fraction <= 0.5:
            raise ValueError("late and duplicate fractions must be within 0..0.5")
        if self.scale <= 0 or self.api_factor <= 0:
            raise ValueError("scale and api_factor must be positive")
        if not 0 <= self.gzip_level <= 9 or self.max_records_per_file < 1:
            raise ValueError("gzip_level must be 0..9 and max_records_per_file positive")
