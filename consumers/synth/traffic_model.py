"""The pure traffic model of ``trailpulse generate``: plan, per-minute counts and ground-truth labels.

``plan_traffic`` draws accounts, regions, the API roster with rate curves, callers and anomalies
from ``numpy.random.Generator``s seeded by ``options.seed``; ``simulate_counts`` turns the plan into
per-(minute, API, error code, actor) call counts for the whole trace at once; ``TrafficPlan.labels``
gives ``labels.json``. The base traffic of a seed is the same with and without anomalies.

>>> plan = plan_traffic(GenerateOptions(days=1.0, api_factor=0.1, warmup_minutes=360, anomalies_per_kind=1))
>>> sorted({a["kind"] for a in plan.labels()["anomalies"]}) == sorted(KINDS)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from consumers.synth.anomalies import ERROR_KINDS, KINDS, Anomaly, place_anomalies
from consumers.synth.api_roster import REGIONS, TIMEZONES, Api, build_apis, rate_curve
from consumers.synth.decoys import Decoy, add_decoys
from consumers.synth.identities import Actor, account_roster, anomaly_actor
from consumers.synth.labels import Labels, build_labels
from consumers.synth.options import GenerateOptions, minute_to_iso
from consumers.synth.tiered import place_tiered

__all__ = ["KINDS", "Cells", "GenerateOptions", "Labels", "TrafficPlan", "plan_traffic", "simulate_counts"]


@dataclass
class TrafficPlan:
    """Everything drawn before counting: roster, expected rates ``lam`` [api, minute], callers, anomalies."""

    options: GenerateOptions
    accounts: list[str]
    utc_offsets: dict[str, int]  # account -> local time offset in minutes (business hours, peaks)
    regions: list[str]
    apis: list[Api]
    lam: np.ndarray
    actors: list[Actor]
    pools: list[tuple[np.ndarray, np.ndarray]]  # per API: actor indices, cumulative weights
    anomalies: list[Anomaly]
    seeds: list[np.random.SeedSequence]
    decoys: list[Decoy]  # the tiered suite's quiet cases, part of the base traffic

    @property
    def start_minute(self) -> int:
        """First minute of the trace (minutes since the epoch)."""
        return self.options.start_minute

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """(account, region) pairs; ``Api.pair`` indexes this list."""
        return [(a, r) for a in self.accounts for r in self.regions]

    def labels(self) -> Labels:
        """The ground truth written as ``labels.json``."""
        return build_labels(self)


def plan_traffic(options: GenerateOptions) -> TrafficPlan:
    """Draw the whole traffic plan (no per-minute counts yet) deterministically from ``options.seed``."""
    options.validate()
    seeds = np.random.SeedSequence(options.seed).spawn(9)  # the first 8 as before decoys had the 9th
    rng = np.random.default_rng(seeds[0])
    accounts = [str(int(x)) for x in rng.integers(10**11, 10**12, options.accounts)]
    regions = list(REGIONS[: options.regions])
    tz = {a: int(rng.choice(TIMEZONES)) for a in accounts}
    created = minute_to_iso(options.start_minute)
    rosters = {}
    actors: list[Actor] = []
    for account in accounts:
        roster = account_roster(account, created, rng)
        rosters[account] = list(range(len(actors), len(actors) + len(roster)))
        actors.extend(roster)
    apis = build_apis(options, accounts, regions, rng)
    pools = [_pool(rosters[api.account], rng) for api in apis]

    rate_rng = np.random.default_rng(seeds[1])
    lam = np.empty((len(apis), options.minutes))
    first_job = next((a.index for a in apis if a.profile == "hourly_job"), -1)
    for api in apis:
        lam[api.index] = rate_curve(
            api, options.start_minute, options.minutes, tz[api.account], rate_rng, api.index == first_job
        )
        api.mean_rate, api.max_rate = float(lam[api.index].mean()), float(lam[api.index].max())

    decoys: list[Decoy] = []
    if options.anomaly_suite == "tiered":
        drng = np.random.default_rng(seeds[8])
        lam, decoys = add_decoys(
            apis,
            lam,
            options.start_minute,
            options.warmup_minutes,
            drng,
            lambda api: pools.append(_pool(rosters[api.account], drng)),
        )
    anomalies: list[Anomaly] = []
    if options.anomalies:
        arng = np.random.default_rng(seeds[2])

        def new_actor(api: Api, kind: str, may_reuse: bool) -> int:
            if may_reuse and arng.random() < 0.4:
                return int(pools[api.index][0][0])
            actors.append(anomaly_actor(api.account, kind, created, arng))
            return len(actors) - 1

        if options.anomaly_suite == "tiered":
            anomalies = place_tiered(
                apis, lam, options.warmup_minutes, options.anomalies_per_kind, arng, new_actor, _spans(decoys)
            )
        else:
            anomalies = place_anomalies(
                apis, lam, options.warmup_minutes, options.anomalies_per_kind, arng, new_actor
            )
    return TrafficPlan(options, accounts, tz, regions, apis, lam, actors, pools, anomalies, seeds, decoys)


def _spans(decoys: list[Decoy]) -> dict[int, list[tuple[int, int]]]:
    """Per API, the decoys' spans: anomalies keep clear of them."""
    spans: dict[int, list[tuple[int, int]]] = {}
    for d in decoys:
        spans.setdefault(d.api, []).append((d.start, d.end))
    return spans


