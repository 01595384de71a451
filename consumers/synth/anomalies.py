"""Placement of the labelled anomalies of a synthetic trace.

Every kind the detector must flag is placed several times, after the warm-up, not in the last hour,
never overlapping another anomaly on the same API (with a gap), and only where it is genuinely
unusual for that API at that time: spikes and steps must clear the API's normal maximum by a wide
margin, drops happen only while the API is normally busy, error codes are new to the API or surge at
least tenfold over its background level.

Each anomaly says how it alters the traffic (``mode``): ``extra`` adds calls by its actor,
``thin`` keeps only a fraction of the API's calls, ``convert`` turns existing successful calls into
failures (so an error anomaly on a write API leaves its call rate unchanged).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from consumers.synth.api_roster import Api, ErrorSpec
from consumers.synth.aws_catalog import plausible_errors

KINDS = ("spike", "step", "rare_hammered", "error_new_code", "error_surge", "drop")
ERROR_KINDS = ("error_new_code", "error_surge", "known_code_surge")  # reported by error-rate insights
DOWN_KINDS = ("drop", "low_rate_drop")
GAP_MINUTES = 240  # minimum quiet time between two anomalies on the same API


@dataclass
class Anomaly:
    """One labelled anomaly; minutes are offsets from the trace start, ``end`` exclusive."""

    kind: str
    api: int
    start: int
    end: int
    magnitude: float
    rate: float  # expected per-minute count of what the insight counts, during the anomaly
    baseline_rate: float  # the same count without the anomaly, averaged over its minutes
    mode: str  # "extra" | "thin" | "convert"
    code: str | None = None
    actor: int | None = None  # index into TrafficPlan.actors; None: the API's usual callers

    @property
    def insight_type(self) -> str:
        """The insight type that should report the anomaly."""
        return "ApiErrorRateInsight" if self.kind in ERROR_KINDS else "ApiCallRateInsight"


ActorFactory = Callable[[Api, str, bool], int]  # (api, kind, may reuse a usual caller) -> actor index


class Placer:
    """Draws anomalies one kind at a time, keeping per-API occupancy."""

    def __init__(
        self, apis: list[Api], lam: np.ndarray, warmup: int, rng: np.random.Generator, new_actor: ActorFactory
    ) -> None:
        self.apis, self.lam, self.rng, self.new_actor = apis, lam, rng, new_actor
        self.lo, self.hi = warmup, lam.shape[1] - 60
        self.taken: dict[int, list[tuple[int, int]]] = {}
        self.codes_used: dict[int, set[str]] = {}
        self.placed: list[Anomaly] = []

    def place(self, kind: str, count: int) -> None:
        """Place ``count`` anomalies of ``kind`` (fewer if the roster has no room for them)."""
        candidates = [a for a in self.apis if self._eligible(kind, a)]
        for _ in range(count if candidates else 0):
            for _attempt in range(400):
                fresh = [a for a in candidates if a.index not in self.taken]
                pool = fresh if fresh and self.rng.random() < 0.8 else candidates
                api = pool[int(self.rng.integers(len(pool)))]
                anomaly = self._try(kind, api)
                if anomaly is not None:
                    self.taken.setdefault(api.index, []).append((anomaly.start, anomaly.end))
                    self.placed.append(anomaly)
                    break

    def _eligible(self, kind: str, api: Api) -> bool:
        write, p = not api.spec.read_only, api.profile
        regular = p not in ("hourly_job", "sparse")
        if kind == "spike":
            return write and regular and api.mean_rate >= 1.0
        if kind == "step":
            return write and regular and api.mean_rate >= 0.5
        if kind == "rare_hammered":
            return write and p == "sparse" and api.mean_rate <= 2e-3
        if kind == "drop":
            return write and regular and api.max_rate >= 20
        if kind == "error_new_code":
            return api.spec.read_only or (regular and api.max_rate >= 10)
        return any(0.01 <= _background(e, api.mean_rate) <= 3 for e in api.errors) and (
            api.spec.read_only or (regular and api.max_rate >= 10)
        )

    def _window(self, api: Api, lo_len: int, hi_len: int) -> tuple[int, int] | None:
        length = int(self.rng.integers(lo_len, hi_len + 1))
        if self.hi - length <= self.lo:
            return None
        start = int(self.rng.integers(self.lo, self.hi - length))
        end = start + length
        for s, e in self.taken.get(api.index, []):
            if start < e + GAP_MINUTES and s < end + GAP_MINUTES:
                return None
        return start, end

    def _try(self, kind: str, api: Api) -> Anomaly | None:
        spans = {"spike": (1, 10), "step": (30, 180), "rare_hammered": (5, 30), "drop": (20, 90)}
        window = self._window(api, *spans.get(kind, (5, 60)))
        if window is None:
            return None
        start, end = window
        level = self.lam[api.index, start:end]
        mean, top = float(level.mean()), api.max_rate
        rng = self.rng
        if kind in ("spike", "step"):
            m = float(rng.uniform(5, 20) if kind == "spike" else rng.uniform(3, 6))
            need = (
                max(2 * top, top + 5 * math.sqrt(top) + 3)
                if kind == "spike"
                else max(1.8 * top, top + 3 * math.sqrt(top) + 2)
            )
            if m * mean < need or (kind == "step" and level.min() < 0.5 * level.max()):
                return None
            actor = self.new_actor(api, kind, True)
            return Anomaly(kind, api.index, start, end, round(m, 3), m * mean, mean, "extra", None, actor)
        if kind == "rare_hammered":
            r = float(rng.uniform(10, 60))
            return Anomaly(
                kind,
                api.index,
                start,
                end,
                round(r, 3),
                r,
                mean,
                "extra",
                None,
                self.new_actor(api, kind, False),
            )
        if kind == "drop":
            if level.min() < max(20.0, 0.6 * top):
                return None
            f = 0.0 if rng.random() < 0.5 else float(rng.uniform(0, 0.1))
            return Anomaly(kind, api.index, start, end, round(f, 4), f * mean, mean, "thin")
        if kind == "error_new_code":
            return self._new_code(api, start, end, level)
        return self._surge(api, start, end, level)

    def _new_code(self, api: Api, start: int, end: int, level: np.ndarray) -> Anomaly | None:
        seen = {e.code for e in api.errors} | self.codes_used.get(api.index, set())
        codes = [c for c in plausible_errors(api.spec.service, api.spec.read_only) if c not in seen]
        if not codes:
            return None
        code = codes[int(self.rng.integers(len(codes)))]
        r = float(self.rng.uniform(5, 50))
        mode = "extra" if api.spec.read_only else "convert"
        if mode == "convert" and level.min() < 2 * r:
            return None
        actor = self.new_actor(api, "error_new_code", "Throttl" in code) if mode == "extra" else None
        self.codes_used.setdefault(api.index, set()).add(code)
        return Anomaly("error_new_code", api.index, start, end, round(r, 3), r, 0.0, mode, code, actor)

    def _surge(self, api: Api, start: int, end: int, level: np.ndarray) -> Anomaly | None:
        specs = [e for e in api.errors if 0.01 <= _background(e, api.mean_rate) <= 3]
        spec = specs[int(self.rng.integers(len(specs)))]
        background = spec.fraction * level + spec.steady
        top = spec.fraction * api.max_rate + spec.steady
        r = max(10 * top, float(self.rng.uniform(5, 30)))
        mode = "extra" if api.spec.read_only else "convert"
        if r > 60 or (mode == "convert" and level.min() < 1.5 * r):
            return None
        usual = _background(spec, api.mean_rate)  # >= 0.01 by eligibility
        actor = self.new_actor(api, "error_surge", True) if mode == "extra" else None
        magnitude = round(r / usual, 2)
        return Anomaly(
            "error_surge",
            api.index,
            start,
            end,
            magnitude,
            r,
            float(background.mean()),
            mode,
            spec.code,
            actor,
        )


def _background(spec: ErrorSpec, calls_per_minute: float) -> float:
    """Mean failing calls per minute of a background error code."""
    return spec.fraction * calls_per_minute + spec.steady


def place_anomalies(
    apis: list[Api],
    lam: np.ndarray,
    warmup: int,
    per_kind: int | None,
    rng: np.random.Generator,
    new_actor: ActorFactory,
) -> list[Anomaly]:
    """Place every anomaly kind ``per_kind`` times (default: 4 to 6 each), sorted by start."""
    placer = Placer(apis, lam, warmup, rng, new_actor)
    for kind in KINDS:
        placer.place(kind, per_kind if per_kind is not None else int(rng.integers(4, 7)))
    return sorted(placer.placed, key=lambda a: (a.start, a.api, a.kind))
