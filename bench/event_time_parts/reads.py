"""The four reads of the records (each delivery through ``replay`` and through ``run``), their table
and what fails the acceptance.

``replay`` reads a delivery's files with ``--leave-open`` (what the caught-up daemon emits for the
same records); ``run`` reads its topic from the start with a fresh group, state directory and output
topic, until its ``caught_up`` line names the end offsets, then SIGTERM and its final checkpoint
(the Kafka bench's :func:`~bench.throughput.runs.run_daemon`, the same engine settings).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass

from bench.event_time_parts.compare import InsightComparison
from bench.event_time_parts.trace import Delivered
from bench.throughput.insight_reads import run_replay
from bench.throughput.outcome import Outcome
from bench.throughput.runs import Setup, run_daemon


@dataclass(frozen=True)
class Read:
    """One read: which delivery, how (``replay`` or ``run``), what it did, and its wall seconds; or,
    for a run that never reached the end offsets, why (``error``; its outcome then is empty)."""

    delivery: str
    how: str
    outcome: Outcome
    seconds: float
    error: str | None = None

    @property
    def name(self) -> str:
        return f"{self.delivery} {self.how}"


def read_both_ways(setup: Setup, delivered: Delivered) -> list[Read]:
    """The delivery's files through ``trailpulse replay``, then its topic through ``trailpulse run``."""
    fill = delivered.fill
    replayed, replay_s = run_replay(fill, setup.workdir, setup.engine_config, setup.timeout_s)
    state = setup.workdir / f"state-{delivered.name}"
    began = time.perf_counter()
    try:
        run, _ = run_daemon(setup, fill, state)
    except (TimeoutError, RuntimeError) as exc:  # a stalled daemon is a finding, not a crash
        error = str(exc).splitlines()[0].removesuffix("; output:")
        ran = Read(delivered.name, "run", Outcome("run", 0, {}, {}), time.perf_counter() - began, error)
    else:
        assert run.outcome is not None, "run_daemon reads the output topic back"
        seconds = run.raw_seconds if run.raw_seconds is not None else run.seconds
        ran = Read(delivered.name, "run", run.outcome, seconds)
    shutil.rmtree(state, ignore_errors=True)
    return [Read(delivered.name, "replay", replayed, replay_s), ran]


def print_table(reads: list[Read]) -> None:
    """Records, skips by reason, rejects and insights of each read."""
    print(
        f"\n{'read':<18}{'records':>11}{'late':>8}{'late %':>9}{'dup':>7}{'other skips':>13}"
        f"{'rejected':>10}{'Start':>7}{'End':>6}{'seconds':>9}"
    )
    for r in reads:
        o = r.outcome
        if r.error:
            print(f"{r.name:<18} did not finish ({r.seconds:.0f} s): {r.error}")
            continue
        other = sum(v for k, v in o.skipped.items() if k not in ("late", "duplicate"))
        print(
            f"{r.name:<18}{o.records:>11,}{o.skipped.get('late', 0):>8,}{100 * o.late_share:>8.3f}%"
            f"{o.skipped.get('duplicate', 0):>7,}{other:>13,}{sum(o.rejected.values()):>10,}"
            f"{o.states['Start']:>7,}{o.states['End']:>6,}{r.seconds:>9.1f}"
        )
        for line in o.lines()[2:]:  # the process's own counts disagreeing with the events read back
            print(f"  {line.strip()}")
    print("(run seconds: from the daemon's spawn to its final checkpoint, the last empty poll included)")


def failures(reads: list[Read], insights: InsightComparison, max_late_share: float) -> list[str]:
    """What breaks the acceptance: a read skipping too many records as late, other insights, or none
    at all (a comparison of nothing would pass)."""
    failed = [f"{r.name}: {r.error}" for r in reads if r.error]
    failed += [
        f"{r.name}: late share {100 * r.outcome.late_share:.3f} % > {100 * max_late_share:.3f} %"
        for r in reads
        if r.outcome.late_share > max_late_share
    ]
    if not insights.same_event_ids:
        failed += [
            f"{source}: {len(insights.missing(source)):,} eventIDs of other reads missing"
            for source in insights.sources
            if insights.missing(source)
        ]
    if not insights.union:
        failed.append("no Insight event in any read: nothing was compared (give more --days)")
    return failed
