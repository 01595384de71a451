"""The decoder: every envelope, every reject reason, the real sample, and fuzzing for robustness."""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insights import envelope as envelope_module
from insights import eventtime
from insights.decode import DecodeLimits, Decoder, DecodeResult, Envelope, Reject, RejectReason
from insights.eventtime import event_minute, minute_to_iso
from insights.record import CloudTrailRecord

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE_FILES = sorted((DATA / "cloudtrail-sample").glob("*.json"))
SCALE = int(os.environ.get("TRAILPULSE_FUZZ_SCALE", "1"))  # raise it for a long local fuzzing run


def fuzz(examples: int) -> settings:
    slow = [HealthCheck.too_slow]
    return settings(max_examples=examples * SCALE, deadline=None, suppress_health_check=slow)


class _Body(msgspec.Struct):
    Records: list[msgspec.Raw]


def _load_sample() -> tuple[list[bytes], list[bytes], list[dict[str, Any]]]:
    bodies = [path.read_bytes() for path in SAMPLE_FILES]
    raws = [bytes(raw) for body in bodies for raw in msgspec.json.decode(body, type=_Body).Records]
    dicts = [record for body in bodies for record in json.loads(body)["Records"]]
    return bodies, raws, dicts


BODIES, RAWS, DICTS = _load_sample()
SOME = RAWS[:: max(1, len(RAWS) // 40)][:40]  # a spread of real records for envelope tests


def record(**changes: Any) -> bytes:
    """A real record with some fields replaced (a value of ``...`` removes the field)."""
    base = dict(DICTS[0])
    for key, value in changes.items():
        if value is ...:
            base.pop(key, None)
        else:
            base[key] = value
    return json.dumps(base).encode()


def direct(raws: list[bytes]) -> list[CloudTrailRecord]:
    return [msgspec.json.decode(raw, type=CloudTrailRecord) for raw in raws]


def s3_body(raws: list[bytes]) -> bytes:
    return b'{"Records":[' + b",".join(raws) + b"]}"


def eventbridge(raw: bytes, detail_type: str = "AWS API Call via CloudTrail") -> bytes:
    head = {
        "version": "0",
        "id": "6f87d04b-9f74-4f04-a780-7acf4b0a9b38",
        "detail-type": detail_type,
        "source": "aws.ec2",
        "account": "123456789012",
        "time": "2023-07-10T11:42:36Z",
        "region": "us-east-1",
        "resources": [],
    }
    return json.dumps(head).encode()[:-1] + b', "detail": ' + raw + b"}"


def cloudwatch(raws: list[bytes], message_type: str = "DATA_MESSAGE") -> bytes:
    events = [
        {"id": str(36000000000000000000000000 + i), "timestamp": 1688989356000, "message": raw.decode()}
        for i, raw in enumerate(raws)
    ]
    data = {
        "messageType": message_type,
        "owner": "123456789012",
        "logGroup": "aws-cloudtrail-logs",
        "logStream": "123456789012_CloudTrail_us-east-1",
        "subscriptionFilters": ["to-kafka"],
        "logEvents": events,
    }
    return gzip.compress(json.dumps(data).encode())


def check_accounting(decoder: Decoder, results: list[DecodeResult]) -> None:
    assert sum(decoder.reject_counts.values()) == sum(len(r.rejects) for r in results)
    assert decoder.records_decoded == sum(len(r.records) for r in results)
    for result in results:
        for reject in result.rejects:
            assert isinstance(reject, Reject) and isinstance(reject.reason, RejectReason)
            assert len(reject.raw) <= decoder.limits.max_reject_raw_bytes and len(reject.detail) <= 120
        for rec in result.records:  # whatever got through is usable downstream
            assert event_minute(rec.eventTime) is not None
            assert re.fullmatch(r"[a-z0-9][a-z0-9.-]*", rec.eventSource)
            assert (rec.recipientAccountId or (rec.userIdentity and rec.userIdentity.accountId)) is not None


# --- the real sample ---------------------------------------------------------------------------


def test_sample_decodes_without_rejects() -> None:
    assert len(SAMPLE_FILES) > 10
    decoder = Decoder()
    results = [decoder.decode(body) for body in BODIES]
    expected = sum(len(json.loads(body)["Records"]) for body in BODIES)
    assert expected > 2800
    assert sum(len(r.records) for r in results) == expected == decoder.records_decoded
    assert not any(r.rejects for r in results) and sum(decoder.reject_counts.values()) == 0
    first = results[0].records[0]
    assert (first.eventName, first.eventSource) == (DICTS[0]["eventName"], DICTS[0]["eventSource"])
    assert first.userIdentity is not None and first.userIdentity.arn == DICTS[0]["userIdentity"]["arn"]


def test_every_sample_record_decodes_alone_as_it_does_directly() -> None:
    decoder = Decoder()
    got = [rec for raw in RAWS for rec in decoder.decode(raw).records]
    assert got == direct(RAWS)
    assert sum(decoder.reject_counts.values()) == 0


# --- envelopes ---------------------------------------------------------------------------------


ENVELOPES: dict[str, Callable[[list[bytes]], list[bytes]]] = {
    "raw": lambda raws: raws,
    "s3.gz": lambda raws: [gzip.compress(s3_body(raws[i : i + 100])) for i in range(0, len(raws), 100)],
    "eventbridge": lambda raws: [eventbridge(raw) for raw in raws],
    "cloudwatch": lambda raws: [cloudwatch(raws[i : i + 50]) for i in range(0, len(raws), 50)],
    "cloudwatch.b64": lambda raws: [
        base64.b64encode(cloudwatch(raws[i : i + 50])) for i in range(0, len(raws), 50)
    ],
    "jsonl": lambda raws: [b"\n".join(raws) + b"\n"],
    "jsonl.gz": lambda raws: [gzip.compress(b"\n".join(raws))],
}


@pytest.mark.parametrize("kind", sorted(ENVELOPES))
def test_whole_sample_through_each_envelope(kind: str) -> None:
    decoder = Decoder()
    results = [decoder.decode(message) for message in ENVELOPES[kind](RAWS)]
    assert [rec for result in results for rec in result.records] == direct(RAWS)
    assert sum(decoder.reject_counts.values()) == 0
    check_accounting(decoder, results)


def test_raw_record() -> None:
    result = Decoder().decode(SOME[0])
    assert result.records == direct(SOME[:1]) and not result.rejects


@pytest.mark.parametrize("compress", [False, True])
def test_s3_body(compress: bool) -> None:
    body = s3_body(SOME)
    result = Decoder().decode(gzip.compress(body) if compress else body)
    assert result.records == direct(SOME) and not result.rejects


def test_s3_body_pretty_printed_and_multi_member_gzip() -> None:
    body = json.dumps({"Records": [json.loads(raw) for raw in SOME[:5]]}, indent=2).encode()
    assert Decoder().decode(body).records == direct(SOME[:5])
    two_members = gzip.compress(s3_body(SOME[:3])) + gzip.compress(b" ")
    assert Decoder().decode(two_members).records == direct(SOME[:3])


@pytest.mark.parametrize("detail_type", ["AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail"])
def test_eventbridge(detail_type: str) -> None:
    result = Decoder().decode(eventbridge(SOME[1], detail_type))
    assert result.records == direct(SOME[1:2]) and not result.rejects


@pytest.mark.parametrize("encode", [lambda b: b, base64.b64encode])
def test_cloudwatch_data_message(encode: Any) -> None:
    result = Decoder().decode(encode(cloudwatch(SOME)))
    assert result.records == direct(SOME) and not result.rejects


def test_cloudwatch_control_message_is_skipped() -> None:
    decoder = Decoder()
    result = decoder.decode(cloudwatch([], "CONTROL_MESSAGE"))
    assert (result.records, result.rejects, result.skipped) == ([], [], 1)
    assert sum(decoder.reject_counts.values()) == 0


def test_json_lines_with_a_bad_line_in_the_middle() -> None:
    lines = [*SOME[:5], b'{"eventTime": "2023-07-10T11:42', *SOME[5:10], b"", s3_body(SOME[10:12])]
    decoder = Decoder()
    result = decoder.decode(b"\n".join(lines) + b"\r\n\n")
    assert result.records == direct(SOME[:12])
    assert [r.reason for r in result.rejects] == [RejectReason.INVALID_JSON]
    assert result.rejects[0].raw == lines[5]
    gz = Decoder().decode(gzip.compress(b"\n".join(SOME[:3])))
    assert gz.records == direct(SOME[:3])


def test_json_lines_first_line_bad_keeps_the_rest() -> None:
    result = Decoder().decode(b"garbage\n" + b"\n".join(SOME[:3]))
    assert result.records == direct(SOME[:3]) and len(result.rejects) == 1


def test_broken_multiline_document_is_one_reject() -> None:
    pretty = json.dumps({"Records": [json.loads(raw) for raw in SOME[:3]]}, indent=2).encode()
    result = Decoder().decode(pretty[: len(pretty) // 2])
    assert [r.reason for r in result.rejects] == [RejectReason.INVALID_JSON] and not result.records


def test_non_ascii_records_and_byte_order_mark() -> None:
    unicode = record(userAgent="Mozilla/5.0 (café; 😀)")
    direct_unicode = direct([unicode])
    assert Decoder().decode(unicode).records == direct_unicode
    assert Decoder().decode(s3_body([SOME[0], unicode])).records == direct([SOME[0], unicode])
    assert Decoder().decode(b"\xef\xbb\xbf" + s3_body(SOME[:2])).records == direct(SOME[:2])
    assert Decoder().decode(cloudwatch([unicode])).records == direct_unicode


def test_empty_containers_are_skipped() -> None:
    decoder = Decoder()
    empty = [b'{"Records": []}', b'{"messageType": "DATA_MESSAGE", "logEvents": []}']
    assert all(decoder.decode(data).skipped == 1 for data in empty)
    assert sum(decoder.reject_counts.values()) == 0 and decoder.records_decoded == 0
    assert all(type(key) is str for key in decoder.reject_counts)
    assert set(decoder.reject_counts) == {reason.value for reason in RejectReason}


@pytest.mark.parametrize("blank", [b"", b"  ", b"\n\n", b"\r\n"])
def test_blank_input_is_skipped(blank: bytes) -> None:
    for mode in Envelope:
        result = Decoder(envelope=mode).decode(blank)
        assert not result.records and not result.rejects


def test_insight_records_decode_as_records() -> None:
    examples = json.loads((DATA / "aws-insight-examples/insight-examples.json").read_text())
    raws = [json.dumps(example).encode() for example in examples]
    result = Decoder().decode(s3_body(raws))
    assert not result.rejects and len(result.records) == len(examples)
    for rec, example in zip(result.records, examples, strict=True):
        assert rec.eventType == "AwsCloudTrailInsight" and rec.eventCategory == "Insight"
        assert rec.eventSource == example["insightDetails"]["eventSource"]
        assert rec.errorCode == example["insightDetails"].get("errorCode")
    assert Decoder().decode(raws[-1]).records == result.records[-1:]


def test_envelope_override() -> None:
    assert Decoder(envelope=Envelope.S3).decode(s3_body(SOME[:2])).records == direct(SOME[:2])
    assert Decoder(envelope=Envelope.RECORD).decode(gzip.compress(SOME[0])).records == direct(SOME[:1])
    assert Decoder(envelope=Envelope.EVENTBRIDGE).decode(eventbridge(SOME[0])).records == direct(SOME[:1])
    assert Decoder(envelope=Envelope.CLOUDWATCH).decode(cloudwatch(SOME[:2])).records == direct(SOME[:2])
    assert Decoder(envelope=Envelope.JSONL).decode(SOME[0] + b"\n" + SOME[1]).records == direct(SOME[:2])
    assert Decoder(envelope="jsonl").decode(b"\n".join(SOME[:2])).records == direct(SOME[:2])  # type: ignore[arg-type]
    wrong = [
        (Envelope.S3, SOME[0]),
        (Envelope.RECORD, s3_body(SOME[:2])),
        (Envelope.EVENTBRIDGE, s3_body(SOME[:2])),
        (Envelope.CLOUDWATCH, eventbridge(SOME[0])),
    ]
    for mode, data in wrong:
        result = Decoder(envelope=mode).decode(data)
        assert [r.reason for r in result.rejects] == [RejectReason.BAD_ENVELOPE], mode
        assert not result.records
    jsonl_as_s3 = Decoder(envelope=Envelope.S3).decode(b"\n".join(SOME[:2]))  # JSON lines only in auto
    assert [r.reason for r in jsonl_as_s3.rejects] == [RejectReason.INVALID_JSON]


def test_non_bytes_input() -> None:
    assert Decoder().decode(bytearray(SOME[0])).records == direct(SOME[:1])  # type: ignore[arg-type]
    assert Decoder().decode(memoryview(SOME[0])).records == direct(SOME[:1])  # type: ignore[arg-type]
    result = Decoder().decode("not bytes")  # type: ignore[arg-type]
    assert not result.records and len(result.rejects) == 1


# --- rejects -----------------------------------------------------------------------------------

SMALL = DecodeLimits(max_message_bytes=1 << 20, max_record_bytes=8 << 10)
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


def _outcomes_hold(decoder: Decoder, result: DecodeResult) -> None:
    check_accounting(decoder, [result])
    assert result.records or result.rejects or result.skipped


@fuzz(300)
@given(data=st.binary(max_size=3000), mode=st.sampled_from(list(Envelope)))
def test_random_bytes_never_raise(data: bytes, mode: Envelope) -> None:
    decoder = Decoder(SMALL, mode)
    results = []
    for candidate in (data, gzip.compress(data), base64.b64encode(gzip.compress(data)), b"{" + data):
        results.append(decoder.decode(candidate))
        assert results[-1].records or results[-1].rejects or results[-1].skipped
    check_accounting(decoder, results)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
FIELDS = ["eventTime", "eventSource", "eventName", "awsRegion", "recipientAccountId", "userIdentity",
          "errorCode", "readOnly", "managementEvent", "eventCategory", "userAgent", "eventID"]  # fmt: skip


@st.composite
def mutated_records(draw: st.DrawFn) -> bytes:
    raw = draw(st.sampled_from(SOME))
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "nest", "huge", "retype", "drop"]))
    if kind == "flip":
        i = draw(st.integers(0, len(raw) - 1))
        return raw[:i] + bytes([raw[i] ^ draw(st.integers(1, 255))]) + raw[i + 1 :]
    if kind == "truncate":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if kind == "insert":
        i = draw(st.integers(0, len(raw)))
        return raw[:i] + draw(st.binary(min_size=1, max_size=20)) + raw[i:]
    if kind == "nest":
        depth = draw(st.integers(1, 3000))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        return opener * depth + raw + closer * depth
    value: Any = json.loads(raw)
    field = draw(st.sampled_from(FIELDS))
    if kind == "huge":
        number = draw(st.sampled_from(["1" + "0" * 400, "-1e99999", "1e400", "18446744073709551616"]))
        return json.dumps({**value, field: 0}).replace(f'"{field}": 0', f'"{field}": {number}').encode()
    if kind == "retype":
        return json.dumps({**value, field: draw(JSON_VALUES)}).encode()
    value.pop(field, None)
    return json.dumps(value).encode()


WRAPPERS: dict[str, Callable[[bytes], bytes]] = {
    "raw": lambda raw: raw,
    "s3": lambda raw: s3_body([SOME[0], raw, SOME[1]]),
    "s3.gz": lambda raw: gzip.compress(s3_body([raw])),
    "eventbridge": eventbridge,
    "jsonl": lambda raw: SOME[0] + b"\n" + raw + b"\n" + SOME[1],
}


@fuzz(300)
@given(raw=mutated_records(), wrapper=st.sampled_from(sorted(WRAPPERS)))
def test_mutated_records_never_raise(raw: bytes, wrapper: str) -> None:
    decoder = Decoder(SMALL)
    result = decoder.decode(WRAPPERS[wrapper](raw))
    _outcomes_hold(decoder, result)
    if (wrapper == "jsonl" and b"\n" not in raw) or (wrapper == "s3" and _is_json(raw)):
        # the bad record is isolated: its good neighbours survive
        assert result.records[0] == direct(SOME[:1])[0] and result.records[-1] == direct(SOME[1:2])[0]


def _is_json(data: bytes) -> bool:
    try:
        msgspec.json.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return False
    return True


@fuzz(100)
@given(raw=mutated_records())
def test_mutated_cloudwatch_never_raises(raw: bytes) -> None:
    text = raw.decode("utf-8", "replace").encode()
    decoder = Decoder(SMALL)
    _outcomes_hold(decoder, decoder.decode(base64.b64encode(cloudwatch([SOME[0], text]))))


@fuzz(100)
@given(raw=mutated_records())
def test_a_mutated_record_alone_gives_one_outcome(raw: bytes) -> None:
    decoder = Decoder(SMALL, Envelope.RECORD)
    result = decoder.decode(raw)
    assert len(result.records) + len(result.rejects) + result.skipped == 1
    check_accounting(decoder, [result])


# --- event time --------------------------------------------------------------------------------


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


def test_rejects_say_which_record_or_line() -> None:
    body = s3_body([SOME[0], record(eventName="Bad Name"), SOME[1], b"5"])
    assert [(r.record, r.line) for r in Decoder().decode(body).rejects] == [(1, None), (3, None)]
    lines = b"\n".join([SOME[0], b"", b"{oops", SOME[1], record(awsRegion="Nowhere")])
    result = Decoder(envelope=Envelope.JSONL).decode(lines)
    assert [(r.reason, r.line) for r in result.rejects] == [("invalid_json", 3), ("bad_name", 5)]
    assert Decoder().decode(b"not json").rejects[0].record is None


@pytest.mark.parametrize("compress", [False, True])
def test_decode_parts_give_what_decode_gives(compress: bool) -> None:
    raws = [*SOME[:7], record(eventName="Bad Name"), *SOME[7:12]]
    body = s3_body(raws)
    data = gzip.compress(body) if compress else body
    whole = Decoder().decode(data)
    decoder = Decoder(DecodeLimits(part_records=3))
    parts = list(decoder.decode_parts(data))
    assert [len(p.records) + len(p.rejects) for p in parts] == [3, 3, 3, 3, 1]
    assert [rec for p in parts for rec in p.records] == whole.records == direct(SOME[:12])
    assert [r for p in parts for r in p.rejects] == whole.rejects
    assert whole.rejects[0].record == 7
    check_accounting(decoder, parts)


@pytest.mark.parametrize("compress", [False, True])
def test_decode_parts_of_json_lines_give_what_decode_gives(compress: bool) -> None:
    lines = b"\n".join([*SOME[:4], b"", b"{oops", *SOME[4:7], record(awsRegion="Nowhere"), b""])
    data = gzip.compress(lines) if compress else lines
    whole = Decoder(envelope=Envelope.JSONL).decode(data)
    decoder = Decoder(DecodeLimits(part_records=3), Envelope.JSONL)
    parts = list(decoder.decode_parts(data))
    assert len(parts) == 4
    assert [rec for p in parts for rec in p.records] == whole.records == direct(SOME[:7])
    assert [r for p in parts for r in p.rejects] == whole.rejects
    assert [(r.reason, r.line) for r in whole.rejects] == [("invalid_json", 6), ("bad_name", 10)]
    check_accounting(decoder, parts)


@pytest.mark.parametrize(
    "data",
    [b"\n".join(SOME[:5]), eventbridge(SOME[0]), b"not json", gzip.compress(b"x")[:-3], s3_body([])],
    ids=["jsonl", "eventbridge", "junk", "truncated gzip", "empty s3 body"],
)
def test_decode_parts_of_other_input_is_one_part(data: bytes) -> None:
    (part,) = Decoder(DecodeLimits(part_records=2)).decode_parts(data)
    assert part == Decoder().decode(data)


def test_gunzip_works_in_slices_across_members() -> None:
    first = os.urandom(3 << 20)  # incompressible: its gzip spans several input slices
    data = gzip.compress(first) + gzip.compress(b"second") + b"\x00" * 8
    assert envelope_module.unwrap(data, 4 << 20) == first + b"second"
    with pytest.raises(envelope_module.TooLargeError):
        envelope_module.unwrap(data, 3 << 20)
    with pytest.raises(envelope_module.CompressionError, match="trailing"):
        envelope_module.unwrap(data + b"junk", 4 << 20)
