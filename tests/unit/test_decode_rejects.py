"""The decoder's rejects: every reason, bad records beside good ones, bounded details."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable

import pytest

from insights import envelope as envelope_module
from insights.decode import DecodeLimits, Decoder, RejectReason
from tests.decode_samples import (
    SMALL,
    SOME,
    check_accounting,
    cloudwatch,
    direct,
    eventbridge,
    record,
    s3_body,
)

DEEP = b"[" * 5000 + b"]" * 5000
TARGETED: list[tuple[RejectReason, bytes]] = [
    (RejectReason.INVALID_UTF8, b"\xff\xfe{}"),
    (RejectReason.INVALID_UTF8, record(eventName="Get").replace(b'"Get"', b'"G\xffet"')),
    (RejectReason.INVALID_UTF8, record(requestParameters="x").replace(b'"x"', b'"\xc3\x28"')),
    (RejectReason.INVALID_JSON, b"{not json"),
    (RejectReason.INVALID_JSON, SOME[0][:-40]),
    (RejectReason.INVALID_JSON, b'{"a": 1} {"b": 2}'),
    (RejectReason.WRONG_TYPE, record(eventTime=5)),
    (RejectReason.WRONG_TYPE, record(readOnly="yes")),
    (RejectReason.WRONG_TYPE, record(userIdentity="root")),
    (RejectReason.WRONG_TYPE, record(managementEvent=10**400)),
    (RejectReason.MISSING_FIELD, record(eventName=...)),
    (RejectReason.MISSING_FIELD, record(recipientAccountId=..., userIdentity={"type": "Root"})),
    (RejectReason.TOO_LARGE, record(requestParameters="x" * 9000)),
    (RejectReason.TOO_LARGE, b" " * (1 << 20) + SOME[0]),
    (RejectReason.TOO_LARGE, gzip.compress(b" " * (4 << 20))),
    (RejectReason.TOO_DEEP, record(requestParameters=0).replace(b'"requestParameters": 0', b'"r": ' + DEEP)),
    (RejectReason.TOO_DEEP, s3_body([SOME[0], b'{"x": ' + DEEP + b"}"])),
    (RejectReason.BAD_EVENT_TIME, record(eventTime="yesterday")),
    (RejectReason.BAD_EVENT_TIME, record(eventTime="1999-07-10T11:42:36Z")),
    (RejectReason.BAD_EVENT_TIME, record(eventTime="2023-02-30T11:42:36Z")),
    (RejectReason.BAD_NAME, record(eventSource="EC2.amazonaws.com")),
    (RejectReason.BAD_NAME, record(eventName="Run Instances")),
    (RejectReason.BAD_NAME, record(eventName="x" * 200)),
    (RejectReason.BAD_NAME, record(awsRegion="mars")),
    (RejectReason.BAD_NAME, record(recipientAccountId="12345")),
    (RejectReason.BAD_NAME, record(recipientAccountId="\u0661" * 12)),  # non-ASCII digits
    (RejectReason.BAD_NAME, record(errorCode="Access\u0007Denied")),
    (RejectReason.BAD_NAME, record(errorCode="")),
    (RejectReason.BAD_ENVELOPE, b"[1, 2]"),
    (RejectReason.BAD_ENVELOPE, b"5"),
    (RejectReason.BAD_ENVELOPE, b'"text"'),
    (RejectReason.BAD_ENVELOPE, b"{}"),
    (RejectReason.BAD_ENVELOPE, b'{"Records": 5}'),
    (RejectReason.BAD_ENVELOPE, b'{"Records": [5]}'),
    (RejectReason.BAD_ENVELOPE, eventbridge(SOME[0], "EC2 Instance State-change Notification")),
    (RejectReason.BAD_ENVELOPE, b'{"detail-type": "AWS API Call via CloudTrail"}'),
    (RejectReason.BAD_ENVELOPE, gzip.compress(b'{"messageType": "SURPRISE"}')),
    (RejectReason.DECOMPRESS_ERROR, b"\x1f\x8b\x08 certainly not deflate"),
    (RejectReason.DECOMPRESS_ERROR, gzip.compress(SOME[0])[:-12]),
    (RejectReason.DECOMPRESS_ERROR, gzip.compress(SOME[0]) + b"trailing junk"),
    (RejectReason.DECOMPRESS_ERROR, b"H4sI!!"),
]


@pytest.mark.parametrize(("reason", "data"), TARGETED, ids=lambda x: x if isinstance(x, str) else "")
def test_each_reject_reason(reason: RejectReason, data: bytes) -> None:
    decoder = Decoder(SMALL)
    result = decoder.decode(data)
    assert [r.reason for r in result.rejects] == [reason], result.rejects
    assert not result.records and decoder.records_decoded == 0
    assert decoder.reject_counts[reason.value] == 1 and sum(decoder.reject_counts.values()) == 1
    raw = result.rejects[0].raw
    assert 0 < len(raw) <= SMALL.max_reject_raw_bytes
    if data[:2] != b"\x1f\x8b":  # the message, or the offending record in it (decompressed if need be)
        assert raw == data[: SMALL.max_reject_raw_bytes] or raw in data


def test_every_reason_is_covered() -> None:
    assert {reason for reason, _ in TARGETED} == set(RejectReason)


@pytest.mark.parametrize("wrapper", ["s3", "cloudwatch", "jsonl"])
def test_bad_records_beside_good_ones_lose_nothing(wrapper: str) -> None:
    # JSON syntax errors cannot be isolated inside one JSON document (an S3 body), and a CloudWatch
    # message is a JSON string, which cannot carry invalid UTF-8; everything else is per record.
    unusable = {"s3": RejectReason.INVALID_JSON, "cloudwatch": RejectReason.INVALID_UTF8}.get(wrapper)
    bad = [data for reason, data in TARGETED if reason not in _MESSAGE_LEVEL | {unusable}]
    bad = [data for data in bad if data[:1] == b"{"] + [b"5", b"[]", b"null", b'"x"']
    mixed: list[bytes] = []
    for good, wrong in zip(SOME, bad, strict=False):
        mixed += [good, wrong]
    wraps: dict[str, Callable[[list[bytes]], bytes]] = {
        "s3": s3_body,
        "cloudwatch": cloudwatch,
        "jsonl": b"\n".join,
    }
    decoder = Decoder(SMALL)
    result = decoder.decode(wraps[wrapper](mixed))
    assert result.records == direct(SOME[: len(bad)])
    assert len(result.rejects) == len(bad)
    check_accounting(decoder, [result])


def test_a_syntax_error_inside_an_s3_body_rejects_the_body() -> None:
    result = Decoder().decode(s3_body([SOME[0], b"{oops", SOME[1]]))
    assert [r.reason for r in result.rejects] == ["invalid_json"] and not result.records


_MESSAGE_LEVEL = {RejectReason.DECOMPRESS_ERROR, RejectReason.BAD_ENVELOPE, RejectReason.TOO_DEEP}


def test_log_event_problems() -> None:
    data = {"messageType": "DATA_MESSAGE", "logEvents": [{"id": "1"}, {"message": 5}, 7, {"message": "{"}]}
    result = Decoder().decode(json.dumps(data).encode())
    reasons = [r.reason for r in result.rejects]
    assert reasons == ["missing_field", "wrong_type", "bad_envelope", "invalid_json"]


def test_reject_keeps_bounded_raw_and_short_detail() -> None:
    limits = DecodeLimits(max_record_bytes=1 << 20, max_reject_raw_bytes=100)
    result = Decoder(limits).decode(record(eventName="Bad Name " + "x" * 5000))
    (reject,) = result.rejects
    assert len(reject.raw) == 100 and len(reject.detail) <= 120 and reject.reason == "bad_name"


def test_name_caches_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(envelope_module, "_NAME_CACHE_LIMIT", 50)
    decoder = Decoder()
    for i in range(200):
        assert decoder.decode(record(eventName=f"Api{i}")).records
    assert len(envelope_module._ok_names) <= 50


# --- fuzzing -----------------------------------------------------------------------------------
