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
DELIVERIES = ("period", "realistic")
ANOMALY_SUITES = ("classic", "tiered")
# per delivery model: share of records put in a later file, and how many minutes later at most
_LATE_DEFAULTS = {"period": (0.01, 20), "realistic": (0.02, 30)}


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

    ``anomaly_suite`` is ``"classic"`` (the default: six kinds, each far beyond normal) or ``"tiered"``
    (issue 10: nine kinds placed at a chosen window z, clear or edge, plus quiet decoys in the normal
    traffic; there ``anomalies_per_kind`` counts per tier, default 3).

    ``delivery`` is ``"realistic"`` (the default: each file named by its delivery time, 0-10 minutes
    after the period it covers with a tail to 30, as CloudTrail does) or ``"period"`` (named by the
    end of that 5-minute period, so names follow event time: an in-order control). ``late_fraction`` and
    ``max_late_minutes`` default per delivery model (see ``late_share`` and ``max_late``).
    """

    seed: int = 0
    days: float = 10.5
    start_minute: int = iso_to_minute(DEFAULT_START)
    anomalies: bool = True
    scale: float = 1.0
    delivery: str = "realistic"
    late_fraction: float | None = None
    max_late_minutes: int | None = None
    duplicate_fraction: float = 0.001
    accounts: int = 3
    regions: int = 2
    api_factor: float = 1.0
    warmup_minutes: int = 2 * 1440
    anomalies_per_kind: int | None = None
    anomaly_suite: str = "classic"
    gzip_level: int = 3
    max_records_per_file: int = 500

    @property
    def minutes(self) -> int:
        """Length of the trace in minutes."""
        return round(self.days * 1440)

    @property
    def late_share(self) -> float:
        """Share of records put in a later file: 0.01 with period delivery, 0.02 with realistic."""
        return self.late_fraction if self.late_fraction is not None else _LATE_DEFAULTS[self.delivery][0]

    @property
    def max_late(self) -> int:
        """How many minutes after its own period a late record's file period may be: 20 or 30."""
        chosen = self.max_late_minutes
        return chosen if chosen is not None else _LATE_DEFAULTS[self.delivery][1]

    def validate(self) -> None:
        """Raise ``ValueError`` for options that cannot produce a trace."""
        if self.minutes < 60:
            raise ValueError("days must cover at least one hour")
        if not 1 <= self.accounts <= 8 or not 1 <= self.regions <= 4:
            raise ValueError("accounts must be 1..8 and regions 1..4")
        if self.anomaly_suite not in ANOMALY_SUITES:
            raise ValueError(f"anomaly_suite must be one of {', '.join(ANOMALY_SUITES)}")
        if self.delivery not in DELIVERIES:
            raise ValueError(f"delivery must be one of {', '.join(DELIVERIES)}")
        if not 0.0 <= self.late_share <= 0.5 or not 0.0 <= self.duplicate_fraction <= 0.5:
            raise ValueError("late and duplicate fractions must be within 0..0.5")
        if not 5 <= self.max_late <= 120:
            raise ValueError("max_late_minutes must be 5..120")
        if self.scale <= 0 or self.api_factor <= 0:
            raise ValueError("scale and api_factor must be positive")
        if not 0 <= self.gzip_level <= 9 or self.max_records_per_file < 1:
            raise ValueError("gzip_level must be 0..9 and max_records_per_file positive")
