"""One labelled anomaly of a quality-bench trace, minute by minute, as the engine saw it.

The quality bench says *that* an anomaly was missed (``--verbose``) and whether the trace held the
evidence for it (the ceiling); this says *why*: it replays the trace through the engine and, for each
closed minute from ``--before`` minutes before the anomaly to ``--after`` minutes after it, prints its
key's count, whether the key was judged (hot), eligible and seasoned, the references the minute was
judged against (the windowed evidence's rising, steep and falling ones, the single-minute rules'
rising one, the dispersion), and the evidence sums of each side (rise, steep rise, drop) with the
first minute, observed and expected calls of their excursions; and the minutes that started an
insight of the key. Reading it beside the label's ``baseline_rate`` shows whether a miss is the
reference (a key's highest day above its rate of the moment), the threshold, or a gate.

Run: ``.venv/bin/python bench/trace_anomaly.py TRACE_DIR ANOMALY [--set KNOB=VALUE ...]`` where
``TRACE_DIR`` holds a trace and its ``labels.json`` (``bench/quality.py --workdir DIR`` keeps them)
and ``ANOMALY`` is a label's ``id`` (``a018``) or ``eventName@start`` as ``--verbose`` prints it
(``DeleteLogStream@2026-01-11T02:50:00Z``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.quality import detector_params  # noqa: E402
from consumers.files.discover import discover  # noqa: E402
from consumers.files.replay import replay  # noqa: E402
from insights.config import EngineConfig  # noqa: E402
from insights.engine import Engine  # noqa: E402
from insights.evidence import EVIDENCE_SIDES  # noqa: E402
from insights.track import ClosedMinute, Track  # noqa: E402


def find_label(labels: dict[str, Any], wanted: str) -> dict[str, Any]:
    """The anomaly named ``wanted``: its ``id``, or ``eventName@start``."""
    for a in labels["anomalies"]:
        if wanted in (a["id"], f"{a['eventName']}@{a['start']}"):
            found: dict[str, Any] = a
            return found
    raise SystemExit(f"no anomaly {wanted!r} in the labels")


def key_of(a: dict[str, Any]) -> tuple[str, ...]:
    """The engine's key of what anomaly ``a`` changes: its API's calls, or that code's failures."""
    api = (a["account"], a["region"], a["eventSource"], a["eventName"])
    return (*api, a["errorCode"]) if a["insightType"] == "ApiErrorRateInsight" else api


def slot_of(track: Track, key: tuple[str, ...]) -> int | None:
    """The slot of ``key`` (account, region, source, name and the error code, if any), whatever its
    event category (the first part of the engine's keys)."""
    for engine_key, slot in track.keys.table.index.items():
        if engine_key[1:] == key:
            return slot
    return None


def _number(values: Any, i: int) -> str:
    return "-" if values is None else f"{float(values[i]):.4g}"


def describe_minute(track: Track, closed: ClosedMinute, slot: int | None, count: float) -> str:
    """One line: the key's count and what its minute was judged against."""
    view = closed.view
    if slot is None:
        return "not tracked"
    if view is None or not (view.slots == slot).any():
        return f"count {count:g} (not judged: no calls and not on drop watch)"
    i = int(np.flatnonzero(view.slots == slot)[0])
    refs, ev = view.refs, track.lifecycle.cols
    total, since, seen, expected = (ev[name][slot] for name in ("ev_sum", "ev_first", "ev_obs", "ev_exp"))
    sides = " ".join(
        f"{side}={float(total[k]):.1f}[{int(since[k])},{float(seen[k]):g}/{float(expected[k]):.2f}]"
        for k, side in enumerate(EVIDENCE_SIDES)
    )
    seasoned = "-" if refs.seasoned is None else str(bool(refs.seasoned[i]))
    return (
        f"count {count:g} eligible {bool(view.eligible[i])} seasoned {seasoned}"
        f" | ev_up {_number(refs.evidence_up, i)} ev_steep {_number(refs.evidence_steep, i)}"
        f" mu_down {_number(refs.mu_down, i)} mu_up {_number(refs.mu_up, i)} phi {_number(refs.phi, i)}"
        f" | {sides} | open {bool(track.lifecycle.is_open(np.array([slot]))[0])}"
    )


def traced_close(
    track: Track, key: tuple[str, ...], origin: int, span: tuple[int, int], lines: list[str]
) -> Callable[..., ClosedMinute]:
    """``track.close`` that also describes ``key``'s minutes within ``span`` (first, last) into
    ``lines``, each numbered from ``origin`` (the anomaly's first minute)."""
    close, (first, last) = track.close, span

    def close_and_describe(minute: int, counts: Any, *args: Any, **kwargs: Any) -> ClosedMinute:
        closed = close(minute, counts, *args, **kwargs)
        if first <= minute <= last:
            slot = slot_of(track, key)
            count = float(counts[slot]) if slot is not None and slot < len(counts) else 0.0
            lines.append(f"{minute - origin:+5d} {describe_minute(track, closed, slot, count)}")
            if slot is not None and closed.decisions is not None and slot in closed.decisions.start_slots:
                lines.append("      START")
        return closed

    return close_and_describe


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("trace", type=Path)
    parser.add_argument("anomaly")
    parser.add_argument("--before", type=int, default=30)
    parser.add_argument("--after", type=int, default=60)
    parser.add_argument("--evidence-surprise", type=float, default=6.0)
    parser.add_argument("--set", dest="knobs", action="append", default=[], metavar="KNOB=VALUE")
    args = parser.parse_args()
    labels = json.loads((args.trace / "labels.json").read_text())
    a = find_label(labels, args.anomaly)
    print(json.dumps(a))
    engine = Engine(EngineConfig(detector=detector_params(args.evidence_surprise, args.knobs)))
    lines: list[str] = []
    span = (a["start_minute"] - args.before, a["end_minute"] + args.after)
    close = traced_close(engine.track, key_of(a), a["start_minute"], span, lines)
    engine.track.close = close  # type: ignore[method-assign]
    replay(discover([str(args.trace / "AWSLogs")]), engine, lambda _: None, workers=1)
    print(
        "minute (from the anomaly's first), its count and judgement; sums in nats [first, observed/expected]"
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
