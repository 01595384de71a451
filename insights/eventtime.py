"""CloudTrail ``eventTime`` text → minutes since the Unix epoch, and back.

The engine counts per minute, so every record's timestamp is reduced to an integer minute. This runs
once per record on the hot path, and a poll batch carries few distinct seconds and fewer minutes: a
timestamp seen before costs one dict lookup; a new one reuses the calendar arithmetic cached for its
``YYYY-MM-DDTHH:MM`` prefix and only has its seconds validated, mostly by one set lookup. Both caches
are cleared when full, so junk timestamps cannot grow them without bound.

Timestamps are validated strictly because they come from outside: a record dated 1970 or 9999 would
open a key's history decades away from the watermark, so anything malformed or with a year outside
[2005, 2100] (CloudTrail started in 2013) is refused rather than guessed at.

>>> event_minute("2023-07-10T11:42:36Z")
28149822
>>> minute_to_iso(28149822)
'2023-07-10T11:42:00Z'
>>> event_minute("2023-07-10T11:42:36+02:00") is None  # only UTC is accepted
True
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

MIN_YEAR = 2005
MAX_YEAR = 2100
_CACHE_LIMIT = 200_000  # prefix cache entries (minutes)
_TEXT_CACHE_LIMIT = 50_000  # whole-text cache entries (distinct seconds)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MINUTE = timedelta(minutes=1)

# ASCII classes on purpose: ``\d`` would also match non-ASCII digits such as "٣".
_PREFIX = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})")
_SECONDS = re.compile(r":[0-5][0-9](?:\.[0-9]{1,9})?(?:Z|\+00:00)")
# The form CloudTrail actually writes (":SSZ"): validated by one set lookup.
_PLAIN_SECONDS = frozenset(f":{s:02d}Z" for s in range(60))

_minutes: dict[str, int] = {}  # "YYYY-MM-DDTHH:MM" -> minute
_by_text: dict[str, int] = {}  # whole eventTime -> minute: the hot path is one dict lookup


def _prefix_minute(prefix: str) -> int | None:
    """Minute of a ``YYYY-MM-DDTHH:MM`` prefix, or None if it is not a real UTC time in range."""
    match = _PREFIX.fullmatch(prefix)
    if match is None:
        return None
    year, month, day, hour, minute = (int(g) for g in match.groups())
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        moment = datetime(year, month, day, hour, minute, tzinfo=UTC)
    except ValueError:
        return None
    return (moment - _EPOCH) // _ONE_MINUTE


def event_minute(text: str) -> int | None:
    """Minutes since the epoch of a CloudTrail ``eventTime``, or None if it is not a valid one.

    Accepts ``2023-07-10T11:42:36Z``, fractional seconds (``…36.123Z``) and a ``+00:00`` offset.
    """
    minute = _by_text.get(text)
    if minute is not None:
        return minute
    prefix = text[:16]
    minute = _minutes.get(prefix)
    if minute is None:
        minute = _prefix_minute(prefix)
        if minute is None:
            return None
        if len(_minutes) >= _CACHE_LIMIT:
            _minutes.clear()  # bounded: junk timestamps cannot grow the cache without limit
        _minutes[prefix] = minute
    rest = text[16:]
    if rest in _PLAIN_SECONDS:  # only this form repeats; "…36.123Z" would just churn the cache
        if len(_by_text) >= _TEXT_CACHE_LIMIT:
            _by_text.clear()
        _by_text[text] = minute
        return minute
    return minute if _SECONDS.fullmatch(rest) is not None else None


def minute_to_iso(minute: int) -> str:
    """``YYYY-MM-DDTHH:MM:00Z`` for a minute since the epoch (the inverse of :func:`event_minute`)."""
    moment = _EPOCH + minute * _ONE_MINUTE
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}:00Z"
