"""Decoding polls in worker processes gives what decoding them inline gives, in poll order."""

from __future__ import annotations

import gzip
import os
import signal
import time
import tracemalloc
from pathlib import Path

import msgspec
import numpy as np
import pytest

from consumers.runtime.decode_pool import Decoded, DecodeError, DecodePool, decode_messages
from insights.decode import DecodeLimits, Envelope
from tests.builders import START, record
from tests.processes import alive, decode_workers, wait_until

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "cloudtrail-sample"


def polls() -> list[list[bytes]]:
    """Four polls: raw records, an S3 body (gzipped), junk, a record from the future."""
    raw = [msgspec.json.encode(record(START + i, second=i)) for i in range(30)]
    body = gzip.compress(msgspec.json.encode({"Records": [record(START + 40 + i) for i in range(50)]}))
    return [
        raw[:10],
        [*raw[10:], body],
        [b"\x00junk", b'{"Records": 5}', raw[0]],
        [msgspec.json.encode(record(START + 999))],
    ]


def summary(decoded: Decoded) -> tuple[object, ...]:
    batch = decoded.batch
    columns = {name: np.asarray(column).tolist() for name, column in sorted(batch.columns.items())}
    rejects = [(r.index, r.reason, r.raw) for r in decoded.rejects]
    return (
        decoded.messages,
        batch.records,
        dict(batch.skipped),
        sorted(batch.context.items()),
        columns,
        rejects,
    )


def run(workers: int, values_by_poll: list[list[bytes]]) -> list[tuple[object, ...]]:
    pool = DecodePool(workers, data_events=False)
    try:
        for values in values_by_poll:
            pool.submit(values, latest_minute=START + 100)
        out = []
        while (decoded := pool.take(block=True)) is not None:
            out.append(summary(decoded))
        return out
    finally:
        pool.close()


def test_workers_decode_like_the_main_process_in_poll_order() -> None:
    values_by_poll = polls()
    inline, pooled = run(0, values_by_poll), run(1, values_by_poll)
    assert pooled == inline
    assert [s[0] for s in inline] == [10, 21, 3, 1]  # messages per poll
    assert [s[1] for s in inline] == [10, 70, 1, 1]  # records decoded (the future one then skipped)
    assert [(index, raw) for index, _, raw in inline[2][5]] == [(0, b"\x00junk"), (1, b'{"Records": 5}')]
    assert inline[3][2] == {"future": 1}


def test_envelopes_limits_and_where_rejects_were_travel_through_workers() -> None:
    """Replay's use: a value per file, each with its envelope, under larger limits."""
    lines = b"\n".join([msgspec.json.encode(record(START)), b"{oops"])
    body = msgspec.json.encode({"Records": [record(START), {"eventTime": 5}]})
    values = [lines, body, gzip.compress(b" " * 2000)]
    envelopes = [Envelope.JSONL, Envelope.S3, Envelope.AUTO]
    results = []
    for workers in (0, 1):
        pool = DecodePool(workers, data_events=False, limits=DecodeLimits(max_message_bytes=1000))
        try:
            pool.submit(values, None, envelopes)
            decoded = pool.take(block=True)
        finally:
            pool.close()
        assert decoded is not None
        results.append([(r.index, r.reason, r.record, r.line) for r in decoded.rejects])
    assert (
        results[0]
        == results[1]
        == [
            (0, "invalid_json", None, 2),
            (1, "wrong_type", 1, None),
            (2, "too_large", None, None),
        ]
    )


def test_a_large_value_is_decoded_in_memory_near_its_own_size() -> None:
    """Records reach the classifier a part at a time, and gzip is undone in one growing buffer.

    Decoding the whole body at once peaks near 0.85 and 1.9 times its size; real records (the
    sample, repeated) keep the classifier's own columns small, as real traffic does.
    """
    records = []
    for path in sorted(SAMPLE.glob("*.json")):
        records += msgspec.json.decode(path.read_bytes())["Records"]
    body = msgspec.json.encode({"Records": records * 4})
    lines = b"\n".join(msgspec.json.encode(r) for r in records * 4)
    limits = DecodeLimits(max_message_bytes=1 << 30)
    cases = [
        (body, Envelope.AUTO, 0.5),
        (gzip.compress(body), Envelope.AUTO, 1.5),
        (lines, Envelope.JSONL, 0.5),
        (gzip.compress(lines), Envelope.JSONL, 1.5),
    ]
    for value, envelope, most in cases:
        decode_messages([value], None, False, limits, [envelope])  # warm the name caches
        tracemalloc.start()
        try:
            decoded = decode_messages([value], None, False, limits, [envelope])
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert decoded.batch.records == 4 * len(records)
        assert peak < most * len(body), f"peak {peak / len(body):.2f} x the body's size"


def test_workers_outlast_sigterm_and_end_with_close() -> None:
    """SIGTERM (systemd sends it to every process of the service) leaves a worker decoding; only
    closing the pool ends the workers."""
    pool = DecodePool(2, data_events=False)
    try:
        workers = decode_workers(os.getpid())
        assert len(workers) == 2
        for pid in workers:
            os.kill(pid, signal.SIGTERM)
            os.kill(pid, signal.SIGINT)
        values_by_poll = polls()
        for values in values_by_poll:
            pool.submit(values, latest_minute=START + 100)
        taken = [pool.take(block=True) for _ in values_by_poll]
        assert [d.messages for d in taken if d is not None] == [10, 21, 3, 1]
        assert alive(workers) == workers
    finally:
        started = time.monotonic()
        pool.close()
    assert time.monotonic() - started < 2 and not alive(workers)


def test_a_worker_that_died_takes_no_more_polls() -> None:
    pool = DecodePool(1, data_events=False)
    try:
        (worker,) = decode_workers(os.getpid())
        os.kill(worker, signal.SIGKILL)
        assert wait_until(lambda: not alive({worker}), timeout_s=5)
        with pytest.raises(DecodeError, match="a decode worker exited"):
            pool.submit(polls()[0], latest_minute=START + 100)
    finally:
        pool.close()


def test_a_worker_that_died_with_a_poll_fails_that_poll_at_once() -> None:
    pool = DecodePool(1, data_events=False)
    try:
        (worker,) = decode_workers(os.getpid())
        pool.submit([msgspec.json.encode(record(START))] * 20_000, latest_minute=START + 100)
        os.kill(worker, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(DecodeError, match="exited before returning its result"):
            pool.take(block=True)
        assert time.monotonic() - started < 5
    finally:
        pool.close()
