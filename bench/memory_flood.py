"""``bench/memory.py --flood``: peak memory per key under a flood of junk API names.

Two child processes each feed the same number of write calls (same times, accounts, regions,
identities) through ``Engine.process`` in file-sized batches: in one the calls spread over
``--flood-names`` distinct junk API names, in the other over ``NORMAL_NAMES`` names. Each child
reports its peak RSS (``VmHWM``) and the keys it tracked; the difference of the peaks divided by
the difference of the keys is what one more key costs at peak, allocator slack and temporaries of
the hour roll included. The children run one after the other, so the figures share the machine's
load; each is a fresh interpreter, so neither sees the other's heap.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np

NORMAL_NAMES = 250
BATCH = 2000
START = "2026-01-05T00:00:00Z"


def records(calls: int, names: int, minutes: int, seed: int) -> list[Any]:
    """``calls`` write calls over ``minutes`` minutes, on ``names`` API names, in time order."""
    from datetime import UTC, datetime, timedelta

    from insights.record import CloudTrailRecord, UserIdentity

    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.integers(0, minutes * 60, calls)).tolist()
    which = rng.integers(0, names, calls).tolist()
    users = rng.integers(0, 50, calls).tolist()
    base = datetime(2026, 1, 5, tzinfo=UTC)
    out = []
    for i, (offset, name, user) in enumerate(zip(offsets, which, users, strict=True)):
        account = f"{100000000000 + user % 4:012d}"
        out.append(
            CloudTrailRecord(
                eventTime=(base + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                eventSource="junk.amazonaws.com",
                eventName=f"PutJunk{name:07d}",
                awsRegion="us-east-1",
                eventID=f"{seed:04d}-{i:012d}",
                recipientAccountId=account,
                userIdentity=UserIdentity(arn=f"arn:aws:iam::{account}:user/u{user}", accountId=account),
                readOnly=False,
                userAgent="aws-cli/2.15.0",
            )
        )
    return out


def child(calls: int, names: int, minutes: int, seed: int) -> None:
    """Run one case and print its figures as JSON (the child-process side)."""
    from memory import rss_bytes

    from insights.engine import Engine

    feed = records(calls, names, minutes, seed)
    engine = Engine()
    before = rss_bytes("VmHWM")
    for first in range(0, len(feed), BATCH):
        engine.process(feed[first : first + BATCH])
    engine.finish()
    print(
        json.dumps(
            {"names": names, "keys": len(engine.track.keys), "hwm": rss_bytes("VmHWM"), "hwm_fed": before}
        )
    )


def run(calls: int, names: int, minutes: int, seed: int) -> dict[str, Any]:
    """Both cases, each in a fresh interpreter; prints and returns the bytes per extra key."""
    cases = []
    for count in (NORMAL_NAMES, names):
        argv = [sys.executable, __file__.replace("memory_flood", "memory"), "--flood-child", str(count)]
        argv += ["--flood-calls", str(calls), "--flood-minutes", str(minutes), "--seed", str(seed)]
        done = subprocess.run(argv, capture_output=True, text=True, check=True)
        cases.append(json.loads(done.stdout.strip().splitlines()[-1]))
    normal, junk = cases
    per_key = (junk["hwm"] - normal["hwm"]) / max(junk["keys"] - normal["keys"], 1)
    for case in cases:
        print(f"{case['names']:>7,} names: {case['keys']:>7,} keys, peak RSS {case['hwm'] / 2**20:7.1f} MiB")
    print(
        f"peak RSS per extra key: {per_key:,.0f} B (goal <= 4096: {'met' if per_key <= 4096 else 'NOT met'})"
    )
    result = {"bench": "memory-flood", "calls": calls, "cases": cases, "bytes_per_key": round(per_key)}
    print(json.dumps(result))
    return result
