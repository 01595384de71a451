"""What one closed minute's judgement says: the minute judged, and what starts and ends in it.

Plain values, apart from the :class:`~insights.lifecycle.Lifecycle` that makes them, so that the step
that judges (the lifecycle) and the steps that act on its judgement (:mod:`insights.track`, the
reasons of :mod:`insights.reason`) share their shape and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from insights.baseline import References

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
UP, DOWN = 1, -1


@dataclass(frozen=True, slots=True)
class MinuteView:
    """One closed minute: counts, references and parameters of the key ``slots`` it judges (sorted;
    every other array is aligned with them)."""

    minute: int
    slots: I64
    counts: F64
    refs: References
    eligible: Bool
    params: dict[str, F64]


@dataclass(frozen=True, slots=True)
class Decisions:
    """Slots that start (with direction and first minute) or end during one minute; ``surprise`` is
    aligned with the judged slots of the :class:`MinuteView`.

    Why each starts, aligned with ``start_slots``: the rule (an index into
    :data:`insights.reason.RULES`), the calls its reference expected over its ``start_n`` minutes
    (``start_sum`` observed), the surprise it reached and the threshold that was.
    """

    start_slots: I64
    start_dirs: I64
    start_first: I64
    start_sum: F64
    start_n: I64
    start_evidence: Bool
    surprise: F64
    end_slots: I64
    end_forced: Bool
    start_rule: I64
    start_expected: F64
    start_surprise: F64
    start_threshold: F64


def no_starts(surprise: F64, ends: I64, forced: Bool) -> Decisions:
    """The decisions of a minute in which nothing starts."""
    none_i, none_f = np.zeros(0, np.int64), np.zeros(0, np.float64)
    return Decisions(
        start_slots=none_i,
        start_dirs=none_i,
        start_first=none_i,
        start_sum=none_f,
        start_n=none_i,
        start_evidence=np.zeros(0, bool),
        surprise=surprise,
        end_slots=ends,
        end_forced=forced,
        start_rule=none_i,
        start_expected=none_f,
        start_surprise=none_f,
        start_threshold=none_f,
    )


def without_starts(d: Decisions, dropped: Bool) -> Decisions:
    """``d`` without the starts ``dropped`` marks (aligned with ``start_slots``)."""
    kept = ~dropped
    return replace(
        d,
        start_slots=d.start_slots[kept],
        start_dirs=d.start_dirs[kept],
        start_first=d.start_first[kept],
        start_sum=d.start_sum[kept],
        start_n=d.start_n[kept],
        start_evidence=d.start_evidence[kept],
        start_rule=d.start_rule[kept],
        start_expected=d.start_expected[kept],
        start_surprise=d.start_surprise[kept],
        start_threshold=d.start_threshold[kept],
    )
