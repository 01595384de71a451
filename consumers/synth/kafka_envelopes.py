"""CloudTrail log files as Kafka message values, in each envelope of DESIGN §1 (``trailpulse generate``).

``raw`` and ``eventbridge`` give one message per record; ``s3`` (the ``{"Records":[...]}`` body),
``s3gz``, ``cloudwatch`` (a gzipped subscription ``DATA_MESSAGE``, some base64) and ``jsonl`` one per
file. Deterministic: the same file gives the same bytes.

>>> log = GeneratedFile("f", "123456789012", "us-east-1", 0, [b'{"eventID":"a"}', b'{"eventID":"b"}'])
>>> encode(log, "jsonl")
[b'{"eventID":"a"}\\n{"eventID":"b"}\\n']
>>> [len(values) for _, values in messages_for(log, "eventbridge", 3)]
[2]
"""

from __future__ import annotations

import base64
import uuid
import zlib
from collections.abc import Iterator
from datetime import datetime

import msgspec

from consumers.synth.s3_delivery import GeneratedFile

ENVELOPES = ("raw", "s3", "s3gz", "eventbridge", "cloudwatch", "jsonl")
MAX_MESSAGE_BYTES = 1_000_000  # the broker's default message.max.bytes is 1 MB; larger files are split
_EVENTBRIDGE_IDS = uuid.UUID("5d1ac6f2-3c0e-4be4-9a55-7ad0f1a7e0c2")


class _Head(msgspec.Struct):
    eventTime: str = "1970-01-01T00:00:00Z"
    eventSource: str = "unknown.amazonaws.com"
    eventID: str = ""


_HEAD = msgspec.json.Decoder(_Head)


def pick_envelope(log: GeneratedFile, envelopes: tuple[str, ...]) -> str:
    """The envelope of one file: deterministic for a given path (and so for a given seed)."""
    return envelopes[zlib.crc32(log.path.encode()) % len(envelopes)]


def _eventbridge(record: bytes, log: GeneratedFile) -> bytes:
    head = _HEAD.decode(record)
    event = {
        "version": "0",
        "id": str(uuid.uuid5(_EVENTBRIDGE_IDS, head.eventID or record.hex())),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws." + head.eventSource.split(".", 1)[0],
        "account": log.account,
        "time": head.eventTime,
        "region": log.region,
        "resources": [],
    }
    return msgspec.json.encode(event)[:-1] + b',"detail":' + record + b"}"


def _cloudwatch(log: GeneratedFile, level: int) -> bytes:
    events = []
    for i, record in enumerate(log.records):
        moment = datetime.fromisoformat(_HEAD.decode(record).eventTime.replace("Z", "+00:00"))
        ms = int(moment.timestamp() * 1000)
        events.append({"id": f"{ms:020d}{i:036d}", "timestamp": ms, "message": record.decode()})
    doc = {
        "messageType": "DATA_MESSAGE",
        "owner": log.account,
        "logGroup": "aws-cloudtrail-logs",
        "logStream": f"{log.account}_CloudTrail_{log.region}",
        "subscriptionFilters": ["trailpulse"],
        "logEvents": events,
    }
    data = zlib.compress(msgspec.json.encode(doc), level, wbits=31)
    # about a third base64-encoded, as some subscription paths (Kinesis, Lambda) deliver it
    return base64.b64encode(data) if zlib.crc32(log.path.encode()) % 3 == 0 else data


def encode(log: GeneratedFile, envelope: str, level: int = 3) -> list[bytes]:
    """The message values that carry ``log`` in ``envelope``."""
    if envelope == "raw":
        return list(log.records)
    if envelope == "eventbridge":
        return [_eventbridge(r, log) for r in log.records]
    if envelope == "cloudwatch":
        return [_cloudwatch(log, level)]
    body = b"\n".join(log.records) + b"\n" if envelope == "jsonl" else log.body()
    if envelope == "s3gz":
        return [zlib.compress(body, level, wbits=31)]
    if envelope in ("s3", "jsonl"):
        return [body]
    raise ValueError(f"unknown envelope {envelope!r}")


def messages_for(log: GeneratedFile, envelope: str, level: int) -> Iterator[tuple[int, list[bytes]]]:
    """(records, values) of ``encode``, halving files whose message would exceed ``MAX_MESSAGE_BYTES``."""
    values = encode(log, envelope, level)
    records = log.records
    if len(records) > 1 and len(values) == 1 and len(values[0]) > MAX_MESSAGE_BYTES:
        for part in (records[: len(records) // 2], records[len(records) // 2 :]):
            half = GeneratedFile(log.path, log.account, log.region, log.delivery_minute, part)
            yield from messages_for(half, envelope, level)
    else:
        yield len(records), values
