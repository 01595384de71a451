"""Bytes from Kafka or files → typed CloudTrail records, and a reject for everything else.

Input is reachable by outsiders and producers get envelopes wrong, so the decoder trusts nothing:
it never raises, it rejects record by record so one bad record never loses its neighbours, and each
reject carries a reason (a bounded metric label) and the offending bytes for a dead-letter sink.

It is the hottest loop of the daemon (DESIGN §6): a message is first tried as one raw record (the
common Kafka case, one typed msgspec decode); anything else goes through envelope detection
(:mod:`insights.envelope`), and the records of an S3 log file take a lean loop of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import msgspec
from msgspec import Raw

from insights.decode_result import DEFAULT_LIMITS, DecodeLimits, DecodeResult, Reject
from insights.envelope import (
    LOG_EVENT_DECODER,
    RECORD_DECODER,
    SHAPE_DECODER,
    Channel,
    CompressionError,
    Envelope,
    RejectReason,
    Shape,
    TooLargeError,
    classify_error,
    insight_record,
    line_chunks,
    log_file_records,
    record_problem,
    small_log_file_records,
    unwrap,
    utf8_problem,
)
from insights.record import CloudTrailRecord

__all__ = ["DecodeLimits", "DecodeResult", "Decoder", "Envelope", "Reject", "RejectReason"]


# Modes where a message (or a line) may be one raw record, worth one typed decode up front.
_TRY_RECORD = (Envelope.AUTO, Envelope.RECORD, Envelope.JSONL)
# Envelopes whose S3 log file bodies decode_parts() splits (JSON lines are split by line).
_PARTED = (Envelope.AUTO, Envelope.S3)
# Third byte of '{"Records"…', '{"version"…' (EventBridge), '{"messageType"…': not worth a record decode.
_OTHER_ENVELOPE = frozenset((b"R", b"v", b"m"))


class Decoder:
    """Turns Kafka message values or file bodies into records, whatever the envelope (DESIGN §1).

    Each call to :meth:`decode` handles one message or file body and never raises: malformed input
    becomes :class:`Reject` entries, counted cumulatively in ``reject_counts`` for metrics. The
    envelope is detected per message (``Envelope.AUTO``), since a topic may mix producers; fixing it
    makes input of any other shape a ``bad_envelope`` reject.

    >>> decoder = Decoder()
    >>> record = (
    ...     b'{"eventTime": "2023-07-10T11:42:36Z", "eventSource": "ec2.amazonaws.com",'
    ...     b' "eventName": "RunInstances", "awsRegion": "us-east-1", "recipientAccountId": "123456789012"}'
    ... )
    >>> [r.eventName for r in decoder.decode(b'{"Records": [' + record + b', 5]}').records]
    ['RunInstances']
    >>> decoder.decode(b"not json").rejects[0].reason
    <RejectReason.INVALID_JSON: 'invalid_json'>
    >>> decoder.records_decoded, decoder.reject_counts["bad_envelope"], decoder.reject_counts["invalid_json"]
    (1, 1, 1)
    """

    def __init__(self, limits: DecodeLimits = DEFAULT_LIMITS, envelope: Envelope = Envelope.AUTO) -> None:
        self.limits = limits
        self.envelope = Envelope(envelope)
        self.records_decoded = 0
        self.reject_counts: dict[str, int] = {reason.value: 0 for reason in RejectReason}
        fast = self.envelope in _TRY_RECORD
        self._fast_bytes = min(limits.max_record_bytes, limits.max_message_bytes) if fast else -1

    def decode(self, data: bytes) -> DecodeResult:
        """Decode one message or file body; never raises."""
        if type(data) is bytes and len(data) <= self._fast_bytes and data[2:3] not in _OTHER_ENVELOPE:
            # The common Kafka case, one valid record, kept free of any other work.
            try:
                rec = RECORD_DECODER.decode(data)
            except Exception:
                pass  # classified below
            else:
                if record_problem(rec) is None and data.isascii():
                    self.records_decoded += 1
                    return DecodeResult([rec], [])
        result = DecodeResult()
        try:
            body = self._unwrapped(data, result)
            small = None if body is None else self._small_log_file(body)
            if small is not None:
                result.channel = Channel.FILES
                result.records = small
                result.skipped = int(not small)
            elif body is not None:
                self._body(body, result)
        except Exception as exc:  # the contract is to never raise; this is a bug guard
            self._reject(result, RejectReason.BAD_ENVELOPE, f"internal: {exc!r}", data)
        return self._counted(result)

    def _reject(
        self, result: DecodeResult, reason: RejectReason, detail: str, raw: object, record: int | None = None
    ) -> None:
        try:
            kept = bytes(memoryview(raw)[: self.limits.max_reject_raw_bytes])  # type: ignore[arg-type]
        except TypeError:
            kept = b""
        result.rejects.append(Reject(reason, detail[:120], kept, record))

    def decode_parts(self, data: bytes) -> Iterator[DecodeResult]:
        """:meth:`decode` in parts of ``limits.part_records`` records of an S3 log file body (or lines
        of JSON lines), so a large file's records never all exist at once; else one part. Never raises."""
        result, size = DecodeResult(), self.limits.part_records
        try:
            body = self._unwrapped(data, result)
            if body is not None and self.envelope is Envelope.JSONL:
                for first, lines in line_chunks(body, size):
                    self._lines(lines, part := DecodeResult(), True, first)
                    yield self._counted(part)
                return
            small = None if body is None else self._small_log_file(body)
            if small is not None:
                for start in range(0, len(small) or 1, size):
                    piece = small[start : start + size]
                    yield self._counted(DecodeResult(piece, [], int(not piece), Channel.FILES))
                return
            records = None if body is None or self.envelope not in _PARTED else log_file_records(body)
            if body is None or records is None:
                if body is not None:
                    self._body(body, result)
                yield self._counted(result)
                return
            ascii_text = body.isascii()
            for start in range(0, len(records) or 1, size):
                part = DecodeResult(channel=Channel.FILES)
                self._records(records[start : start + size], ascii_text, part, start)
                yield self._counted(part)
        except Exception as exc:  # a bug guard, as in decode()
            self._reject(result, RejectReason.BAD_ENVELOPE, f"internal: {exc!r}", data)
            yield self._counted(result)

    def _small_log_file(self, body: bytes | bytearray) -> list[CloudTrailRecord] | None:
        """All the records of a small, all-ASCII S3 log file whose records are all usable, in one
        typed pass (:func:`~insights.envelope.small_log_file_records`); None for anything else,
        which the careful path decodes record by record."""
        if len(body) > self.limits.max_record_bytes or body[2:3] != b"R" or self.envelope not in _PARTED:
            return None
        if not body.isascii():
            return None
        records = small_log_file_records(body)
        if records is None or any(record_problem(rec) is not None for rec in records):
            return None
        return records

    def _counted(self, result: DecodeResult) -> DecodeResult:
        self.records_decoded += len(result.records)
        counts = self.reject_counts
        for reject in result.rejects:
            counts[reject.reason] += 1
        return result

    def _unwrapped(self, data: bytes, result: DecodeResult) -> bytes | bytearray | None:
        """``data`` without compression layers, or None once rejected (too large, not gzip)."""
        data = data if isinstance(data, bytes) else bytes(data)
        limit = self.limits.max_message_bytes
        if len(data) > limit:
            self._reject(result, RejectReason.TOO_LARGE, f"message over {limit} bytes", data)
            return None
        try:
            return unwrap(data, limit)  # as it is, unless it starts with a compression's magic bytes
        except TooLargeError as exc:
            self._reject(result, RejectReason.TOO_LARGE, str(exc), data)
        except CompressionError as exc:
            self._reject(result, RejectReason.DECOMPRESS_ERROR, str(exc), data)
        return None

    def _body(self, data: bytes | bytearray, result: DecodeResult) -> None:
        if self.envelope is Envelope.JSONL:
            self._lines(data, result, strict=True)
        else:
            self._document(data, result, self.envelope, lines=True)

    def _document(self, doc: bytes | bytearray, result: DecodeResult, mode: Envelope, lines: bool) -> None:
        """One JSON document of any envelope (or, if ``lines``, maybe JSON lines): the careful path."""
        if not doc or doc.isspace():
            result.skipped += 1
            return
        if doc[:3] == b"\xef\xbb\xbf":  # a UTF-8 byte order mark, as some editors write
            doc = doc[3:]
        auto = mode is Envelope.AUTO
        try:
            shape = SHAPE_DECODER.decode(doc)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            syntax = isinstance(exc, UnicodeDecodeError) or type(exc) is msgspec.DecodeError
            if syntax and lines and auto and b"\n" in doc.strip():
                self._lines(doc, result, strict=False)  # JSON lines, or a broken multi-line document
                return
            reason = classify_error(exc, doc)
            if reason in (RejectReason.WRONG_TYPE, RejectReason.MISSING_FIELD):
                reason = RejectReason.BAD_ENVELOPE  # e.g. a list, or {"Records": 5}
            self._reject(result, reason, str(exc), doc)
            return
        if isinstance(shape.Records, list) and (auto or mode is Envelope.S3):
            result.channel = Channel.FILES
            self._records(shape.Records, doc.isascii(), result)
        elif isinstance(shape.messageType, str) and (auto or mode is Envelope.CLOUDWATCH):
            result.channel = Channel.LOGS
            self._cloudwatch(shape, doc, result)
        elif isinstance(shape.detail_type, str) and (auto or mode is Envelope.EVENTBRIDGE):
            if shape.detail_type.endswith("via CloudTrail") and isinstance(shape.detail, Raw):
                self._record(shape.detail, result, doc.isascii())
            else:
                detail = f"not a CloudTrail EventBridge event: {shape.detail_type[:60]!r}"
                self._reject(result, RejectReason.BAD_ENVELOPE, detail, doc)
        elif shape.looks_like_record() and (auto or mode is Envelope.RECORD):
            self._record(doc, result, doc.isascii())
        else:
            what = "record or envelope" if auto else f"{mode.value} envelope"
            self._reject(result, RejectReason.BAD_ENVELOPE, f"not a CloudTrail {what}", doc)

    def _lines(self, doc: bytes | bytearray, result: DecodeResult, strict: bool, first: int = 1) -> None:
        """JSON lines, numbered from ``first``; unless ``strict``, no usable line makes one bad document."""
        doc = bytes(doc)  # lines of a decompressed buffer must be bytes, to be looked up in sets
        part = result if strict else DecodeResult()
        blank = True
        ascii_text = doc.isascii()
        max_bytes = self.limits.max_record_bytes
        decode = RECORD_DECODER.decode
        for number, line in enumerate(doc.split(b"\n"), first):
            line = line.strip()
            if not line:
                continue
            blank = False
            if ascii_text and len(line) <= max_bytes and line[2:3] not in _OTHER_ENVELOPE:
                try:  # the fast path of decode(), inlined: files of JSON lines are mostly records
                    rec = decode(line)
                except Exception:
                    pass
                else:
                    if record_problem(rec) is None:
                        part.records.append(rec)
                        continue
            before = len(part.rejects)
            self._document(line, part, Envelope.AUTO, lines=False)
            part.rejects[before:] = [replace(r, line=number) for r in part.rejects[before:]]
        result.channel = Channel.FILES
        if part is result:
            result.skipped += blank
            return
        broken = (RejectReason.INVALID_JSON, RejectReason.BAD_ENVELOPE, RejectReason.INVALID_UTF8)
        if not part.records and not part.skipped and all(r.reason in broken for r in part.rejects):
            reason = utf8_problem(doc) or RejectReason.INVALID_JSON
            self._reject(result, reason, "not JSON, nor JSON lines", doc)
            return
        result.records += part.records
        result.rejects += part.rejects
        result.skipped += part.skipped

    def _records(self, records: list[Raw], ascii_text: bool, result: DecodeResult, first: int = 0) -> None:
        """The records of an S3 log file body (from the ``first``-th): the bulk path, kept lean."""
        if not records:
            result.skipped += 1
        max_bytes = self.limits.max_record_bytes
        decode = RECORD_DECODER.decode
        accepted = result.records
        for index, raw in enumerate(records, first):
            if ascii_text and len(raw) <= max_bytes:
                try:
                    rec = decode(raw)
                except Exception:  # classified by the careful path
                    self._record(raw, result, ascii_text, index)
                    continue
                problem = record_problem(rec)
                if problem is None:
                    accepted.append(rec)
                else:
                    self._reject(result, *problem, raw, index)
            else:
                self._record(raw, result, ascii_text, index)

    def _cloudwatch(self, shape: Shape, doc: bytes | bytearray, result: DecodeResult) -> None:
        if shape.messageType == "CONTROL_MESSAGE":  # sent once to check the destination is writable
            result.skipped += 1
            return
        if shape.messageType != "DATA_MESSAGE" or not isinstance(shape.logEvents, list):
            detail = f"CloudWatch Logs messageType {str(shape.messageType)[:40]!r} without logEvents"
            self._reject(result, RejectReason.BAD_ENVELOPE, detail, doc)
            return
        if not shape.logEvents:
            result.skipped += 1
        for raw in shape.logEvents:
            try:
                message = LOG_EVENT_DECODER.decode(raw).message.encode()
            except (msgspec.DecodeError, UnicodeError, RecursionError) as exc:
                self._reject(result, classify_error(exc, raw), f"log event: {exc}", raw)
                continue
            self._record(message, result, True)

    def _record(
        self, raw: bytes | bytearray | Raw, result: DecodeResult, ascii_text: bool, index: int | None = None
    ) -> None:
        """Decode one record (``index`` in its ``Records``, if any), precisely classifying failures."""
        limit = self.limits.max_record_bytes
        if len(raw) > limit:
            self._reject(result, RejectReason.TOO_LARGE, f"record over {limit} bytes", raw, index)
            return
        try:
            rec = RECORD_DECODER.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            insight = insight_record(raw) if isinstance(exc, msgspec.ValidationError) else None
            if insight is None:
                self._reject(result, classify_error(exc, raw), str(exc), raw, index)
                return
            rec = insight
        problem = record_problem(rec)
        if problem is None and not ascii_text and utf8_problem(raw) is not None:
            problem = RejectReason.INVALID_UTF8, "invalid UTF-8 in a field not read"
        if problem is None:
            result.records.append(rec)
        else:
            self._reject(result, *problem, raw, index)
