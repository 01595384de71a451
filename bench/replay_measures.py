"""What ``bench/replay.py`` measures and how it prints it: timed runs, and the breakdown pass.

The breakdown pass runs ``replay(workers=1)`` with timers wrapped around its steps (read, decode, gunzip, the
engine's stages, minute closes and their parts), so it is replay's own batching. Only this
process's objects are wrapped (no engine code is changed), and a step the code does not have (it
evolves) is simply not shown.
"""

from __future__ import annotations

import time
import types
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import consumers.files.read
import consumers.runtime.decode_pool
import insights.decode
from insights.decode import Decoder

if TYPE_CHECKING:  # scipy: see bench/replay.py on what its top-level imports cost the workers
    from insights.engine import Engine


@dataclass
class Run:
    """One timed pass over the files."""

    name: str
    records: int
    seconds: float
    cpu_seconds: float
    engine_seconds: float | None = None
    engine_cpu_seconds: float | None = None
    starts: int = 0
    ends: int = 0

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_rate(self) -> float:
        return self.records / self.cpu_seconds if self.cpu_seconds > 0 else 0.0

    def figures(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return {
            "seconds": rounded(self.seconds),
            "records_per_s": round(self.rate),
            "cpu_seconds": rounded(self.cpu_seconds),
            "engine_seconds": rounded(self.engine_seconds),
            "engine_cpu_seconds": rounded(self.engine_cpu_seconds),
        }


def line(run: Run) -> str:
    text = (
        f"{run.name:<18} records={run.records:>9,}  wall={run.seconds:6.2f} s  records/s={run.rate:>9,.0f}"
        f"  main cpu={run.cpu_seconds:6.2f} s ({100 * run.cpu_seconds / run.seconds:3.0f}% of wall,"
        f" {run.cpu_rate:,.0f} records/cpu-s)"
    )
    if run.engine_seconds is not None and run.engine_cpu_seconds is not None:
        text += f"  in engine={run.engine_seconds:5.2f} s (cpu {run.engine_cpu_seconds:5.2f} s)"
    if run.starts or run.ends:
        text += f"  insights={run.starts}/{run.ends}"
    return text


# Steps timed in the breakdown pass, where they exist: (owner path, attribute, label).
ENGINE_STEPS = (
    ("normaliser", "normalise", "normalise"),
    ("normaliser", "classify", "classify"),
    ("", "_ingest", "ingest"),
)
TRACK_STEPS = (
    ("", "close", "close_minute[{track}]"),
    ("", "_view", "view"),
    ("lifecycle", "decide", "decide"),
    ("", "_apply", "apply"),
    ("", "evict_idle", "evict_idle"),
    ("baseline", "learn", "baseline.learn"),
    ("baseline", "roll_hour", "baseline.roll_hour"),
    ("baseline", "refresh", "baseline.refresh"),
    ("attributions", "observe", "attr.observe"),
    ("attributions", "flush", "attr.flush"),
    ("attributions", "rotate", "attr.rotate"),
)


class Timers:
    """Inclusive wall time per call path of wrapped callables (nested wraps give a tree).

    ``cpu`` holds the calling thread's CPU time per path: unlike wall time it leaves out time the
    process was waiting for a core (on a loaded machine) or for other threads holding the GIL.
    """

    def __init__(self) -> None:
        self.seconds: defaultdict[tuple[str, ...], float] = defaultdict(float)
        self.cpu: defaultdict[tuple[str, ...], float] = defaultdict(float)
        self.calls: defaultdict[tuple[str, ...], int] = defaultdict(int)
        self._stack: list[str] = []
        self._undo: list[Callable[[], None]] = []

    @contextmanager
    def span(self, label: str) -> Iterator[None]:
        self._stack.append(label)
        path = tuple(self._stack)
        began, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.seconds[path] += time.perf_counter() - began
            self.cpu[path] += time.thread_time() - cpu
            self.calls[path] += 1
            self._stack.pop()

    def wrap(self, owner: Any, attribute: str, label: str) -> bool:
        """Replace ``owner.attribute`` by a timed version until :meth:`unwrap_all`; False if absent."""
        inner = getattr(owner, attribute, None)
        if owner is None or not callable(inner):
            return False
        own = isinstance(owner, type | types.ModuleType) or attribute in getattr(owner, "__dict__", {})

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.span(label):
                return inner(*args, **kwargs)

        setattr(owner, attribute, timed)
        self._undo.append(lambda: setattr(owner, attribute, inner) if own else delattr(owner, attribute))
        return True

    def unwrap_all(self) -> None:
        while self._undo:
            self._undo.pop()()

    def top_level(self) -> float:
        return sum(s for path, s in self.seconds.items() if len(path) == 1)

    def rows(self) -> list[tuple[tuple[str, ...], float, float, int]]:
        """(path, inclusive s, self s, calls); children under parents, busiest first."""
        children: defaultdict[tuple[str, ...], float] = defaultdict(float)
        for path, seconds in self.seconds.items():
            children[path[:-1]] += seconds
        ordered = sorted(self.seconds, key=lambda p: [-self.seconds[p[: i + 1]] for i in range(len(p))])
        return [(p, self.seconds[p], self.seconds[p] - children[p], self.calls[p]) for p in ordered]


def attribute_path(root: Any, path: str) -> Any:
    for part in filter(None, path.split(".")):
        root = getattr(root, part, None)
    return root


def wrap_steps(timers: Timers, engine: Engine) -> None:
    """Time the steps of one replay: reading, decoding, classifying and the engine's stages."""
    timers.wrap(consumers.files.read, "read_file", "read")
    timers.wrap(consumers.runtime.decode_pool, "classify", "decode+classify")
    timers.wrap(Decoder, "decode", "decode")
    timers.wrap(Decoder, "decode_parts", "decode")
    timers.wrap(insights.decode, "unwrap", "gunzip")
    for owner, attribute, label in ENGINE_STEPS:
        timers.wrap(attribute_path(engine, owner), attribute, label)
    for name, track in (("keys", engine.track),):
        for owner, attribute, label in TRACK_STEPS:
            timers.wrap(attribute_path(track, owner), attribute, label.format(track=name))


def print_breakdown(timers: Timers, wall_seconds: float) -> dict[str, float]:
    """Print the timed steps as a tree; return the top two levels' inclusive seconds (for JSON)."""
    breakdown: dict[str, float] = {}
    print(f"  {'step':<50}{'incl s':>9}{'self s':>9}{'calls':>10}{'% wall':>8}")
    for path, inclusive, own, calls in timers.rows():
        if len(path) > 1 and inclusive < 0.002 * wall_seconds:
            continue  # noise, e.g. the few minutes engine.finish closes
        label = "  " * (len(path) - 1) + path[-1]
        share = 100 * inclusive / wall_seconds
        print(f"  {label:<50}{inclusive:9.2f}{own:9.2f}{calls:10,}{share:8.1f}")
        if len(path) <= 2:
            breakdown["/".join(path)] = round(inclusive, 3)
    rest = wall_seconds - timers.top_level()
    print(f"  {'(replay outside the timed steps)':<50}{rest:9.2f}{'':>19}{100 * rest / wall_seconds:8.1f}")
    breakdown["untimed"] = round(rest, 3)
    return breakdown
