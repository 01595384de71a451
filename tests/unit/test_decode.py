"""The decoder: every envelope over the real sample, and large bodies decoded in parts."""

from __future__ import annotations

import base64
import gzip
import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from insights import envelope as envelope_module
from insights.decode import DecodeLimits, Decoder, Envelope, RejectReason
from tests.decode_samples import (
    BODIES,
    DATA,
    DICTS,
    RAWS,
    SAMPLE_FILES,
    SOME,
    check_accounting,
    cloudwatch,
    direct,
    eventbridge,
    record,
    s3_body,
)


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
