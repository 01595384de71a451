"""What ``bench/kafka_throughput.py`` prints: a table per topic, and the figures of its JSON summary."""

from __future__ import annotations

from bench.throughput.child import Doc
from bench.throughput.fill import Fill
from bench.throughput.runs import Run

GOAL_RATIO = 0.8  # the acceptance: b >= 0.8 * a


def table(fill: Fill, runs: dict[str, list[Run]]) -> tuple[Run, Run]:
    """Prints the rounds of (a) and (b) and the best of each; returns those two."""
    mix = " ".join(f"{k}={v:,}" for k, v in sorted(fill.messages.items()))
    parts = ", ".join(f"{tp.rsplit(':', 1)[1]}: {o:,}" for tp, o in sorted(fill.ends.items()))
    disk = "" if fill.disk_bytes is None else f", {fill.disk_bytes / 1e6:,.1f} MB of log segments"
    print(
        f"\n{fill.topic}: {fill.records:,} records in {fill.total_messages:,} messages ({mix});"
        f" partitions {{{parts}}}; {fill.value_bytes / 1e6:,.1f} MB of values{disk};"
        f" filled in {fill.seconds:.1f} s ({fill.records / fill.seconds:,.0f} records/s,"
        f" generation included)"
    )
    print(
        f"  {'round':<7}{'run':<19}{'spawn→done s':>13}{'records/s':>11}{'started→done s':>16}"
        f"{'records/s':>11}{'cpu s':>8}{'broker cpu s':>14}  notes"
    )
    for n in range(len(runs["a"])):
        for key in ("a", "b"):
            r = runs[key][n]
            notes = ""
            broker = "" if r.extra.get("broker_cpu_s") is None else f"{r.extra['broker_cpu_s']:.2f}"
            if r.raw_seconds is not None:
                notes = (
                    f"start-up {r.extra['startup_s']:.2f} s; SIGTERM at caught_up -> final checkpoint"
                    f" {r.extra['final_checkpoint_s']:.2f} s; to it from spawn {r.raw_seconds:.2f} s"
                )
            print(
                f"  {n + 1:<7}{r.name:<19}{r.seconds:13.2f}{r.rate:11,.0f}{r.loop_seconds:16.2f}"
                f"{r.loop_rate:11,.0f}{r.cpu_seconds:8.2f}{broker:>14}  {notes}"
            )
    a = min(runs["a"], key=lambda r: r.seconds)
    b = min(runs["b"], key=lambda r: r.seconds)
    ratio, loop_ratio = b.rate / a.rate, b.loop_rate / a.loop_rate
    print(
        f"  best: a {a.rate:,.0f} records/s, b {b.rate:,.0f} records/s: b/a = {ratio:.2f}"
        f" (from started: a {a.loop_rate:,.0f}, b {b.loop_rate:,.0f}, b/a = {loop_ratio:.2f});"
        f" goal b >= {GOAL_RATIO} a: {'met' if ratio >= GOAL_RATIO else 'NOT met'}"
    )
    strict = max(r.records / (r.raw_seconds or r.seconds) for r in runs["b"])
    print(
        f"  b to its final checkpoint line (idle polls and SIGTERM wait included): {strict:,.0f} records/s,"
        f" b/a = {strict / a.rate:.2f}"
    )
    return a, b


def result_doc(fill: Fill, runs: dict[str, list[Run]], a: Run, b: Run, breakdown: dict[str, float]) -> Doc:
    """The figures of one topic for the JSON summary (``a``, ``b``: the best round of each)."""
    ratio = b.rate / a.rate
    strict = max(b.records / (r.raw_seconds or r.seconds) for r in runs["b"])
    return {
        "topic": fill.topic,
        "records": fill.records,
        "messages": fill.messages,
        "partitions": fill.ends,
        "value_bytes": fill.value_bytes,
        "disk_bytes": fill.disk_bytes,
        "fill_seconds": round(fill.seconds, 3),
        "a_records_per_s": round(a.rate),
        "b_records_per_s": round(b.rate),
        "ratio": round(ratio, 3),
        "goal_met": ratio >= GOAL_RATIO,
        "a_from_started_records_per_s": round(a.loop_rate),
        "b_from_started_records_per_s": round(b.loop_rate),
        "ratio_from_started": round(b.loop_rate / a.loop_rate, 3),
        "b_to_final_checkpoint_records_per_s": round(strict),
        "ratio_to_final_checkpoint": round(strict / a.rate, 3),
        "a_seconds_per_round": [round(r.seconds, 3) for r in runs["a"]],
        "b_seconds_per_round": [round(r.seconds, 3) for r in runs["b"]],
        "a_cpu_seconds": round(a.cpu_seconds, 3),
        "b_cpu_seconds": round(b.cpu_seconds, 3),
        "a": a.extra,
        "b": b.extra,
        "breakdown_seconds": breakdown,
    }
