"""One topic's measurement: the rounds of (a) and (b) alternating, every (b) judged against the replay.

Speed alone says nothing of a daemon that skips records: each (b), the timed rounds and the profiled
pass alike, prints what it did with the records (:class:`~bench.throughput.outcome.Outcome`) and how
that compares with ``trailpulse replay`` of the same records.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys

from bench.throughput.child import Doc
from bench.throughput.fill import Fill, FillSpec, filled
from bench.throughput.insight_reads import TRAILPULSE, run_replay
from bench.throughput.operated import OPERATED_GOAL, Operated
from bench.throughput.outcome import Comparison, Outcome, compare
from bench.throughput.profile_report import print_breakdown, print_profile
from bench.throughput.report import result_doc, table
from bench.throughput.runs import Run, Setup, run_bare, run_daemon

OPERATIONS = ("scrapes", "scrape_failures", "samples_per_scrape", "alerts_delivered", "insights")


def operated_line(runs: dict[str, list[Run]]) -> dict[str, object]:
    """Prints (c) against (b), best of each; the figures for the JSON summary."""
    b = min(runs["b"], key=lambda r: r.seconds)
    c = min(runs["c"], key=lambda r: r.seconds)
    ratio = c.rate / b.rate
    verdict = "met" if ratio >= OPERATED_GOAL else "NOT met"
    print(
        f"  operated: c {c.rate:,.0f} records/s (every alert sink, dead letters, metrics scraped each"
        f" second, top-20 APIs) vs b {b.rate:,.0f}: c/b ="
        f" {ratio:.2f}; goal c >= {OPERATED_GOAL} b: {verdict}"
    )
    return {
        "c_records_per_s": round(c.rate),
        "c_seconds_per_round": [round(r.seconds, 3) for r in runs["c"]],
        "operated_ratio": round(ratio, 3),
        "operated_goal_met": ratio >= OPERATED_GOAL,
        "c": c.extra,
    }


def judge(run: Run, replay: Outcome) -> Comparison:
    """Prints (b)'s outcome and its comparison with the replay; returns the comparison."""
    assert run.outcome is not None, "a (b) run has an outcome"
    for line in run.outcome.lines():
        print(f"    {line}")
    comparison = compare(run.outcome, replay)
    print(f"  {comparison.line()}")
    return comparison


def rounds(
    setup: Setup, fill: Fill, name: str, repeat: int, replay: Outcome, operated: Operated | None = None
) -> tuple[dict[str, list[Run]], list[Comparison]]:
    """``repeat`` rounds of (a), (b) and, with ``operated``, (c), rotating which goes first; each
    daemon run's comparison with the replay ((b)'s first, then (c)'s)."""
    keys = ("a", "b", "c") if operated is not None else ("a", "b")
    runs: dict[str, list[Run]] = {key: [] for key in keys}
    comparisons: dict[str, list[Comparison]] = {"b": [], "c": []}
    for n in range(repeat):
        for key in keys[n % len(keys) :] + keys[: n % len(keys)]:
            if key == "a":
                runs["a"].append(run_bare(setup, fill))
            else:
                state = setup.workdir / f"state-{name}-{key}-{n}"
                runs[key].append(run_daemon(setup, fill, state, operated=operated if key == "c" else None)[0])
                shutil.rmtree(state, ignore_errors=True)
            last = runs[key][-1]
            print(f"  round {n + 1} {last.name}: {last.seconds:.2f} s, {last.rate:,.0f} records/s")
            if key != "a":
                comparisons[key].append(judge(last, replay))
                if key == "c":
                    print(f"    operations: {json.dumps({k: last.extra[k] for k in OPERATIONS})}")
    return runs, [*comparisons["b"], *comparisons["c"]]


def profiled_pass(
    setup: Setup, fill: Fill, name: str, breakdown: bool, top: int, replay: Outcome
) -> tuple[dict[str, float], Comparison]:
    """One more (b), under cProfile: the breakdown and/or cProfile's table; the areas' seconds."""
    profile = setup.workdir / f"profile-{name}.prof"
    prefix = [sys.executable, "-m", "cProfile", "-o", str(profile), str(TRAILPULSE)]
    state = setup.workdir / f"state-{name}-profile"
    profiled, _ = run_daemon(setup, fill, state, prefix)
    shutil.rmtree(state, ignore_errors=True)
    print("  profiled pass of (b):")
    comparison = judge(profiled, replay)
    areas = print_breakdown(profile, profiled) if breakdown else {}
    if top:
        print_profile(profile, top)
    return areas, comparison


def measure_mix(setup: Setup, spec: FillSpec, name: str, args: argparse.Namespace) -> tuple[Doc, list[str]]:
    """One topic (filled, or an earlier fill reused): the replay, the rounds, the tables; the topic's
    figures for the JSON summary and what fails the check."""
    fill = filled(setup.bootstrap, setup.workdir, setup.data_dir, spec, name)
    replay, seconds = run_replay(fill, setup.workdir, setup.engine_config, setup.timeout_s)
    print(f"  trailpulse replay of {fill.files_dir} ({seconds:.1f} s):")
    for line in replay.lines():
        print(f"    {line}")
    operated = Operated.start(setup.workdir, setup.engine_config) if args.operated else None
    try:
        runs, comparisons = rounds(setup, fill, name, args.repeat, replay, operated)
    finally:
        if operated is not None:
            operated.close()
    a, b = table(fill, runs)
    overhead = operated_line(runs) if operated is not None else {}
    areas: dict[str, float] = {}
    if args.breakdown or args.profile:
        areas, profiled = profiled_pass(setup, fill, name, args.breakdown, args.profile, replay)
        comparisons.append(profiled)
    failures = []
    labels = [f"(b) round {n + 1}" for n in range(len(runs["b"]))]
    labels += [f"(c) round {n + 1}" for n in range(len(runs.get("c", [])))] + ["profiled (b)"]
    for what, comparison in zip((f"{name}, {label}" for label in labels), comparisons, strict=False):
        failures += [f"{what}: {failure}" for failure in comparison.failures(args.max_late_share)]
    doc = {
        **result_doc(fill, runs, a, b, areas),
        "replay": replay.doc(),
        "b_outcomes": [r.outcome.doc() for r in runs["b"] if r.outcome is not None],
        "b_vs_replay": [c.doc() for c in comparisons],
        **overhead,
    }
    return doc, failures
