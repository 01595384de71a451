"""The API roster of a synthetic trace and each API's expected calls per minute (its rate curve).

APIs are drawn in tiers, from busy (tens of calls a minute) to sparse (1e-4 a minute), each with a
profile that the detector must treat as normal: steady, diurnal, diurnal with quiet weekends,
business hours in the account's local time, slow growth, an hourly job at a fixed minute (which may
move once), or sparse calls in tiny bursts. Some APIs fail at low steady rates with background error
codes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from consumers.synth.aws_catalog import CATALOG, GLOBAL_SERVICES, HOME_REGION, CatalogApi, plausible_errors
from consumers.synth.options import GenerateOptions

REGIONS = ("us-east-1", "eu-west-1", "us-west-2", "ap-southeast-2")
TIMEZONES = (-300, -480, 0, 60, 120, 330, 540)  # account-local UTC offsets in minutes
MIX = ("steady", "diurnal", "diurnal_weekly", "business_hours", "growth")
_MIX_P = (0.2, 0.25, 0.2, 0.2, 0.15)


@dataclass(frozen=True)
class Tier:
    """A class of APIs: how many (for the default 6 account/regions), which kind, what level."""

    name: str
    count: float
    read_only: bool
    heats: tuple[str, ...]
    level: tuple[float, float]  # log-uniform range; calls per run for hourly jobs
    profiles: tuple[str, ...]
    scalable: bool = False


TIERS = (
    Tier("busy_steady_write", 1, False, ("hot",), (22, 32), ("steady",), True),
    Tier("busy_bh_write", 2, False, ("hot",), (25, 55), ("business_hours",), True),
    Tier("busy_read", 1, True, ("hot",), (35, 90), ("business_hours",), True),
    Tier("medium_write", 9, False, ("hot", "warm"), (0.3, 2.5), MIX, True),
    Tier("medium_read", 7, True, ("hot", "warm"), (0.3, 2.5), MIX, True),
    Tier("low_write", 25, False, ("warm",), (0.01, 0.3), MIX),
    Tier("low_read", 30, True, ("warm", "hot"), (0.01, 0.3), MIX),
    Tier("hourly_write", 4, False, ("warm",), (3, 60), ("hourly_job",)),
    Tier("hourly_read", 5, True, ("warm", "hot"), (5, 200), ("hourly_job",)),
    Tier("sparse_write", 70, False, ("cold", "warm"), (1e-4, 2e-3), ("sparse",)),
    Tier("sparse_read", 40, True, ("warm", "cold"), (1e-4, 1e-2), ("sparse",)),
)


@dataclass
class ErrorSpec:
    """A background error code: a share of the API's calls, plus optional steady failing calls/min."""

    code: str
    fraction: float
    steady: float = 0.0


@dataclass
class Api:
    """One (account, region, eventSource, eventName) of the trace and how it behaves."""

    index: int
    account: str
    region: str
    pair: int
    spec: CatalogApi
    tier: str
    profile: str
    level: float
    dispersion: float = 0.0  # gamma shape of per-minute over-dispersion; 0 = plain Poisson
    bursty: bool = False  # sparse calls come in bursts of 1-3
    errors: list[ErrorSpec] = field(default_factory=list)
    mean_rate: float = 0.0
    max_rate: float = 0.0
    detail: dict[str, int] = field(default_factory=dict)  # e.g. an hourly job's minute and move

    @property
    def source(self) -> str:
        """The ``eventSource``."""
        return self.spec.source


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _slots(options: GenerateOptions, n_pairs: int) -> list[Tier]:
    factor = options.api_factor * n_pairs / 6.0
    return [tier for tier in TIERS for _ in range(max(1, round(tier.count * factor)))]


def build_apis(
    options: GenerateOptions, accounts: list[str], regions: list[str], rng: np.random.Generator
) -> list[Api]:
    """Draw the API roster: every tier slot gets an unused (account, region, API) of fitting heat."""
    pairs = [(a, r) for a in accounts for r in regions]
    used: set[tuple[int, str, str]] = set()
    apis: list[Api] = []
    for tier in _slots(options, len(pairs)):
        for _ in range(50):
            pair = int(rng.integers(len(pairs)))
            account, region = pairs[pair]
            cands = [
                c
                for c in CATALOG
                if c.read_only == tier.read_only
                and c.heat in tier.heats
                and (c.service not in GLOBAL_SERVICES or region == HOME_REGION)
                and (pair, c.service, c.name) not in used
            ]
            if cands:
                break
        else:
            continue
        spec = cands[int(rng.integers(len(cands)))]
        used.add((pair, spec.service, spec.name))
        profile = tier.profiles[int(rng.integers(len(tier.profiles)))]
        if tier.profiles == MIX:
            profile = MIX[int(rng.choice(len(MIX), p=_MIX_P))]
        level = _log_uniform(rng, *tier.level) * (options.scale if tier.scalable else 1.0)
        api = Api(len(apis), account, region, pair, spec, tier.name, profile, level)
        if tier.name.startswith(("busy", "medium")):
            api.dispersion = float(rng.uniform(10, 60))
        api.bursty = profile == "sparse" and bool(rng.random() < 0.5)
        api.errors = _background_errors(api, rng)
        apis.append(api)
    return apis


