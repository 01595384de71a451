"""Real CloudTrail records (tests/data) and the envelope builders the decoder tests share."""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import HealthCheck, settings

from insights.decode import DecodeLimits, Decoder, DecodeResult, Reject, RejectReason
from insights.eventtime import event_minute
from insights.record import CloudTrailRecord

DATA = Path(__file__).resolve().parent / "data"
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


SMALL = DecodeLimits(max_message_bytes=1 << 20, max_record_bytes=8 << 10)  # limits small enough to hit
