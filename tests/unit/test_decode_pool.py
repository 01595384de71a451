"""Decoding polls in worker processes gives what decoding them inline gives, in poll order."""

from __future__ import annotations

import gzip

import msgspec
import numpy as np

from consumers.runtime.decode_pool import Decoded, DecodePool
from tests.builders import START, record


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
