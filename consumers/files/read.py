"""Reading replay's files into the values the decode pool takes: groups of small files, and pieces
of large JSON-lines files.

Most files of a bucket are small (CloudTrail writes one per account and region every ~5 minutes), so
they are read whole and grouped into tasks of about :data:`TASK_BYTES` as read (at most
:data:`FILES_PER_TASK` files): a task costs a trip to a worker and back whatever its size, and a
small account's file holds a dozen records. A file of JSON lines can be of any size (an
export, months concatenated): one over :data:`STREAM_BYTES` on disk is read in pieces of whole
lines, about :data:`PIECE_BYTES` of decompressed text each, so memory stays bounded whatever its size
and no size limit applies to it. Each piece carries the number of lines before it, so a reject still
names its line in the file. A line longer than :data:`PIECE_BYTES` reaches the decoder in fragments
(each rejected, as the line would be: records are far smaller). A ``{"Records": [...]}`` document
is one JSON value and is still read whole, up to the file limit of 4 GiB decompressed.
"""

from __future__ import annotations

import gzip
import os
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from consumers.files.discover import InputError, LogFile
from consumers.files.report import InputReport
from consumers.runtime.decode_pool import Reject
from insights.decode import Envelope, RejectReason
from insights.envelope import GZIP_MAGIC

TASK_BYTES = 1 << 20
FILES_PER_TASK = 1024
STREAM_BYTES = 16 << 20
PIECE_BYTES = 4 << 20
STDIN = "<stdin>"


@dataclass
class Task:
    """Values for one submission to the pool: each one's path, bytes, envelope, and lines before it
    in its file (0 unless it is a piece of a large JSON-lines file); ``files`` counts the files
    begun in it (a large file's later pieces begin none), ``size`` the bytes of its values."""

    paths: list[str] = field(default_factory=list)
    values: list[bytes] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)
    lines_before: list[int] = field(default_factory=list)
    files: int = 0
    size: int = 0

    def add(
        self, path: str, value: bytes, envelope: Envelope, lines_before: int = 0, first: bool = True
    ) -> None:
        self.files += first
        self.size += len(value)
        self.paths.append(path)
        self.values.append(value)
        self.envelopes.append(envelope)
        self.lines_before.append(lines_before)


def read_file(path: str) -> bytes:
    """The file's raw bytes (gzip is detected and opened by the decoder, by magic bytes).

    Read with ``os`` calls to its end: a bucket holds tens of thousands of small files, and a
    buffered file object costs about as much to set up as reading one of them.
    """
    try:
        handle = os.open(path, os.O_RDONLY)
        try:
            chunks = [os.read(handle, os.fstat(handle).st_size + 1)]
            while chunks[-1]:
                chunks.append(os.read(handle, 1 << 20))
        finally:
            os.close(handle)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return chunks[0] if len(chunks) == 2 else b"".join(chunks)


def _pieces(read: Callable[[int], bytes]) -> Iterator[tuple[int, bytes]]:
    """(lines before it, piece) of JSON lines: whole lines, about :data:`PIECE_BYTES` a piece."""
    lines, rest = 0, b""
    while chunk := read(PIECE_BYTES):
        data = rest + chunk
        end = data.rfind(b"\n") + 1 or (len(data) if len(data) >= PIECE_BYTES else 0)
        piece, rest = data[:end], data[end:]
        if piece:
            yield lines, piece
            lines += piece.count(b"\n")
    if rest:
        yield lines, rest


def _streamed(item: LogFile, report: InputReport) -> Iterator[Task]:
    """A large JSON-lines file, a piece per task; a gzip error ends it with a reject (the pieces
    before it are kept)."""
    try:
        with open(item.path, "rb") as raw:
            compressed = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            read = gzip.GzipFile(fileobj=raw).read if compressed else raw.read
            for number, (lines_before, piece) in enumerate(_pieces(read)):
                task = Task()
                task.add(item.path, piece, Envelope.JSONL, lines_before, first=number == 0)
                yield task
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        report.reject(item.path, Reject(0, RejectReason.DECOMPRESS_ERROR.value, f"gzip: {exc}", b""))
    except OSError as exc:
        report.cannot_read(InputError(f"cannot read {item.path}: {exc.strerror or exc}"))


def streamed(item: LogFile) -> bool:
    """Whether ``item`` is JSON lines over :data:`STREAM_BYTES`; gzip by the size its trailer gives
    (that of its last member, modulo 4 GiB) or over a 16th of it on disk (JSON compresses 10-20 times).
    """
    if item.envelope is not Envelope.JSONL:
        return False
    try:
        with open(item.path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if not item.path.endswith(".gz"):
                return size > STREAM_BYTES
            handle.seek(max(size - 4, 0))
            return size > STREAM_BYTES >> 4 or int.from_bytes(handle.read(4), "little") > STREAM_BYTES
    except OSError:
        return False  # read_file reports it


def tasks(files: list[LogFile], stdin: bool, report: InputReport) -> Iterator[Task]:
    """Groups of files read (unreadable ones go to ``report``), large JSON-lines files in pieces."""
    if stdin:
        task = Task()
        task.add(STDIN, sys.stdin.buffer.read(), Envelope.AUTO)
        yield task
    task = Task()
    for item in files:
        if streamed(item):
            if task.paths:  # the files before it go first: replay order is kept
                yield task
                task = Task()
            yield from _streamed(item, report)
            continue
        try:
            task.add(item.path, read_file(item.path), item.envelope)
        except InputError as exc:
            report.cannot_read(exc)
        if len(task.paths) == FILES_PER_TASK or task.size >= TASK_BYTES:
            yield task
            task = Task()
    if task.paths:
        yield task