def _pool(roster: list[int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A few of the account's actors with skewed (Zipf-like) popularity, most popular first."""
    k = int(rng.choice(4, p=[0.2, 0.35, 0.3, 0.15])) + 1
    preference = 1.0 / (np.arange(len(roster)) + 2.0)
    chosen = rng.choice(len(roster), size=k, replace=False, p=preference / preference.sum())
    weights = (np.arange(k) + 1.0) ** -float(rng.uniform(1.0, 2.5))
    return np.asarray(roster)[chosen], np.cumsum(weights / weights.sum())


@dataclass
class Cells:
    """Non-zero call counts: one row per (minute, API, error code, actor), sorted by minute.

    ``minute`` is an offset from the trace start, ``code`` indexes ``codes`` (-1: success), ``actor``
    indexes ``TrafficPlan.actors`` (-1: drawn from the API's usual callers).
    """

    minute: np.ndarray
    api: np.ndarray
    code: np.ndarray
    actor: np.ndarray
    count: np.ndarray
    codes: list[str]

    @property
    def total(self) -> int:
        """Number of calls (records before duplication)."""
        return int(self.count.sum())


class _Streams:
    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, int, int, int, np.ndarray]] = []
        self.codes: dict[str, int] = {}

    def add(self, api: int, code: str | None, actor: int | None, counts: np.ndarray, offset: int = 0) -> None:
        nz = np.flatnonzero(counts)
        if nz.size:
            c = -1 if code is None else self.codes.setdefault(code, len(self.codes))
            self.parts.append((nz + offset, api, c, -1 if actor is None else actor, counts[nz]))


