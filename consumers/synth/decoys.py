"""Quiet decoys of the tiered suite: normal traffic that looks new, and must not raise an insight.

Decoys are part of the base traffic (they change ``lam`` and add APIs before any anomaly is placed,
from their own random stream), so a trace and its anomaly-free twin hold the same ones. Each names
the span of minutes where a detector might be fooled, which anomalies keep clear of:

* ``dst_shift``: an account's business-hours APIs move by +-1 h in UTC from a day after warm-up on;
* ``trend``: a few APIs grow to x2 (or fall to x0.5) linearly over the trace;
* ``hourly_job_moves``: an hourly job's minute of the hour changes (the roster's own moves, labelled);
* ``weekly_job``: a new job runs once a week, first in warm-up, again seven days later (skipped when
  the trace is too short for the second run);
* ``new_key_trickle``: an API first called after warm-up, at a steady 0.05-0.5 calls a minute.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from consumers.synth.api_roster import Api
from consumers.synth.aws_catalog import CATALOG, GLOBAL_SERVICES, HOME_REGION, CatalogApi

WEEK = 7 * 1440
DECOY_KINDS = ("dst_shift", "trend", "hourly_job_moves", "weekly_job", "new_key_trickle")


@dataclass
class Decoy:
    """One decoy on one API; ``start``/``end`` (exclusive) are offsets from the trace start."""

    kind: str
    api: int
    start: int
    end: int
    detail: dict[str, float] = field(default_factory=dict)


NewPool = Callable[[Api], None]  # draws the usual callers of an API added to the roster


def add_decoys(
    apis: list[Api],
    lam: np.ndarray,
    start_minute: int,
    warmup: int,
    rng: np.random.Generator,
    new_pool: NewPool,
) -> tuple[np.ndarray, list[Decoy]]:
    """Alter ``lam`` (and extend ``apis``) with the decoys; returns the new rates and the decoys."""
    n = lam.shape[1]
    decoys = _dst_shift(apis, lam, warmup, rng) + _trends(apis, lam, warmup, rng)
    decoys += [
        Decoy("hourly_job_moves", a.index, a.detail["job_moved_at_minute"] - start_minute, n, {})
        for a in apis
        if a.detail.get("job_moved_at_minute", -1) - start_minute >= warmup
    ]
    rows = [lam]
    first = int(rng.integers(60, max(61, min(warmup, n - WEEK - 120) - 60)))
    if first + WEEK + 60 <= n - 60:
        width, calls = int(rng.integers(5, 31)), math.exp(rng.uniform(math.log(30), math.log(300)))
        api = _new_api(apis, rng, "weekly_job", calls)
        row = np.zeros(n)
        for run in (first, first + WEEK):
            row[run : run + width] = calls / width
        rows.append(row[None, :])
        decoys.append(Decoy("weekly_job", api.index, first + WEEK, first + WEEK + width, {"calls": calls}))
        new_pool(api)
    for _ in range(int(rng.integers(1, 3))):
        begin = int(rng.integers(warmup, max(warmup + 1, n - 1440)))
        rate = math.exp(rng.uniform(math.log(0.05), math.log(0.5)))
        api = _new_api(apis, rng, "new_key_trickle", rate)
        row = np.where(np.arange(n) >= begin, rate, 0.0)
        rows.append(row[None, :])
        decoys.append(Decoy("new_key_trickle", api.index, begin, n, {"rate": rate}))
        new_pool(api)
    out = np.concatenate(rows)
    for api in apis:
        api.mean_rate, api.max_rate = float(out[api.index].mean()), float(out[api.index].max())
    return out, decoys


def _dst_shift(apis: list[Api], lam: np.ndarray, warmup: int, rng: np.random.Generator) -> list[Decoy]:
    """One account's business-hours APIs move by an hour in UTC from a midnight after warm-up on."""
    n = lam.shape[1]
    accounts = sorted({a.account for a in apis if a.profile == "business_hours"})
    first_day, last_day = warmup // 1440 + 1, n // 1440 - 1
    if not accounts or first_day > last_day:
        return []
    account = accounts[int(rng.integers(len(accounts)))]
    at = int(rng.integers(first_day, last_day + 1)) * 1440
    shift = 60 if rng.random() < 0.5 else -60
    decoys = []
    for api in apis:
        if api.account == account and api.profile == "business_hours":
            source = np.arange(at, n) - shift  # the schedule's clock reads ``shift`` minutes behind
            source[source >= n] -= 1440
            lam[api.index, at:] = lam[api.index, source]
            decoys.append(Decoy("dst_shift", api.index, at, n, {"shift_minutes": shift}))
    return decoys


def _trends(apis: list[Api], lam: np.ndarray, warmup: int, rng: np.random.Generator) -> list[Decoy]:
    """Two or three steady-ish write APIs grow to x2 or fall to x0.5, linearly over the trace."""
    n = lam.shape[1]
    shapes = ("steady", "diurnal", "diurnal_weekly")
    pool = [a for a in apis if not a.spec.read_only and a.profile in shapes and a.mean_rate >= 0.2]
    count = min(len(pool), int(rng.integers(2, 4)))
    chosen = [int(i) for i in rng.choice(len(pool), size=count, replace=False)] if pool else []
    decoys = []
    for i in chosen:
        api = pool[i]  # not business hours, so never one a dst_shift moved
        factor = 2.0 if rng.random() < 0.5 else 0.5
        lam[api.index] *= 1.0 + (factor - 1.0) * np.arange(n) / max(n - 1, 1)
        decoys.append(Decoy("trend", api.index, warmup, n, {"factor": factor}))
    return decoys


def _new_api(apis: list[Api], rng: np.random.Generator, profile: str, level: float) -> Api:
    """A write API not yet in the roster, in a random account-region, appended to ``apis``."""
    pairs = sorted({(a.pair, a.account, a.region) for a in apis})
    pair, account, region = pairs[int(rng.integers(len(pairs)))]
    used = {(a.pair, a.spec.service, a.spec.name) for a in apis}
    cands: list[CatalogApi] = [
        c
        for c in CATALOG
        if not c.read_only
        and c.heat == "warm"
        and (c.service not in GLOBAL_SERVICES or region == HOME_REGION)
        and (pair, c.service, c.name) not in used
    ]
    spec = cands[int(rng.integers(len(cands)))]
    api = Api(len(apis), account, region, pair, spec, "decoy", profile, level)
    apis.append(api)
    return api
