"""The tiered anomaly suite (issue 10): every kind placed at a chosen window z, in both tiers.

Each instance first picks its tier, *clear* (target z 8-20) or *edge* (4-6), then an API and a start,
and solves the kind's magnitude (or, for drops, whose depth is drawn, its duration) so that its window
z under the true model (``window_z``) is the target, within the kind's ranges. An instance that cannot
reach its tier there is redrawn; a kind that cannot reach a tier on any API (a busy API's drop is never
an edge case) simply has none there.

Besides the classic kinds it places the cases today's engine misses: ``low_rate_rise`` (x1.5-4 for
30 min-8 h on APIs at 0.2-5 calls/min), ``low_rate_drop`` (to 0 or 2-10 % for 30 min-4 h on APIs at
1-5 calls/min) and ``known_code_surge`` (x3-20 over a code's background on an API that shows it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from consumers.synth.anomalies import GAP_MINUTES, ActorFactory, Anomaly
from consumers.synth.api_roster import Api
from consumers.synth.aws_catalog import plausible_errors
from consumers.synth.window_z import TIERS, VARIANCE_FLOOR, call_variance, failure_mean, failure_variance

TIERED_KINDS = (
    "spike",
    "step",
    "rare_hammered",
    "error_new_code",
    "drop",
    "low_rate_rise",
    "low_rate_drop",
    "known_code_surge",
)


@dataclass(frozen=True)
class KindRange:
    """Where a kind may be placed: duration in minutes and magnitude (multiplier, rate or fraction)."""

    minutes: tuple[int, int]
    magnitude: tuple[float, float]


RANGES = {
    "spike": KindRange((1, 10), (3.0, 20.0)),
    "step": KindRange((30, 180), (2.0, 6.0)),
    "rare_hammered": KindRange((5, 30), (0.1, 60.0)),  # calls per minute
    "error_new_code": KindRange((5, 60), (0.1, 50.0)),  # failures per minute
    "drop": KindRange((20, 90), (0.0, 0.1)),  # remaining fraction
    "low_rate_rise": KindRange((30, 480), (1.5, 4.0)),
    "low_rate_drop": KindRange((30, 240), (0.02, 0.1)),
    "known_code_surge": KindRange((10, 120), (3.0, 20.0)),
}
_RATE_KINDS = ("rare_hammered", "error_new_code")  # magnitude is the rate itself, not a multiplier


class TieredPlacer:
    """Places the tiered suite; ``taken`` starts with the spans kept free for decoys."""

    def __init__(
        self,
        apis: list[Api],
        lam: np.ndarray,
        warmup: int,
        rng: np.random.Generator,
        new_actor: ActorFactory,
        taken: dict[int, list[tuple[int, int]]],
    ) -> None:
        self.apis, self.lam, self.rng, self.new_actor = apis, lam, rng, new_actor
        self.lo, self.hi = warmup, lam.shape[1] - 60
        self.taken = {k: list(v) for k, v in taken.items()}
        self.placed: list[Anomaly] = []

    def place(self, kind: str, tier: str, count: int) -> None:
        """Place up to ``count`` instances of ``kind`` whose window z falls in ``tier``."""
        candidates = [a for a in self.apis if _eligible(kind, a)]
        for _ in range(count if candidates else 0):
            for _attempt in range(300):
                api = candidates[int(self.rng.integers(len(candidates)))]
                anomaly = self._try(kind, api, tier)
                if anomaly is not None:
                    self.taken.setdefault(api.index, []).append((anomaly.start, anomaly.end))
                    self.placed.append(anomaly)
                    break

    def _free(self, api: int, start: int, end: int) -> bool:
        return all(
            not (start < e + GAP_MINUTES and s < end + GAP_MINUTES) for s, e in self.taken.get(api, [])
        )

    def _try(self, kind: str, api: Api, tier: str) -> Anomaly | None:
        spec = RANGES[kind]
        shortest, longest = spec.minutes
        if self.hi - shortest <= self.lo:
            return None
        start = int(self.rng.integers(self.lo, self.hi - shortest))
        longest = min(longest, self.hi - start)
        lam = self.lam[api.index, start : start + longest]
        code = self._code(kind, api)
        if code == "":
            return None
        unit, variance = _unit_and_variance(kind, api, lam, code)
        length, magnitude = self._solve(kind, unit, variance, tier, shortest)
        if length == 0 or not self._free(api.index, start, start + length):
            return None
        level = lam[:length]
        if not _level_fits(kind, level, magnitude):
            return None
        effect = magnitude if kind in _RATE_KINDS else magnitude - 1.0
        per_minute = effect * unit[:length]
        base = {"known_code_surge": unit[:length], "error_new_code": np.zeros_like(level)}.get(kind, level)
        mode = _mode(kind, api)
        if mode == "convert" and level.min() < 2.0 * float(np.max(base + per_minute)):
            return None
        may_reuse = kind not in ("rare_hammered", "error_new_code") or "Throttl" in str(code)
        actor = self.new_actor(api, kind, may_reuse) if mode == "extra" else None
        # a rate kind's ``rate`` is its own calls (the stream draws them from it), as in the classic suite
        rate = float((per_minute if kind in _RATE_KINDS else base + per_minute).mean())
        digits = 4 if kind in ("drop", "low_rate_drop") else 3
        return Anomaly(
            kind,
            api.index,
            start,
            start + length,
            round(magnitude, digits),
            rate,
            float(base.mean()),
            mode,
            code,
            actor,
        )

    def _code(self, kind: str, api: Api) -> str | None:
        """The error code of an error kind ("": none fits), None for call-rate kinds."""
        if kind == "known_code_surge":
            shown = [e for e in api.errors if e.fraction * api.mean_rate + e.steady >= 0.005]
            return shown[int(self.rng.integers(len(shown)))].code if shown else ""
        if kind == "error_new_code":
            seen = {e.code for e in api.errors}
            seen |= {a.code for a in self.placed if a.api == api.index and a.code}
            codes = [c for c in plausible_errors(api.spec.service, api.spec.read_only) if c not in seen]
            return codes[int(self.rng.integers(len(codes)))] if codes else ""
        return None

    def _solve(
        self, kind: str, unit: np.ndarray, variance: np.ndarray, tier: str, shortest: int
    ) -> tuple[int, float]:
        """(duration, magnitude) whose z is a target drawn from ``tier``; (0, 0) if out of range.

        Drops draw their depth and take the duration nearest the target; other kinds try a
        log-uniform duration, then the one where a drawn magnitude lands nearest, and solve the
        magnitude exactly.
        """
        lo, hi = RANGES[kind].magnitude
        target = float(self.rng.uniform(*TIERS[tier]))
        size = np.cumsum(unit)[shortest - 1 :]
        spread = np.sqrt(np.maximum(np.cumsum(variance)[shortest - 1 :], VARIANCE_FLOOR))
        if size.size == 0 or size[-1] <= 0:
            return 0, 0.0
        if kind in ("drop", "low_rate_drop"):
            kept = 0.0 if self.rng.random() < 0.5 else float(self.rng.uniform(lo, hi))
            z = (1.0 - kept) * size / spread
            best = int(np.argmin(np.abs(z - target)))
            reached = z[best] >= 8.0 if tier == "clear" else TIERS[tier][0] <= z[best] <= TIERS[tier][1]
            return (best + shortest, kept) if reached else (0, 0.0)
        offset = 0.0 if kind in _RATE_KINDS else 1.0
        needed = target * spread / np.maximum(size, 1e-12) + offset
        drawn = int(math.exp(self.rng.uniform(0.0, math.log(size.size)))) - 1
        nearest = int(np.argmin(np.abs(needed - self.rng.uniform(lo, hi))))
        for index in (drawn, nearest):
            if lo <= needed[index] <= hi:
                return index + shortest, float(needed[index])
        return 0, 0.0


def _unit_and_variance(
    kind: str, api: Api, lam: np.ndarray, code: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """Per minute: the count one unit of effect changes, and the variance of the count without it."""
    if kind == "rare_hammered":
        return np.ones_like(lam), call_variance(api, lam)
    if kind == "error_new_code":  # the code is new: no count, no variance without the anomaly
        return np.ones_like(lam), np.zeros_like(lam)
    if kind == "known_code_surge":
        spec = next(e for e in api.errors if e.code == code)
        return failure_mean(api, spec, lam), failure_variance(api, spec, lam)
    return lam, call_variance(api, lam)


def _mode(kind: str, api: Api) -> str:
    if kind in ("drop", "low_rate_drop"):
        return "thin"
    if kind in ("error_new_code", "known_code_surge") and not api.spec.read_only:
        return "convert"  # a write API's failures replace successes: its call rate stays as it was
    return "extra"


def _eligible(kind: str, api: Api) -> bool:
    write, regular = not api.spec.read_only, api.profile not in ("hourly_job", "sparse")
    if kind == "rare_hammered":
        return write and api.profile == "sparse" and api.mean_rate <= 2e-3
    if kind in ("error_new_code", "known_code_surge"):
        shows = any(e.fraction * api.mean_rate + e.steady >= 0.005 for e in api.errors)
        return regular and (shows or kind == "error_new_code")
    if kind in ("spike", "step"):
        return write and regular and api.mean_rate >= 0.5
    if kind == "drop":
        return write and regular and api.max_rate > 5.0
    if kind == "low_rate_drop":
        return write and regular and api.max_rate >= 1.0 and api.mean_rate <= 5.0
    return write and regular and 0.1 <= api.mean_rate <= 10.0  # low_rate_rise


def _level_fits(kind: str, level: np.ndarray, magnitude: float) -> bool:
    """Whether the API's expected rate over the window is the level the kind is about."""
    if kind == "step":
        return bool(level.min() >= 0.5 * level.max())
    if kind == "drop":
        return bool(level.min() > 5.0 and level.min() >= 0.6 * level.max())
    if kind == "low_rate_drop":
        return bool(level.min() >= 1.0 and level.mean() <= 5.0)
    if kind == "low_rate_rise":
        return bool(0.2 <= level.mean() <= 5.0)
    return True


def place_tiered(
    apis: list[Api],
    lam: np.ndarray,
    warmup: int,
    per_tier: int | None,
    rng: np.random.Generator,
    new_actor: ActorFactory,
    taken: dict[int, list[tuple[int, int]]],
) -> list[Anomaly]:
    """Place every tiered kind ``per_tier`` times (default 3) in each tier, sorted by start."""
    placer = TieredPlacer(apis, lam, warmup, rng, new_actor, taken)
    for kind in TIERED_KINDS:
        for tier in TIERS:
            placer.place(kind, tier, per_tier if per_tier is not None else 3)
    return sorted(placer.placed, key=lambda a: (a.start, a.api, a.kind))