def simulate_counts(plan: TrafficPlan) -> Cells:
    """Draw per-minute counts for the whole trace: base traffic, background errors, then anomalies."""
    rng = np.random.default_rng(plan.seeds[3])
    arng = np.random.default_rng(plan.seeds[4])
    streams = _Streams()
    by_api: dict[int, list[Anomaly]] = {}
    for an in plan.anomalies:
        by_api.setdefault(an.api, []).append(an)
    # The classic suite thins a drop's calls before drawing their failures. That makes the draws of
    # every later API depend on the drop (a binomial uses a varying number of random values), so the
    # tiered suite thins after the base draws: its anomaly-free twin shares every base count.
    thin_first = plan.options.anomaly_suite == "classic"
    for api in plan.apis:
        thins = [an for an in by_api.get(api.index, []) if an.mode == "thin"]
        calls = draw_calls(api, plan.lam[api.index], rng)
        if thin_first:
            calls = _thin(calls, thins, arng)
        remaining, failures = split_failures(api, calls, rng)
        if not thin_first:
            remaining = _thin(remaining, thins, arng)
            failures = [(code, _thin(failed, thins, arng)) for code, failed in failures]
        for code, failed in failures:
            streams.add(api.index, code, None, failed)
        for an in by_api.get(api.index, []):
            _anomaly_stream(an, api, plan.lam[api.index], remaining, streams, arng)
        streams.add(api.index, None, None, remaining)
    minute = np.concatenate([p[0] for p in streams.parts])
    order = np.argsort(minute, kind="stable")
    sizes = [p[0].size for p in streams.parts]
    return Cells(
        minute=minute[order].astype(np.int64),
        api=np.repeat([p[1] for p in streams.parts], sizes).astype(np.int32)[order],
        code=np.repeat([p[2] for p in streams.parts], sizes).astype(np.int32)[order],
        actor=np.repeat([p[3] for p in streams.parts], sizes).astype(np.int32)[order],
        count=np.concatenate([p[4] for p in streams.parts])[order].astype(np.int32),
        codes=list(streams.codes),
    )


def _thin(counts: np.ndarray, thins: list[Anomaly], rng: np.random.Generator) -> np.ndarray:
    """Keep each count of a drop's minutes with the probability its magnitude says."""
    for an in thins:
        counts[an.start : an.end] = rng.binomial(counts[an.start : an.end], an.magnitude)
    return counts


def draw_calls(api: Api, lam: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Calls per minute of ``api`` at expected rate ``lam``: Poisson, gamma-mixed or in bursts of 1-3."""
    if api.dispersion > 0:
        lam = lam * rng.gamma(api.dispersion, 1.0 / api.dispersion, lam.size)
    if api.bursty:
        events = rng.poisson(lam / 1.5)
        calls: np.ndarray = events + rng.binomial(events, 0.35) + rng.binomial(events, 0.15)
        return calls
    return rng.poisson(lam)


def split_failures(
    api: Api, calls: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
    """The successful calls and, per background error code, its failures (a share of ``calls`` + steady)."""
    remaining, share_left = calls, 1.0
    failures = []
    for err in api.errors:
        failed: np.ndarray = np.zeros(calls.size, dtype=np.int64)
        if err.fraction > 0:
            failed = rng.binomial(remaining, min(1.0, err.fraction / share_left))
            share_left -= err.fraction
            remaining = remaining - failed
        if err.steady > 0:  # a misconfigured caller: extra failing calls
            failed = failed + rng.poisson(err.steady, calls.size)
        failures.append((err.code, failed))
    return remaining, failures


def _anomaly_stream(
    an: Anomaly, api: Api, lam: np.ndarray, remaining: np.ndarray, streams: _Streams, rng: np.random.Generator
) -> None:
    """Add the calls of one anomaly; ``convert`` takes them from ``remaining`` successes in place."""
    window = lam[an.start : an.end]
    if an.kind in ("spike", "step", "low_rate_rise"):
        extra = rng.poisson((an.magnitude - 1.0) * window)
    elif an.kind == "rare_hammered" or an.kind == "error_new_code":
        extra = rng.poisson(an.rate, window.size)
    elif an.kind == "error_surge":
        spec = next(e for e in api.errors if e.code == an.code)
        extra = rng.poisson(np.maximum(an.rate - (spec.fraction * window + spec.steady), 0.0))
    elif an.kind == "known_code_surge":
        spec = next(e for e in api.errors if e.code == an.code)
        extra = rng.poisson((an.magnitude - 1.0) * (spec.fraction * window + spec.steady))
    else:
        return
    if an.mode == "convert":
        extra = np.minimum(extra, remaining[an.start : an.end])
        remaining[an.start : an.end] -= extra
    code = an.code if an.kind in ERROR_KINDS else None
    streams.add(api.index, code, an.actor, extra, an.start)
