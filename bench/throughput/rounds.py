"""One topic's measurement: the rounds of (a) and (b) alternating, every (b) judged against the replay.

Speed alone says nothing of a daemon that skips records: each (b), the timed rounds and the profiled
pass alike, prints what it did with the records (:class:`~bench.throughput.outcome.Outcome`) and how
that compares with ``trailpulse replay`` of the same records.
"""

from __future__ import annotations

import argparse
import shutil
import sys

from bench.throughput.child import Doc
from bench.throughput.fill import Fill, FillSpec, filled
from bench.throughput.insight_reads import TRAILPULSE, run_replay
from bench.throughput.outcome import Comparison, Outcome, compare
from bench.throughput.profile_report import print_breakdown, print_profile
from bench.throughput.report import result_doc, table
from bench.throughput.runs import Run, Setup, run_bare, run_daemon


def judge(run: Run, replay: Outcome) -> Comparison:
    """Prints (b)'s outcome and its comparison with the replay; returns the comparison."""
    assert run.outcome is not None, "a (b) run has an outcome"
    for line in run.outcome.lines():
        print(f"    {line}")
    comparison = compare(run.outcome, replay)
    print(f"  {comparison.line()}")
    return comparison


def rounds(
    setup: Setup, fill: Fill, name: str, repeat: int, replay: Outcome
) -> tuple[dict[str, list[Run]], list[Comparison]]:
    """``repeat`` rounds of (a) and (b), alternating which goes first; each (b)'s comparison."""
    runs: dict[str, list[Run]] = {"a": [], "b": []}
    comparisons = []
    for n in range(repeat):
        order = ("a", "b") if n % 2 == 0 else ("b", "a")
        for key in order:
            if key == "a":
                runs["a"].append(run_bare(setup, fill))
            else:
                state = setup.workdir / f"state-{name}-{n}"
                runs["b"].append(run_daemon(setup, fill, state)[0])
                shutil.rmtree(state, ignore_errors=True)
            last = runs[key][-1]
            print(f"  round {n + 1} {last.name}: {last.seconds:.2f} s, {last.rate:,.0f} records/s")
            if key == "b":
                comparisons.append(judge(last, replay))
    return runs, comparisons


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
    runs, comparisons = rounds(setup, fill, name, args.repeat, replay)
    a, b = table(fill, runs)
    areas: dict[str, float] = {}
    if args.breakdown or args.profile:
        areas, profiled = profiled_pass(setup, fill, name, args.breakdown, args.profile, replay)
        comparisons.append(profiled)
    failures = []
    for n, comparison in enumerate(comparisons):
        what = f"{name}, (b) round {n + 1}" if n < len(runs["b"]) else f"{name}, profiled (b)"
        failures += [f"{what}: {failure}" for failure in comparison.failures(args.max_late_share)]
    doc = {
        **result_doc(fill, runs, a, b, areas),
        "replay": replay.doc(),
        "b_outcomes": [r.outcome.doc() for r in runs["b"] if r.outcome is not None],
        "b_vs_replay": [c.doc() for c in comparisons],
    }
    return doc, failures
