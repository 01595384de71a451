"""Test helpers: CloudTrail records from a minute number, streams from per-minute counts, and a runner.

Minutes are integers counted from the Unix epoch, as in the engine. :data:`START` is a midnight, so
stream offsets line up with the engine's hours and days.

>>> r = record(START + 61, second=7)
>>> r.eventTime, r.eventName, r.readOnly
('2024-06-03T01:01:07Z', 'RunInstances', False)
>>> by_minute = stream({api("CreateBucket", source="s3.amazonaws.com"): [2, 0, 1]})
>>> [len(by_minute[START + i]) for i in range(3)]
[2, 0, 1]
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from insights.config import EngineConfig
from insights.engine import Engine
from insights.eventtime import event_minute, minute_to_iso
from insights.record import CloudTrailRecord, UserIdentity
from insights.transition import InsightTransition

ACCOUNT = "111122223333"
REGION = "us-east-1"
SOURCE = "ec2.amazonaws.com"
NAME = "RunInstances"
ARN = "arn:aws:iam::111122223333:user/alice"
AGENT = "aws-cli/2.15.30 Python/3.11.8 Linux/6.5 exe/x86_64"
#: Monday 2024-06-03 00:00 UTC.
START = event_minute("2024-06-03T00:00:00Z") or 0
DAY = 1440
HOUR = 60

_ids = itertools.count()

RecordsByMinute = dict[int, list[CloudTrailRecord]]


def event_time(minute: int, second: int = 0) -> str:
    """CloudTrail ``eventTime`` text for ``second`` (0-59) within ``minute``."""
    return f"{minute_to_iso(minute)[:16]}:{second:02d}Z"


def record(
    minute: int,
    *,
    second: int = 0,
    name: str = NAME,
    source: str = SOURCE,
    account: str | None = ACCOUNT,
    region: str = REGION,
    read_only: bool | None = False,
    error_code: str | None = None,
    arn: str | None = ARN,
    user_agent: str | None = AGENT,
    event_id: str | None = None,
    category: str = "Management",
    event_type: str | None = "AwsApiCall",
    identity_account: str | None = None,
) -> CloudTrailRecord:
    """One record; ``account`` is ``recipientAccountId`` and ``identity_account`` the
    ``userIdentity.accountId``. ``event_id`` defaults to a fresh unique id."""
    return CloudTrailRecord(
        eventTime=event_time(minute, second),
        eventSource=source,
        eventName=name,
        awsRegion=region,
        eventID=event_id if event_id is not None else f"evt-{next(_ids):012d}",
        recipientAccountId=account,
        userIdentity=UserIdentity(arn=arn, accountId=identity_account if identity_account else account),
        eventCategory=category,
        managementEvent=category == "Management",
        readOnly=read_only,
        eventType=event_type,
        errorCode=error_code,
        userAgent=user_agent,
    )


@dataclass(frozen=True)
class Api:
    """What every record of one generated series looks like (see :func:`record` for the fields).

    ``arns`` / ``agents``: callers cycled through, so attributions have several values.
    """

    name: str = NAME
    source: str = SOURCE
    account: str | None = ACCOUNT
    region: str = REGION
    read_only: bool | None = False
    error_code: str | None = None
    category: str = "Management"
    event_type: str | None = "AwsApiCall"
    identity_account: str | None = None
    arns: tuple[str, ...] = (ARN,)
    agents: tuple[str, ...] = (AGENT,)


def api(name: str = NAME, **fields: object) -> Api:
    """Shorthand: ``api("DeleteBucket", source="s3.amazonaws.com")``."""
    return replace(Api(name=name), **fields)  # type: ignore[arg-type]


def poisson_counts(rate: float, minutes: int, seed: int) -> npt.NDArray[np.int64]:
    """``minutes`` Poisson(``rate``) per-minute counts, reproducible from ``seed``."""
    return np.random.default_rng(seed).poisson(rate, size=minutes).astype(np.int64)


def steady_with(
    rate: float, minutes: int, seed: int, changes: Mapping[tuple[int, int], float | int] | None = None
) -> npt.NDArray[np.int64]:
    """Poisson counts with ``{(first, stop): value}`` overrides; a float value is a new Poisson
    rate, an int value an exact count per minute."""
    counts = poisson_counts(rate, minutes, seed)
    rng = np.random.default_rng(seed + 1_000_003)
    for (first, stop), value in (changes or {}).items():
        if isinstance(value, int):
            counts[first:stop] = value
        else:
            counts[first:stop] = rng.poisson(value, size=stop - first)
    return counts


def stream(
    series: Mapping[Api, Sequence[int] | npt.NDArray[np.int64]], start: int = START
) -> RecordsByMinute:
    """Records for each API from its per-minute counts (index 0 is ``start``), grouped by minute.

    Seconds are spread over the minute; eventIDs are unique and derived from the position, so the
    same call builds the same stream.
    """
    length = max((len(c) for c in series.values()), default=0)
    out: RecordsByMinute = {start + i: [] for i in range(length)}
    for a_index, (a, counts) in enumerate(series.items()):
        made = 0
        for offset, n in enumerate(np.asarray(counts, dtype=np.int64).tolist()):
            minute = start + offset
            bucket = out[minute]
            for i in range(n):
                bucket.append(
                    CloudTrailRecord(
                        eventTime=event_time(minute, (i * 60) // n),
                        eventSource=a.source,
                        eventName=a.name,
                        awsRegion=a.region,
                        eventID=f"s{a_index}-{offset}-{i}-{a.name}",
                        recipientAccountId=a.account,
                        userIdentity=UserIdentity(
                            arn=a.arns[made % len(a.arns)], accountId=a.identity_account or a.account
                        ),
                        eventCategory=a.category,
                        managementEvent=a.category == "Management",
                        readOnly=a.read_only,
                        eventType=a.event_type,
                        errorCode=a.error_code,
                        userAgent=a.agents[made % len(a.agents)],
                    )
                )
                made += 1
    return out


def merge(*parts: RecordsByMinute) -> RecordsByMinute:
    """Several streams as one (records of a minute concatenated in argument order)."""
    out: RecordsByMinute = {}
    for part in parts:
        for minute, records in part.items():
            out.setdefault(minute, []).extend(records)
    return out


def feed(
    engine: Engine, records_by_minute: Mapping[int, Iterable[CloudTrailRecord]]
) -> list[InsightTransition]:
    """One :meth:`Engine.process` call per minute, in minute order (no finish)."""
    out: list[InsightTransition] = []
    for minute in sorted(records_by_minute):
        out.extend(engine.process(list(records_by_minute[minute])))
    return out


def run_engine(
    records_by_minute: Mapping[int, Iterable[CloudTrailRecord]],
    config: EngineConfig | None = None,
    engine: Engine | None = None,
) -> list[InsightTransition]:
    """Feed minute batches to a new (or the given) engine, then :meth:`Engine.finish`."""
    engine = engine if engine is not None else Engine(config)
    out = feed(engine, records_by_minute)
    out.extend(engine.finish())
    return out


def starts(transitions: Iterable[InsightTransition]) -> list[InsightTransition]:
    return [t for t in transitions if t.state == "Start"]


def ends(transitions: Iterable[InsightTransition]) -> list[InsightTransition]:
    return [t for t in transitions if t.state == "End"]


def key_of(t: InsightTransition) -> tuple[str, str, str, str, str, str | None]:
    """What identifies an insight's key (Start and End of one insight share it)."""
    return (t.insight_type, t.account_id, t.region, t.event_source, t.event_name, t.error_code)