def _background_errors(api: Api, rng: np.random.Generator) -> list[ErrorSpec]:
    codes = list(plausible_errors(api.spec.service, api.spec.read_only))
    order = [codes[i] for i in rng.permutation(len(codes))]
    errors: list[ErrorSpec] = []
    sparse = api.profile == "sparse"
    if rng.random() < (0.1 if sparse else 0.55):
        errors.append(
            ErrorSpec(order[0], _log_uniform(rng, 0.01, 0.1) if sparse else _log_uniform(rng, 2e-3, 3e-2))
        )
        if not sparse and rng.random() < 0.2:
            errors.append(ErrorSpec(order[1], _log_uniform(rng, 1e-3, 1e-2)))
    if api.spec.read_only and not sparse and rng.random() < 0.2:
        denied = [
            c for c in order[len(errors) :] if "Denied" in c or "Unauthorized" in c or "Authorization" in c
        ]
        code = denied[0] if denied else order[len(errors)]
        errors.append(ErrorSpec(code, 0.0, _log_uniform(rng, 5e-3, 0.2)))
    return errors


def _slow_noise(n_minutes: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth multiplicative wobble (hourly AR(1) in log space, interpolated per minute)."""
    sigma, phi = float(rng.uniform(0.03, 0.12)), 0.9
    hours = n_minutes // 60 + 2
    shocks = rng.normal(0.0, sigma * math.sqrt(1 - phi * phi), hours)
    z = np.empty(hours)
    z[0] = rng.normal(0.0, sigma)
    for h in range(1, hours):
        z[h] = phi * z[h - 1] + shocks[h]
    per_minute = np.interp(np.arange(n_minutes) / 60.0, np.arange(hours), z)
    out: np.ndarray = np.exp(per_minute - sigma * sigma / 2)
    return out


def rate_curve(
    api: Api, start_minute: int, n_minutes: int, tz: int, rng: np.random.Generator, move_job: bool = False
) -> np.ndarray:
    """Expected calls per minute of ``api`` for each minute of the trace (float64, length n_minutes).

    ``move_job`` forces an hourly job to move to another minute partway through the trace.
    """
    minute = np.arange(start_minute, start_minute + n_minutes, dtype=np.int64)
    local = minute + tz
    hour = (local % 1440) / 60.0
    weekend = ((local // 1440) + 3) % 7 >= 5  # 1970-01-01 was a Thursday; Monday = 0
    peak = rng.uniform(10, 16)
    daily = np.cos(2 * np.pi * (hour - peak) / 24.0)
    p = api.profile
    if p == "steady":
        shape = 1 + rng.uniform(0, 0.1) * daily
    elif p in ("diurnal", "diurnal_weekly"):
        shape = 1 + rng.uniform(0.3, 0.8) * daily
        if p == "diurnal_weekly":
            shape = shape * np.where(weekend, rng.uniform(0.3, 0.7), 1.0)
    elif p == "business_hours":
        floor = rng.uniform(0.03, 0.1)
        day = np.minimum(np.clip((hour - 8) / 1.5, 0, 1), np.clip((19 - hour) / 1.5, 0, 1)) * ~weekend
        shape = floor + (1 - floor) * day
    elif p == "growth":
        shape = (1 + rng.uniform(0.1, 0.4) * daily) * (
            1 + rng.uniform(0.02, 0.06) * (minute - start_minute) / 1440
        )
    elif p == "hourly_job":
        return _hourly_job(api, minute, start_minute, rng, move_job)
    else:  # sparse
        return np.full(n_minutes, api.level)
    rates: np.ndarray = api.level * shape * _slow_noise(n_minutes, rng)
    return rates


def _hourly_job(
    api: Api, minute: np.ndarray, start_minute: int, rng: np.random.Generator, move: bool
) -> np.ndarray:
    """A job that runs every hour at a fixed minute for 1-3 minutes; about a third move once."""
    first, second = (int(x) for x in rng.choice(60, 2, replace=False))
    width = int(rng.integers(1, 4))
    move_at = start_minute + int(rng.integers(minute.size // 3, max(minute.size // 3 + 1, minute.size - 120)))
    api.detail = {"job_minute": first, "job_width": width}
    if move or rng.random() < 0.35:
        api.detail.update(job_moved_to=second, job_moved_at_minute=move_at)
    else:
        move_at = int(minute[-1]) + 1
    offset = np.where(minute < move_at, first, second)
    in_run = (minute - offset) % 60 < width
    rates: np.ndarray = np.where(in_run, api.level / width, 0.0)
    return rates
