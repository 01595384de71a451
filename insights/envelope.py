"""The input formats: the wrappers records arrive in, what makes a record usable, what went wrong.

One Kafka topic may carry raw records, S3 log file bodies, EventBridge events or CloudWatch Logs
subscription data, compressed or not, depending on how each producer was wired (DESIGN §1); telling
them apart per message lets one deployment read them all. One msgspec pass over a message reads the
few keys that identify its kind and keeps every record in it as undecoded ``msgspec.Raw`` bytes, so
records are then decoded, checked and rejected one at a time and a bad one never costs its
neighbours; a small log file whose records are all good is decoded in one typed pass instead.
Decompression is bounded, so a gzip bomb stops at the byte limit, and uses zlib-ng (the same
format as zlib, and inflates the small files of a real bucket in about 60 % of zlib's time).

Record checks guard the strings that later become keys (names, region, account): everything in a
record is chosen by whoever calls AWS, and those strings index the engine's bounded state, so they
must look like what AWS writes. Validated strings are cached, so a repeated name costs one lookup.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator
from enum import StrEnum

import msgspec
from msgspec import UNSET, Raw, UnsetType
from zlib_ng import zlib_ng

from insights.eventtime import event_minute
from insights.record import CloudTrailRecord

GZIP_MAGIC = b"\x1f\x8b"
BASE64_GZIP_MAGIC = b"H4sI"  # base64 of 1f 8b 08 (gzip, deflate)
_MAX_LAYERS = 3  # e.g. CloudWatch Logs data (gzip) re-compressed by Firehose, then base64
_INPUT_SLICE = 64 << 10  # compressed bytes per step of decompression (a few MB of output)


class Envelope(StrEnum):
    """How messages are wrapped; ``AUTO`` detects it per message."""

    AUTO = "auto"
    RECORD = "record"
    S3 = "s3"
    EVENTBRIDGE = "eventbridge"
    CLOUDWATCH = "cloudwatch"
    JSONL = "jsonl"


class Channel(StrEnum):
    """The delivery path a record came by, which fixes how far behind its event time it arrives.

    Records of one account-region may reach one Kafka partition by several paths at once (an
    EventBridge rule within seconds, a CloudWatch Logs subscription within minutes, S3 log files
    5-15 minutes or more after the call), so each path keeps its own event-time clock
    (:mod:`insights.clock`): a log file's records are late only against earlier log files, never
    against the EventBridge events that overtook them.
    """

    EVENTS = "events"  # one record per message: a raw record, an EventBridge event
    LOGS = "logs"  # CloudWatch Logs subscription batches
    FILES = "files"  # CloudTrail log files: S3 bodies, JSON lines


class RejectReason(StrEnum):
    """Why input was refused; the values are metric-label and dead-letter safe."""

    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    WRONG_TYPE = "wrong_type"
    MISSING_FIELD = "missing_field"
    TOO_LARGE = "too_large"
    TOO_DEEP = "too_deep"
    BAD_EVENT_TIME = "bad_event_time"
    BAD_NAME = "bad_name"
    BAD_ENVELOPE = "bad_envelope"
    DECOMPRESS_ERROR = "decompress_error"


class Shape(msgspec.Struct, gc=False):
    """The keys that tell the envelopes apart; every other key is skipped unread.

    The ``event*`` keys only mark an object that looks like a record (so a record with a bad field
    is reported as such, not as an unknown envelope); their values are not examined here.
    """

    Records: list[Raw] | UnsetType = UNSET
    detail: Raw | UnsetType = UNSET
    detail_type: str | UnsetType = msgspec.field(default=UNSET, name="detail-type")
    messageType: str | UnsetType = UNSET
    logEvents: list[Raw] | UnsetType = UNSET
    eventTime: Raw | UnsetType = UNSET
    eventSource: Raw | UnsetType = UNSET
    eventName: Raw | UnsetType = UNSET
    eventVersion: Raw | UnsetType = UNSET

    def looks_like_record(self) -> bool:
        """True if the object has any of the keys every CloudTrail record carries."""
        return not (
            self.eventTime is UNSET
            and self.eventSource is UNSET
            and self.eventName is UNSET
            and self.eventVersion is UNSET
        )


class LogEvent(msgspec.Struct, gc=False):
    """One CloudWatch Logs event; ``message`` holds a record as JSON text."""

    message: str


SHAPE_DECODER = msgspec.json.Decoder(Shape)
LOG_EVENT_DECODER = msgspec.json.Decoder(LogEvent)


class _LogFile(msgspec.Struct, gc=False):
    Records: list[CloudTrailRecord]


_LOG_FILE_DECODER = msgspec.json.Decoder(_LogFile)


def small_log_file_records(body: bytes | bytearray) -> list[CloudTrailRecord] | None:
    """The typed ``Records`` of an S3 log file body in one pass, or None if it is anything else.

    A log file is usually parsed twice: once for its shape (each record kept as raw bytes, so that
    one bad record is rejected alone and a too large one is known by its size) and again record by
    record. For a body no larger than one record may be, no record can be too large, and a body
    whose records all decode needs no isolation: one typed pass does the work of both, which is a
    sixth of the decoding of a bucket of small files. Anything else (an error anywhere, another
    envelope) returns None and takes the careful path, which gives the same records and rejects.
    """
    try:
        return _LOG_FILE_DECODER.decode(body).Records
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None


def log_file_records(body: bytes | bytearray) -> list[Raw] | None:
    """The ``Records`` of an S3 log file body, undecoded; None for any other input (or bad JSON,
    which the careful path then decodes again to say what is wrong)."""
    try:
        records = SHAPE_DECODER.decode(body).Records
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    return records if isinstance(records, list) else None


class TooLargeError(Exception):
    """Decompressed data would exceed the byte limit (a gzip bomb, or just too big)."""


class CompressionError(Exception):
    """Data that announces gzip or base64-gzip but does not decompress."""


def _gunzip(data: bytes | bytearray, limit: int) -> bytearray:
    """Decompress all gzip members of ``data``, never producing more than ``limit`` bytes.

    The output grows in one buffer, a slice of input at a time: a large file costs its size once
    (one-shot decompression would join its pieces into a second copy at the end).
    """
    out = bytearray()
    view = memoryview(data)
    pos = 0
    while True:
        inflater = zlib_ng.decompressobj(16 + zlib_ng.MAX_WBITS)
        while not inflater.eof and pos < len(view):
            chunk = view[pos : pos + _INPUT_SLICE]
            pos += len(chunk)
            try:
                out += inflater.decompress(chunk, limit - len(out) + 1)
            except zlib_ng.error as exc:  # type: ignore[misc]  # the stub declares an instance, not the class
                raise CompressionError(f"gzip: {exc}") from None
            if len(out) > limit:
                raise TooLargeError(f"decompresses to more than {limit} bytes")
        if not inflater.eof:
            raise CompressionError("gzip stream is truncated")
        pos -= len(inflater.unused_data)
        if view[pos : pos + 2] == GZIP_MAGIC:
            continue  # another member
        if not view[pos:].tobytes().strip(b"\x00"):  # nothing more, or zero padding
            return out
        raise CompressionError("trailing bytes after the gzip stream")


def unwrap(data: bytes | bytearray, limit: int) -> bytes | bytearray:
    """Remove gzip and base64-of-gzip layers (detected by their magic bytes) from ``data``.

    Raises :class:`TooLargeError` or :class:`CompressionError`; uncompressed data is returned as is.
    """
    for _ in range(_MAX_LAYERS):
        if data[:2] == GZIP_MAGIC:
            data = _gunzip(data, limit)
        elif data[:4] == BASE64_GZIP_MAGIC:
            try:
                data = _gunzip(binascii.a2b_base64(data), limit)
            except binascii.Error as exc:
                raise CompressionError(f"base64: {exc}") from None
        else:
            return data
    if data[:2] == GZIP_MAGIC or data[:4] == BASE64_GZIP_MAGIC:
        raise CompressionError(f"more than {_MAX_LAYERS} compression layers")
    return data


def line_chunks(body: bytes | bytearray, lines: int) -> Iterator[tuple[int, bytes]]:
    """``body`` as pieces of ``lines`` lines each, with the number of each piece's first line."""
    start, first = 0, 1
    while start < len(body):
        end = start
        for _ in range(lines):
            end = body.find(b"\n", end) + 1
            if end == 0:
                end = len(body)
                break
        yield first, bytes(body[start:end])
        start, first = end, first + lines


