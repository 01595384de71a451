"""Fuzzing the decoder: random bytes and mutated real records never raise, every reject is counted."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
from collections.abc import Callable
from typing import Any

import msgspec
from hypothesis import example, given
from hypothesis import strategies as st

from insights.decode import Decoder, DecodeResult, Envelope
from tests.decode_samples import (
    SMALL,
    SOME,
    check_accounting,
    cloudwatch,
    direct,
    eventbridge,
    fuzz,
    record,
    s3_body,
)


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


def _unpadded(result: DecodeResult) -> DecodeResult:
    """``result`` with the bytes its rejects keep stripped of trailing blanks (a whole body that is
    rejected keeps the padding that took it past the one-pass size)."""
    rejects = [dataclasses.replace(r, raw=r.raw.rstrip(b" ")) for r in result.rejects]
    return DecodeResult(result.records, rejects, result.skipped, result.channel)


@fuzz(200)
@example(raws=[SOME[0], record(eventName="no spaces allowed"), SOME[1]], mode=Envelope.AUTO)
@example(raws=[SOME[0], record(eventSource=...)], mode=Envelope.S3)
@example(raws=[], mode=Envelope.AUTO)
@given(
    raws=st.lists(st.one_of(st.sampled_from(SOME), mutated_records()), max_size=6),
    mode=st.sampled_from([Envelope.AUTO, Envelope.S3]),
)
def test_small_log_files_decode_as_the_careful_path_does(raws: list[bytes], mode: Envelope) -> None:
    """A log file no larger than one record may be is decoded in one typed pass when all its records
    are good; the same body padded past that size takes the record-by-record path. Both give the
    same records, rejects and skips, whole or in parts, whatever the records are."""
    body = s3_body(raws)
    padded = body + b" " * SMALL.max_record_bytes
    one_pass, careful = Decoder(SMALL, mode), Decoder(SMALL, mode)
    assert _unpadded(one_pass.decode(body)) == _unpadded(careful.decode(padded))
    parts = [_unpadded(part) for part in one_pass.decode_parts(body)]
    assert parts == [_unpadded(part) for part in careful.decode_parts(padded)]
    assert one_pass.reject_counts == careful.reject_counts
    assert one_pass.records_decoded == careful.records_decoded


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
