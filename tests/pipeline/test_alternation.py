"""Properties of the engine's output on random traffic delivered badly: per key and insight type,
Starts and Ends alternate and pair up; and the records of one arrival order give the same Insight
events however they are split into batches.

Traces are short (a few hours, a 20-minute warm-up) and mix steady calls with spikes, drops, error
bursts, duplicated deliveries, records reordered within the lateness and records late beyond it.
``TRAILPULSE_FUZZ_SCALE=10`` runs ten times the examples (a long local hunt).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insights.config import DetectorParams, EngineConfig
from insights.engine import Engine
from insights.events import insight_event
from insights.record import CloudTrailRecord
from insights.transition import InsightTransition
from tests.builders import HOUR, Api, api, key_of, merge, steady_with, stream

SCALE = int(os.environ.get("TRAILPULSE_FUZZ_SCALE", "1"))
APIS = (
    api("RunInstances"),
    api("AttachRolePolicy", source="iam.amazonaws.com"),
    api("DeleteBucket", source="s3.amazonaws.com", error_code="AccessDenied", read_only=True),
)


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )


@dataclass(frozen=True)
class Trace:
    """What a random trace is made from (small, so a failing example prints readably); the records
    in arrival order and the engine settings follow from it."""

    seed: int
    lateness: int
    early_starts: bool
    amend_late_records: bool = True
    evidence: bool = False  # the windowed evidence on, at a low threshold so it fires in short traces

    @property
    def config(self) -> EngineConfig:
        return EngineConfig(
            window_minutes=6 * HOUR,
            warmup_minutes=20,
            allowed_lateness_minutes=self.lateness,
            early_starts=self.early_starts,
            amend_late_records=self.amend_late_records,
            detector=DetectorParams(evidence_surprise=3.0 if self.evidence else 0.0),
        )

    @property
    def records(self) -> list[CloudTrailRecord]:
        rng = np.random.default_rng(self.seed)
        minutes = int(rng.integers(80, 150))
        series: dict[Api, npt.NDArray[np.int64]] = {a: _counts(rng, minutes) for a in APIS}
        return _arrival(rng, merge(stream(series)), self.lateness)


def _counts(rng: np.random.Generator, minutes: int) -> npt.NDArray[np.int64]:
    """Steady Poisson calls with a few random changes after the warm-up, each 1-7 minutes long:
    spikes (3-15 times the rate, rising by half of that every minute), rises (2-6 times) and drops
    to nothing."""
    rate = float(rng.uniform(2.0, 8.0))
    changes: dict[tuple[int, int], float | int] = {}
    for _ in range(int(rng.integers(0, 4))):
        first = int(rng.integers(30, minutes - 5))
        kind = int(rng.integers(3))
        level = (0.0, rate * rng.uniform(3, 15), rate * rng.uniform(2, 6))[kind]
        for step, minute in enumerate(range(first, min(first + int(rng.integers(1, 8)), minutes))):
            changes[(minute, minute + 1)] = level * (1 + step / 2) if kind == 1 else level
    return steady_with(rate, minutes, int(rng.integers(1 << 30)), changes)


def _arrival(
    rng: np.random.Generator, by_minute: dict[int, list[CloudTrailRecord]], lateness: int
) -> list[CloudTrailRecord]:
    """Records in minute order, then disturbed: some shifted later within (or beyond) the lateness,
    some delivered twice, neighbours swapped."""
    keyed: list[tuple[float, int, CloudTrailRecord]] = []
    order = 0
    late_share, beyond_share, dup_share = rng.uniform(0, 0.1), rng.uniform(0, 0.02), rng.uniform(0, 0.05)
    for minute in sorted(by_minute):
        for r in by_minute[minute]:
            delay = 0.0
            roll = rng.random()
            if roll < late_share:
                delay = float(rng.uniform(0, lateness + 0.99))
            elif roll < late_share + beyond_share:
                delay = float(rng.uniform(lateness + 1, lateness + 6))
            keyed.append((minute + delay, order, r))
            if rng.random() < dup_share:
                keyed.append((minute + float(rng.uniform(0, lateness + 3)), order, r))
            order += 1
    keyed.sort(key=lambda item: (item[0], item[1]))
    out = [r for _, _, r in keyed]
    for i in rng.integers(0, max(len(out) - 1, 1), size=len(out) // 20).tolist():
        out[i], out[i + 1] = out[i + 1], out[i]
    return out


def traces(early_starts: bool | None = None) -> st.SearchStrategy[Trace]:
    """Random traces, with early Starts as given (on or off at random for None)."""
    early = st.booleans() if early_starts is None else st.just(early_starts)
    return st.builds(
        Trace,
        seed=st.integers(0, 2**32 - 1),
        lateness=st.integers(0, 6),
        early_starts=early,
        evidence=st.booleans(),
    )


@dataclass(frozen=True)
class Batching:
    """Where a record list is cut into batches: every ``step`` records (a poll or a file group
    spanning a few minutes), and at ``extra`` positions (taken modulo the list's length)."""

    step: int
    extra: tuple[int, ...]

    def split(self, records: list[CloudTrailRecord]) -> list[list[CloudTrailRecord]]:
        cuts = {*range(0, len(records), self.step), *(c % (len(records) + 1) for c in self.extra)}
        edges = [*sorted(cuts), len(records)]
        return [records[a:b] for a, b in itertools.pairwise(edges)]


batchings = st.builds(
    Batching, step=st.integers(1, 800), extra=st.lists(st.integers(0, 1 << 20), max_size=20).map(tuple)
)


def _run(
    trace: Trace, batching: Batching, records: list[CloudTrailRecord] | None = None
) -> list[InsightTransition]:
    """Feed the trace's records to a new engine batch by batch, then finish."""
    engine = Engine(trace.config)
    out: list[InsightTransition] = []
    for batch in batching.split(trace.records if records is None else records):
        out.extend(engine.process(batch))
    return out + engine.finish()


def assert_alternation(transitions: list[InsightTransition]) -> None:
    """Per key and type, Start and End alternate, starting with a Start, and each End shares its
    Start's ``sharedEventID``."""
    open_starts: dict[tuple[object, ...], dict[str, object]] = {}
    for t in transitions:
        record, k = insight_event(t), key_of(t)
        if t.state == "Start":
            assert k not in open_starts, f"second Start before an End: {t}"
            open_starts[k] = record
        else:
            assert k in open_starts, f"End without a Start: {t}"
            assert record["sharedEventID"] == open_starts.pop(k)["sharedEventID"], t


@fuzz(15)
@given(trace=traces(), batching=batchings)
def test_starts_and_ends_alternate_per_key(trace: Trace, batching: Batching) -> None:
    assert_alternation(_run(trace, batching))


@fuzz(15)
@given(trace=traces(early_starts=False), batching=batchings, other=batchings)
def test_the_same_arrival_order_gives_the_same_events_however_batched(
    trace: Trace, batching: Batching, other: Batching
) -> None:
    """Early Starts off: with them on, a spike's count "so far" is judged at the end of each batch,
    so where a batch ends can change an early Start's figures. Amending off: these traces deliver
    records beyond the lateness, and where such a record lands in a baseline depends on whether its
    minute had closed when it came (see ``EngineConfig.amend_late_records``)."""
    trace = dataclasses.replace(trace, amend_late_records=False)
    records = trace.records
    first = [insight_event(t) for t in _run(trace, batching, records)]
    assert first == [insight_event(t) for t in _run(trace, other, records)]
