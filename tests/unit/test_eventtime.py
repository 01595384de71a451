"""Event-time parsing: the formats CloudTrail writes, bounds, the cache, agreement with datetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insights import eventtime
from insights.eventtime import event_minute, minute_to_iso
from tests.decode_samples import (
    fuzz,
)


def test_event_minute_formats() -> None:
    minute = event_minute("2023-07-10T11:42:36Z")
    assert minute == int(datetime(2023, 7, 10, 11, 42, 36, tzinfo=UTC).timestamp() // 60)
    for text in ["2023-07-10T11:42:00Z", "2023-07-10T11:42:59.999Z", "2023-07-10T11:42:36.1Z",
                 "2023-07-10T11:42:36+00:00", "2023-07-10T11:42:36.123456+00:00"]:  # fmt: skip
        assert event_minute(text) == minute, text
    assert minute is not None and minute_to_iso(minute) == "2023-07-10T11:42:00Z"


@pytest.mark.parametrize(
    "text",
    ["", "2023", "2023-07-10", "2023-07-10T11:42", "2023-07-10T11:42:36", "2023-07-10 11:42:36Z",
     "2023-07-10T11:42:60Z", "2023-07-10T24:00:00Z", "2023-13-01T00:00:00Z", "2023-02-29T00:00:00Z",
     "2023-07-10T11:42:36+02:00", "2023-07-10T11:42:36Zjunk", "2023-07-10T11:42:36.Z", "x" * 40,
     "\uff12\uff10\uff12\uff13-07-10T11:42:36Z", "2023-07-10T11:42:3\uff16Z", "2023-07-10t11:42:36z",
     "-023-07-10T11:42:36Z", "2023-07-10T11:42:36.1234567890Z", "2023-07-10T11:42:36 Z"],
)  # fmt: skip
def test_event_minute_rejects(text: str) -> None:
    assert event_minute(text) is None
    assert event_minute(text) is None  # and still after caching anything


def test_event_minute_year_bounds() -> None:
    assert event_minute("2004-12-31T23:59:59Z") is None
    assert event_minute("2005-01-01T00:00:00Z") is not None
    assert event_minute("2100-12-31T23:59:59Z") is not None
    assert event_minute("2101-01-01T00:00:00Z") is None
    assert event_minute("2024-02-29T12:00:00Z") is not None


def test_event_minute_cache_consistency_and_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eventtime, "_CACHE_LIMIT", 100)
    monkeypatch.setattr(eventtime, "_TEXT_CACHE_LIMIT", 100)
    start = datetime(2023, 1, 1, tzinfo=UTC)
    texts = [(start + timedelta(seconds=37 * i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(1000)]
    first = [event_minute(t) for t in texts]
    assert len(eventtime._minutes) <= 100 and len(eventtime._by_text) <= 100
    eventtime._minutes.clear()
    eventtime._by_text.clear()
    assert [event_minute(t) for t in reversed(texts)] == first[::-1]
    assert first == [int((start + timedelta(seconds=37 * i)).timestamp() // 60) for i in range(1000)]
    assert event_minute(texts[0][:16] + ":61Z") is None  # a cached prefix does not vouch for the rest


@fuzz(300)
@given(
    moment=st.datetimes(datetime(2005, 1, 1), datetime(2100, 12, 31, 23, 59, 59, 999999)),
    style=st.sampled_from(["Z", ".%fZ", "+00:00", ".%f+00:00"]),
)
def test_event_minute_agrees_with_datetime(moment: datetime, style: str) -> None:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S" + style)
    expected = (moment.replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(minutes=1)
    assert event_minute(text) == expected
    assert minute_to_iso(expected) == moment.strftime("%Y-%m-%dT%H:%M:00Z")


TIMESTAMPISH = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|\+00:00|)"


@fuzz(300)
@given(text=st.from_regex(TIMESTAMPISH, fullmatch=True) | st.text(max_size=30))
def test_event_minute_accepts_only_what_datetime_accepts(text: str) -> None:
    minute = event_minute(text)
    if minute is None:
        return
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert parsed.utcoffset() == timedelta(0)
    assert minute == int(parsed.timestamp() // 60)


# --- where a reject was, and large bodies in parts -------------------------------------------------
