"""The state ``bench/memory.py`` builds: many realistic keys, random hourly traffic on them, and
checks that the state after the run is what a full week of real traffic leaves behind."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import numpy.typing as npt

from insights.engine import Engine
from insights.keys import ApiKey
from insights.track import Track

HOUR = 60
I64 = npt.NDArray[np.int64]


def make_keys(count: int, with_error: bool) -> list[ApiKey]:
    """Distinct, realistic-looking API keys; each owns its strings, as keys decoded from records do."""
    accounts = [f"{100000000000 + i:012d}" for i in range(8)]
    regions = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]
    keys: list[ApiKey] = []
    for i in range(count):
        service = f"service{i % 400:03d}.amazonaws.com"
        name = f"PutResourceConfiguration{i:06d}"
        account, region = accounts[i % len(accounts)], regions[(i // 8) % len(regions)]
        if with_error:
            keys.append(("Management", account, region, service, name, f"ThrottlingException{i % 7}"))
        else:
            keys.append(("Management", account, region, service, name))
    return keys


def create_keys(track: Track, keys: list[ApiKey], first_minute: int) -> None:
    """Track ``keys``, first seen at ``first_minute`` (before any minute is closed)."""
    for key in keys:
        if track.slot_for(key, first_minute, first_minute, None) < 0:
            raise RuntimeError(f"key table full at {len(track.keys)} keys")


class Traffic:
    """Random observations for a range of key slots: a few per minute per hundred keys, skewed values."""

    def __init__(self, engine: Engine, slots: range, per_minute: int, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.slots = slots
        self.per_minute = per_minute
        intern = engine.strings.intern
        arns = [
            f"arn:aws:sts::123456789012:assumed-role/Role{i}/session-{i * 7919 % 1000}" for i in range(400)
        ]
        agents = [
            f"aws-sdk-go-v2/1.{i}.0 os/linux lang/go#1.22 md/GOOS#linux api/svc#1.{i}" for i in range(250)
        ]
        codes = ["null", "AccessDenied", "ThrottlingException", "ValidationException"]
        pools = [arns, agents, codes]
        self.ids = [np.array([intern(v) for v in pool], dtype=np.int64) for pool in pools]
        # Heavier first values: the null error code dominates, a few roles and agents do most calls.
        self.weights = [self._skew(len(pool)) for pool in pools]
        self.weights[2] = np.array([0.97, 0.01, 0.015, 0.005])

    @staticmethod
    def _skew(n: int) -> npt.NDArray[np.float64]:
        w = 1.0 / np.arange(1, n + 1) ** 0.8
        return np.asarray(w / w.sum(), dtype=np.float64)

    def hour(self, first_minute: int) -> tuple[I64, I64, I64]:
        n = int(self.rng.poisson(self.per_minute * HOUR))
        minutes = first_minute + self.rng.integers(0, HOUR, n)
        slots = self.rng.integers(self.slots.start, self.slots.stop, n)
        values = np.stack(
            [ids[self.rng.choice(len(ids), n, p=w)] for ids, w in zip(self.ids, self.weights, strict=True)],
            axis=1,
        )
        return minutes.astype(np.int64), slots.astype(np.int64), values.astype(np.int64)


def key_table_bytes(tracks: list[Track]) -> int:
    """Python objects behind the key tables: index dicts, key lists, key tuples and their strings."""
    total = 0
    seen: set[int] = set()
    for track in tracks:
        table = track.keys.table
        total += sys.getsizeof(table.index) + sys.getsizeof(table.keys)
        for key in table.keys:
            if key is None:
                continue
            total += sys.getsizeof(key)
            for part in key:
                if id(part) not in seen:
                    seen.add(id(part))
                    total += sys.getsizeof(part)
    return total


def state_check(track: Track) -> dict[str, Any]:
    """Fractions of keys whose state is what a full week of real traffic leaves behind."""
    rows = track.keys.high_water
    baseline = track.baseline.cols
    hour_n = baseline["hour_n"][:rows]
    att_cnt = track.attributions.cols["att_cnt"][:rows]
    return {
        "ring_all_hours_counted": float(np.mean((hour_n == HOUR).all(axis=1))),
        "baseline_minutes_is_window": float(np.mean(baseline["tot_n"][:rows] == track.config.window_minutes)),
        # Mean sketch slots in use per attribute (of attribution_slots), previous and current epoch.
        "sketch_slots_used_prev": [
            round(float(x), 2) for x in (att_cnt[:, :, 0, :] > 0).sum(axis=2).mean(axis=0)
        ],
        "sketch_slots_used_cur": [
            round(float(x), 2) for x in (att_cnt[:, :, 1, :] > 0).sum(axis=2).mean(axis=0)
        ],
        "ref_up_positive": float(np.mean(baseline["ref_up"][:rows] > 0)),
        "live": float(np.mean(track.keys.live(slice(0, rows)))),
        "open_insights": float(np.count_nonzero(track.lifecycle.is_open(slice(0, rows)))),
    }
