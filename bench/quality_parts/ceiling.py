"""What the traces carry: each anomaly's *realised* evidence, and the recall no detector could beat.

A label's z is what the anomaly was drawn to be under the generator's true model (its expected
extra count over the window, in standard deviations of the window's count without it); the counts
in the trace are one draw. A clear anomaly (z 8) can realise weaker, and an edge one (z 4-6) often
does.

The ceiling asks, of each anomaly, whether a detector that knew the true reference (the label's
``baseline_rate``), the model's variance and the anomaly's exact window could find it at the
engine's threshold ``h = evidence_surprise * ln 10``, by either of two readings of the window's
realised count, whichever is the more generous:

* the quasi-Poisson log-likelihood ratio of the count against the count expected without the
  anomaly (the rate fitted to the window, over the dispersion ``variance / expected``): the exact
  reading for rare counts, where a code failing once a week that fails twice in five minutes is a
  one-in-ten-million event whatever its z;
* the realised z (the extra count the trace holds, in the label's standard deviation), whose
  log-likelihood ratio for a shift known in advance is ``z**2 / 2``: at least ``sqrt(2 h)``.

No detector knows those three things, so the ceiling is optimistic: a recall below it is the
detector's (its estimated references, its search over windows, its least counts), a recall goal
above it cannot be met at that threshold, whose false-alarm rate the issue fixes.

>>> realised_z(observed=30, expected=10.0, sd=4.0, up=True)
5.0
>>> realised_z(observed=8, expected=10.0, sd=4.0, up=True)
-0.5
>>> round(window_evidence(observed=30, expected=10.0, variance=10.0, up=True), 2)
12.96
>>> round(window_evidence(observed=2, expected=0.0005, variance=1.0, up=True), 1)
14.6
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

from insights.eventtime import event_minute

ApiKey = tuple[str, str, str, str]
#: A label variance at most this is the window z's floor of one count (a count almost surely zero),
#: give or take the rounding of the label's z and rates: the count is then read as Poisson.
FLOORED = 1.05


class _Record(msgspec.Struct):
    eventTime: str = ""
    eventSource: str = ""
    eventName: str = ""
    recipientAccountId: str = ""
    awsRegion: str = ""
    errorCode: str | None = None


class _LogFile(msgspec.Struct):
    Records: list[_Record] = []


def _api(item: dict[str, Any]) -> ApiKey:
    return (item["account"], item["region"], item["eventSource"], item["eventName"])


def realised_counts(trace: Path, anomalies: list[dict[str, Any]]) -> list[int]:
    """How many records of each anomaly's count (its API's calls, or that error code's failures)
    the trace holds in the anomaly's window (see :func:`realised_minutes`)."""
    return [sum(minutes) for minutes in realised_minutes(trace, anomalies)]


def realised_minutes(trace: Path, anomalies: list[dict[str, Any]]) -> list[list[int]]:
    """Minute by minute of each anomaly's window, how many records of its count (its API's calls,
    or that error code's failures) the trace holds, by event time, duplicates included (the engine
    skips them; the generator's redeliveries are few); only the log files of the anomalies'
    accounts and regions are read."""
    wanted = {_api(a) for a in anomalies}
    per_minute: dict[ApiKey, Counter[tuple[int, str | None]]] = {key: Counter() for key in wanted}
    decoder = msgspec.json.Decoder(_LogFile)
    for account, region in {(a["account"], a["region"]) for a in anomalies}:
        for path in sorted((trace / "AWSLogs" / account / "CloudTrail" / region).rglob("*.json.gz")):
            for r in decoder.decode(gzip.decompress(path.read_bytes())).Records:
                key = (r.recipientAccountId, r.awsRegion, r.eventSource, r.eventName)
                if key in wanted and (minute := event_minute(r.eventTime)) is not None:
                    per_minute[key][(minute, r.errorCode)] += 1
    series = []
    for a in anomalies:
        code = a["errorCode"] if a["insightType"] == "ApiErrorRateInsight" else None
        minutes = [0] * (a["end_minute"] - a["start_minute"])
        for (minute, error), n in per_minute[_api(a)].items():
            if a["start_minute"] <= minute < a["end_minute"] and (code is None or error == code):
                minutes[minute - a["start_minute"]] += n
        series.append(minutes)
    return series