class _Insight(msgspec.Struct, gc=False):
    """An Insight record keeps its API's name under ``insightDetails``, not at the top level."""

    class Details(msgspec.Struct, gc=False):
        eventSource: str
        eventName: str
        errorCode: str | None = None

    eventTime: str
    awsRegion: str
    eventType: str
    insightDetails: Details
    eventID: str | None = None
    recipientAccountId: str | None = None
    eventCategory: str = "Insight"


RECORD_DECODER = msgspec.json.Decoder(CloudTrailRecord)
_INSIGHT_DECODER = msgspec.json.Decoder(_Insight)

# Validated-name caches: a repeated name costs one set lookup. Cleared when full, so junk is bounded.
_NAME_CACHE_LIMIT = 100_000
_SOURCE = re.compile(r"[a-z0-9][a-z0-9.-]{0,127}")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,127}")
_REGION = re.compile(r"[a-z]{2,4}(?:-[a-z]+)+-[0-9]{1,2}")
_ACCOUNT = re.compile(r"[0-9]{12}")
_ERROR_CODE = re.compile(r"[\x20-\x7e]{1,128}")
_ok_sources: set[str] = set()
_ok_names: set[str] = set()
_ok_regions: set[str] = set()
_ok_accounts: set[str] = set()
_ok_error_codes: set[str] = set()


