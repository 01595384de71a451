"""What the traces carry: each anomaly's *realised* z, and the recall no detector could beat.

A label's z is what the anomaly was drawn to be under the generator's true model (its expected
extra count over the window, in standard deviations of the window's count without it); the counts
in the trace are one draw. A clear anomaly (z 8) can realise weaker, and an edge one (z 4-6) often
does. The realised z is the same ratio with the extra count the trace holds: the window's realised
count less the count expected without the anomaly, over the same standard deviation.

The ceiling asks, of each anomaly, whether a detector that knew the true reference, the model's
variance and the anomaly's exact window would find it at the engine's threshold: a realised z of at
least ``sqrt(2 * evidence_surprise * ln 10)``, the z whose log-likelihood ratio (``z**2 / 2`` nats,
for a shift known in advance) reaches what the windowed evidence needs. No detector knows those
three things, so the ceiling is optimistic: a recall below it is the detector's (its estimated
references, its search over windows), a recall goal above it cannot be met at that threshold,
whose false-alarm rate the issue fixes.

>>> realised_z(observed=30, expected=10.0, sd=4.0, up=True)
5.0
>>> realised_z(observed=8, expected=10.0, sd=4.0, up=True)
-0.5
>>> round(reach_z(6.0), 2)
5.26
"""

from __future__ import annotations

import gzip
import math
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec

ApiKey = tuple[str, str, str, str]


class _Record(msgspec.Struct):
    eventTime: str = ""
    eventSource: str = ""
    eventName: str = ""
    recipientAccountId: str = ""
    awsRegion: str = ""
    errorCode: str | None = None


class _LogFile(msgspec.Struct):
    Records: list[_Record] = []


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a Gregorian date (Howard Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _minute(iso: str) -> int:
    """Epoch minute of a CloudTrail ``eventTime`` (``2026-01-05T10:31:07Z``)."""
    days = _days_from_civil(int(iso[0:4]), int(iso[5:7]), int(iso[8:10]))
    return days * 1440 + int(iso[11:13]) * 60 + int(iso[14:16])


def _api(item: dict[str, Any]) -> ApiKey:
    return (item["account"], item["region"], item["eventSource"], item["eventName"])


def realised_counts(trace: Path, anomalies: list[dict[str, Any]]) -> list[int]:
    """How many records of each anomaly's count (its API's calls, or that error code's failures)
    the trace holds in the anomaly's window, by event time, duplicates included (the engine skips
    them; the generator's redeliveries are few); only the log files of the anomalies' accounts and
    regions are read."""
    wanted = {_api(a) for a in anomalies}
    per_minute: dict[ApiKey, Counter[tuple[int, str | None]]] = {key: Counter() for key in wanted}
    decoder = msgspec.json.Decoder(_LogFile)
    for account, region in {(a["account"], a["region"]) for a in anomalies}:
        for path in sorted((trace / "AWSLogs" / account / "CloudTrail" / region).rglob("*.json.gz")):
            for r in decoder.decode(gzip.decompress(path.read_bytes())).Records:
                key = (r.recipientAccountId, r.awsRegion, r.eventSource, r.eventName)
                if key in wanted:
                    per_minute[key][(_minute(r.eventTime), r.errorCode)] += 1
    counts = []
    for a in anomalies:
        code = a["errorCode"] if a["insightType"] == "ApiErrorRateInsight" else None
        counts.append(
            sum(
                n
                for (minute, error), n in per_minute[_api(a)].items()
                if a["start_minute"] <= minute < a["end_minute"] and (code is None or error == code)
            )
        )
    return counts


def realised_z(observed: int, expected: float, sd: float, up: bool) -> float:
    """The extra count ``observed`` holds over ``expected`` (fewer, for a drop), in ``sd``."""
    return (observed - expected if up else expected - observed) / sd


def reach_z(evidence_surprise: float) -> float:
    """The realised z whose log-likelihood ratio, for a shift known in advance, is the windowed
    evidence's threshold."""
    return math.sqrt(2.0 * evidence_surprise * math.log(10.0))


def anomaly_realised_z(a: dict[str, Any], observed: int) -> float:
    """:func:`realised_z` of anomaly ``a`` (a label) with ``observed`` realised counts, in the
    standard deviation its z was computed with (``|extra| / z``)."""
    minutes = a["end_minute"] - a["start_minute"]
    expected = a["baseline_rate"] * minutes
    extra = abs(a["rate"] - a["baseline_rate"]) * minutes
    sd = extra / a["z"] if a.get("z") else math.sqrt(max(expected, 1.0))
    return realised_z(observed, expected, sd, a["direction"] == "up")