def realised_z(observed: int, expected: float, sd: float, up: bool) -> float:
    """The extra count ``observed`` holds over ``expected`` (fewer, for a drop), in ``sd``."""
    return (observed - expected if up else expected - observed) / sd


def reach_z(evidence_surprise: float) -> float:
    """The realised z whose log-likelihood ratio, for a shift known in advance, is the windowed
    evidence's threshold."""
    return math.sqrt(2.0 * evidence_surprise * math.log(10.0))


def window_evidence(observed: int, expected: float, variance: float, up: bool) -> float:
    """The quasi-Poisson log-likelihood ratio (nats) of a window's ``observed`` count against its
    ``expected`` one (variance ``variance``), the rate fitted to the window, for a change in the
    direction ``up``; 0 against it."""
    mean = max(expected, 1e-9)
    if (observed > mean) != up or observed == mean:
        return 0.0
    llr = (observed * math.log(observed / mean) if observed > 0 else 0.0) - (observed - mean)
    dispersion = variance / mean if variance > FLOORED else 1.0
    return llr / max(dispersion, 1.0)


def _window(a: dict[str, Any]) -> tuple[float, float]:
    """Anomaly ``a``'s expected count without it and that count's standard deviation (the one its
    z was computed with: ``|extra| / z``)."""
    minutes = a["end_minute"] - a["start_minute"]
    expected = float(a["baseline_rate"]) * minutes
    extra = abs(a["rate"] - a["baseline_rate"]) * minutes
    sd = extra / a["z"] if a.get("z") else math.sqrt(max(expected, 1.0))
    return expected, sd


def anomaly_realised_z(a: dict[str, Any], observed: int) -> float:
    """:func:`realised_z` of anomaly ``a`` (a label) with ``observed`` realised counts."""
    expected, sd = _window(a)
    return realised_z(observed, expected, sd, a["direction"] == "up")


def within_reach(
    a: dict[str, Any], observed: int, evidence_surprise: float, minutes: int | None = None
) -> bool:
    """Whether anomaly ``a`` with ``observed`` realised counts is within the ceiling at the
    threshold ``evidence_surprise`` (either reading of the module docstring); with ``minutes``,
    over the window's first ``minutes`` only (its expected count and variance in proportion)."""
    expected, sd = _window(a)
    if minutes is not None:
        share = minutes / (a["end_minute"] - a["start_minute"])
        expected, sd = expected * share, sd * math.sqrt(share)
    up = a["direction"] == "up"
    h = evidence_surprise * math.log(10.0)
    by_z = realised_z(observed, expected, sd, up) >= reach_z(evidence_surprise)
    return by_z or window_evidence(observed, expected, sd * sd, up) >= h


def earliest_reach(a: dict[str, Any], per_minute: list[int], evidence_surprise: float) -> int | None:
    """The floor of anomaly ``a``'s detection delay: the fewest minutes after its first minute at
    whose close the realised counts of the window so far (``per_minute``) are within reach of the
    threshold (:func:`within_reach` of the first ``k`` minutes, at ``k - 1``); None if never.

    The bench's delay is the minute whose close decided the Start minus the anomaly's first minute,
    so a Start decided at the close of its first minute has a delay of 0, as does this floor when
    one minute suffices. A detector knowing the reference and the moment the anomaly began could
    do no better; one that must also find the moment pays for searching, as the CUSUM does.

    >>> step = {"start_minute": 0, "end_minute": 4, "direction": "up", "rate": 3.0,
    ...         "baseline_rate": 1.0, "z": 4.0}
    >>> [earliest_reach(step, minutes, 6.0) for minutes in ([9, 9, 9, 9], [2, 5, 5, 5], [3, 3, 3, 3])]
    [0, 3, None]
    """
    total = 0
    for k, count in enumerate(per_minute, start=1):
        total += count
        if within_reach(a, total, evidence_surprise, minutes=k):
            return k - 1
    return None
