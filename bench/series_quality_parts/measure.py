"""Figures of one scorer over labelled series: window ROC-AUC and PR-AUC, and event-level counts.

*Windows.* Each labelled anomaly is a positive window; the unlabelled evaluated time (from
``EVAL_DAY``, leaving out an hour after each anomaly, where a scorer may rightly still be raised) is
cut into negative windows as long as the series' median anomaly. A window's score is the highest row
score in it. ROC-AUC is the Mann-Whitney statistic (ties count half); PR-AUC is average precision.

*Events.* An insight is a run of rows flagged ``insight`` (for the negative-binomial baseline, rows at
or above its threshold, runs less than three rows apart merged). An anomaly is found when an
insight overlaps it or the hour after it; an insight overlapping no anomaly (nor its hour after) is
false, counted per series-day of evaluated time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import stats

from bench.series_quality_parts.synth import EVAL_DAY, Labelled

F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
MERGE = 3


@dataclass
class Tally:
    """One scorer's windows and events, pooled over series of one kind."""

    positives: list[float] = field(default_factory=list)
    negatives: list[float] = field(default_factory=list)
    labels: int = 0
    found: int = 0
    insights: int = 0
    false: int = 0
    days: float = 0.0

    def add(self, series: Labelled, score: F64, insight: Bool) -> None:
        per_day, lo = series.per_day, EVAL_DAY * series.per_day
        hour = max(per_day // 24, 1)
        negative = np.zeros(len(score), bool)
        negative[lo:] = True
        covered = np.zeros(len(score), bool)  # an anomaly and the hour after it
        for start, end, _ in series.labels:
            self.positives.append(float(score[start:end].max()))
            negative[start : end + hour] = False
            covered[start : end + hour] = True
        length = int(np.median([end - start for start, end, _ in series.labels]))
        for run_start, run_end in runs(negative):
            for first in range(run_start, run_end - length // 2, length):
                self.negatives.append(float(score[first : min(first + length, run_end)].max()))
        events = [(a, b) for a, b in runs(insight) if b > lo]
        self.insights += len(events)
        self.false += sum(not covered[a:b].any() for a, b in events)
        flagged = np.zeros(len(score), bool)
        for a, b in events:
            flagged[a:b] = True
        self.found += sum(flagged[start : end + hour].any() for start, end, _ in series.labels)
        self.labels += len(series.labels)
        self.days += (len(score) - lo) / per_day

    def figures(self) -> dict[str, float]:
        return {
            "roc_auc": roc_auc(np.array(self.positives), np.array(self.negatives)),
            "pr_auc": average_precision(np.array(self.positives), np.array(self.negatives)),
            "found": float(self.found),
            "labels": float(self.labels),
            "insights": float(self.insights),
            "false_per_day": self.false / max(self.days, 1e-9),
        }


def runs(flags: Bool, merge: int = 1) -> list[tuple[int, int]]:
    """``[start, end)`` of the runs of true in ``flags``; runs less than ``merge`` rows apart join."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(np.int8), [0]])))
    out: list[tuple[int, int]] = []
    for start, end in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        if out and start - out[-1][1] < merge:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def threshold_insights(score: F64, threshold: float) -> Bool:
    """Rows inside an insight of a plain thresholded score (runs closer than :data:`MERGE` joined)."""
    flagged = np.zeros(len(score), bool)
    for start, end in runs(score >= threshold, MERGE):
        flagged[start:end] = True
    return flagged


def roc_auc(pos: F64, neg: F64) -> float:
    ranks = stats.rankdata(np.concatenate([pos, neg]))
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def average_precision(pos: F64, neg: F64) -> float:
    """Precision averaged over the positives, tied scores taken as one threshold."""
    scores = np.concatenate([pos, neg])
    truth = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    levels = np.unique(scores)[::-1]
    ap, tp, seen = 0.0, 0.0, 0.0
    for level in levels:
        at = scores == level
        new_tp = float(truth[at].sum())
        tp += new_tp
        seen += float(at.sum())
        ap += new_tp / len(pos) * tp / seen
    return ap