def _admit(value: str, ok: set[str], pattern: re.Pattern[str]) -> bool:
    """Validate a name not seen yet; remember it if valid."""
    if pattern.fullmatch(value) is None:
        return False
    if len(ok) >= _NAME_CACHE_LIMIT:
        ok.clear()
    ok.add(value)
    return True


def record_problem(rec: CloudTrailRecord) -> tuple[RejectReason, str] | None:
    """Why a decoded record cannot be used, or None if it can."""
    if event_minute(rec.eventTime) is None:
        return RejectReason.BAD_EVENT_TIME, f"eventTime {rec.eventTime[:40]!r}"
    value = rec.eventSource
    if value not in _ok_sources and not _admit(value, _ok_sources, _SOURCE):
        return RejectReason.BAD_NAME, f"eventSource {value[:60]!r}"
    value = rec.eventName
    if value not in _ok_names and not _admit(value, _ok_names, _NAME):
        return RejectReason.BAD_NAME, f"eventName {value[:60]!r}"
    value = rec.awsRegion
    if value not in _ok_regions and not _admit(value, _ok_regions, _REGION):
        return RejectReason.BAD_NAME, f"awsRegion {value[:60]!r}"
    account = rec.recipientAccountId
    if account is None:
        account = None if rec.userIdentity is None else rec.userIdentity.accountId
        if account is None:
            return RejectReason.MISSING_FIELD, "no recipientAccountId or userIdentity.accountId"
    if account not in _ok_accounts and not _admit(account, _ok_accounts, _ACCOUNT):
        return RejectReason.BAD_NAME, f"account id {account[:60]!r}"
    code = rec.errorCode
    if code is not None and code not in _ok_error_codes and not _admit(code, _ok_error_codes, _ERROR_CODE):
        return RejectReason.BAD_NAME, f"errorCode {code[:60]!r}"
    return None


def insight_record(raw: bytes | bytearray | Raw) -> CloudTrailRecord | None:
    """Decode an Insight record (AwsCloudTrailInsight) into the common record type, if it is one."""
    try:
        ins = _INSIGHT_DECODER.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    if ins.eventType != "AwsCloudTrailInsight":
        return None
    details = ins.insightDetails
    return CloudTrailRecord(
        eventTime=ins.eventTime,
        eventSource=details.eventSource,
        eventName=details.eventName,
        awsRegion=ins.awsRegion,
        eventID=ins.eventID,
        recipientAccountId=ins.recipientAccountId,
        eventCategory=ins.eventCategory,
        eventType=ins.eventType,
        errorCode=details.errorCode,
    )


def utf8_problem(data: bytes | bytearray | Raw) -> RejectReason | None:
    """``INVALID_UTF8`` if the bytes are not UTF-8 (JSON text must be), else None."""
    try:
        bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        return RejectReason.INVALID_UTF8
    return None


def classify_error(exc: Exception, data: bytes | bytearray | Raw) -> RejectReason:
    """Map a failed msgspec decode of ``data`` to a reject reason."""
    if isinstance(exc, msgspec.ValidationError):
        message = str(exc)
        if message.startswith("Object missing required field"):
            return RejectReason.MISSING_FIELD
        if message.startswith("Expected `object`") and " - at `" not in message:
            return RejectReason.BAD_ENVELOPE  # the record itself is a list, number, string…
        return RejectReason.WRONG_TYPE
    if isinstance(exc, RecursionError):
        return RejectReason.TOO_DEEP
    if isinstance(exc, UnicodeError):
        return RejectReason.INVALID_UTF8
    return utf8_problem(data) or RejectReason.INVALID_JSON
