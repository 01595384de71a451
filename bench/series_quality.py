"""Quality of ``trailpulse score-series`` on labelled count series (issue 10, item 6), against a plain
negative-binomial baseline with a weekly profile.

Three kinds of series (``bench/series_quality_parts/synth.py``): bursty heavy-tailed mention counts
per 5 minutes (bursts not labelled; labelled rises and drops), taxi demand per 30 minutes (labelled
holidays) and web requests per 5 minutes (labelled rises and outages). Each series goes through:

* ``old``: ``score-series`` as it was before the windowed evidence (the ``insights`` package at
  ``OLD_COMMIT``, read from git; skipped where git cannot show it);
* ``new``: ``score-series`` today (its default ``--evidence-surprise``, or the one given);
  ``new-week``: the same with ``--season week``;
* ``nb``: the negative binomial per (weekday, time of day), ``-log10`` of the two-sided tail of each
  bucket; ``nb-win``: the same with trailing 1 h and 6 h sums (``bench/series_quality_parts/nb.py``);
  both flag insights at ``NB_THRESHOLD``.

and is measured as ``bench/series_quality_parts/measure.py`` says: window ROC-AUC and PR-AUC, anomalies
found, insights emitted, false insights per series-day. Benches print figures; they are not tests.
Run: ``.venv/bin/python bench/series_quality.py [--series 3] [--seed 0] [--evidence-surprise X]``.
The last line printed is JSON with every figure.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.series_quality_parts.measure import Tally, threshold_insights  # noqa: E402
from bench.series_quality_parts.nb import nb_scores  # noqa: E402
from bench.series_quality_parts.synth import KINDS, Labelled  # noqa: E402
from insights.series import SeriesScorer, series_params  # noqa: E402

OLD_COMMIT = "d2eccf7"
NB_THRESHOLD = 7.0
START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday, as the generators' day 0


def old_scorer(keep: list[tempfile.TemporaryDirectory[str]]) -> type | None:
    """``SeriesScorer`` as of :data:`OLD_COMMIT`, with the whole ``insights`` package of that commit
    (``series.py`` alone would run on today's baseline and detector, so its figures would move with
    every later change), or None when git cannot show it.

    The old package is imported from a ``git archive`` in a temporary directory (appended to ``keep``,
    which must outlive the scorer) under the name ``insights`` while today's modules are set aside, then
    today's are put back: the old classes keep their own module globals.
    """
    archive = subprocess.run(["git", "archive", OLD_COMMIT, "insights"], capture_output=True, cwd=ROOT)
    if archive.returncode:
        return None
    directory = tempfile.TemporaryDirectory(prefix="old-insights-")
    keep.append(directory)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(directory.name, filter="data")
    today = {name: sys.modules.pop(name) for name in list(sys.modules) if _in_insights(name)}
    sys.path.insert(0, directory.name)
    try:
        scorer: type = importlib.import_module("insights.series").SeriesScorer
    finally:
        sys.path.remove(directory.name)
        for name in [name for name in sys.modules if _in_insights(name)]:
            del sys.modules[name]
        sys.modules.update(today)
    return scorer


def _in_insights(module_name: str) -> bool:
    return module_name == "insights" or module_name.startswith("insights.")


def engine_scores(scorer: Any, series: Labelled) -> tuple[np.ndarray, np.ndarray]:
    step = timedelta(minutes=series.step_minutes)
    points = [scorer.score(START + i * step, float(v)) for i, v in enumerate(series.counts)]
    return np.array([p.score for p in points]), np.array([p.insight for p in points])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=3, help="series of each kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--evidence-surprise", type=float, default=None, help="for the new scorer")
    args = parser.parse_args()
    old_packages: list[tempfile.TemporaryDirectory[str]] = []
    old = old_scorer(old_packages)
    params = series_params(args.evidence_surprise)
    results: dict[str, dict[str, dict[str, float]]] = {}
    began = time.perf_counter()
    for kind, make in KINDS.items():
        tallies = {name: Tally() for name in ("old", "new", "new-week", "nb", "nb-win")}
        for i in range(args.series):
            series = make(np.random.default_rng([args.seed, i, len(kind)]))
            if old is not None:
                tallies["old"].add(series, *engine_scores(old(), series))
            tallies["new"].add(series, *engine_scores(SeriesScorer(params), series))
            tallies["new-week"].add(series, *engine_scores(SeriesScorer(params, 7), series))
            single, windowed = nb_scores(series.counts, series.per_day)
            tallies["nb"].add(series, single, threshold_insights(single, NB_THRESHOLD))
            tallies["nb-win"].add(series, windowed, threshold_insights(windowed, NB_THRESHOLD))
        results[kind] = {name: t.figures() for name, t in tallies.items() if t.labels}
        print(f"{kind} ({args.series} series)")
        print(f"  {'scorer':8} {'ROC-AUC':>8} {'PR-AUC':>8} {'found':>9} {'insights':>9} {'false/day':>10}")
        for name, f in results[kind].items():
            print(
                f"  {name:8} {f['roc_auc']:8.3f} {f['pr_auc']:8.3f} {f['found']:4.0f}/{f['labels']:<4.0f}"
                f" {f['insights']:9.0f} {f['false_per_day']:10.3f}"
            )
    print(f"seconds: {time.perf_counter() - began:.0f}")
    print(json.dumps({"evidence_surprise": params.evidence_surprise, "results": results}))


if __name__ == "__main__":
    main()
