"""Engine settings: windows, capacities and every knob that sets detector sensitivity.

Sensitivity can be set globally and overridden per API with globs on ``eventSource`` /
``eventName`` (and optionally the insight type); a suppression rule is an override with
``enabled = False``. Rules are resolved once, when a key is first tracked, so the hot path only
gathers per-key parameters from a small table.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from insights.baseline import RingLayout

MINUTES_PER_DAY = 1440


class SettingsError(ValueError):
    """A setting is out of its range or cannot be used; the message names it (and, when read from
    a file, a variable or a flag, that source too)."""


@dataclass(frozen=True)
class Bounds:
    """A setting's natural range; ``low``/``high`` are inclusive unless ``*_open``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def problem(self, value: float) -> str | None:
        """Why ``value`` is out of range (``"must be >= 0"``), or None when it is in range."""
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return f"must be {self}"
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return f"must be {self}"
        return None

    def __str__(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return " and ".join(parts)


AT_LEAST_0 = Bounds(low=0)
AT_LEAST_1 = Bounds(low=1)
POSITIVE = Bounds(low=0, low_open=True)
FRACTION = Bounds(low=0, high=1, low_open=True, high_open=True)


def knob(default: Any, meaning: str, bounds: Bounds | None = None) -> Any:
    """A settings field: its default, one line saying what it does, and its range (checked on build)."""
    return field(default=default, metadata={"meaning": meaning, "bounds": bounds})


def check_bounds(settings: Any) -> None:
    """:class:`SettingsError` naming the first field of dataclass ``settings`` outside its :class:`Bounds`."""
    for f in dataclasses.fields(settings):
        bounds = f.metadata.get("bounds")
        value = getattr(settings, f.name)
        problem = bounds.problem(value) if bounds is not None else None
        if problem is not None:
            raise SettingsError(f"{f.name} {problem}, not {value!r}")


@dataclass(frozen=True)
class DetectorParams:
    """How unusual a minute must be to start, keep and end an insight.

    Probabilities are tail probabilities of a negative-binomial count model around the key's
    reference rate; thresholds are written as ``-log10(p)`` ("surprise") so 7 means p < 1e-7.
    The ratio and count gates keep statistically significant but practically small changes on very
    busy APIs, and single stray calls on very quiet APIs, from becoming insights.
    """

    enabled: bool = knob(True, "false switches detection off (see [[suppress]])")
    start_surprise: float = knob(
        7.0, "-log10 of the tail probability a minute needs to start an insight", POSITIVE
    )
    keep_surprise: float = knob(
        2.0, "-log10 of the tail probability that keeps an open insight going", POSITIVE
    )
    min_count: float = knob(5.0, "fewest calls (or errors) in a minute that can start a rise", AT_LEAST_1)
    min_ratio: float = knob(2.0, "a rising minute is at least this many times the baseline", AT_LEAST_1)
    peak_margin: float = knob(
        1.25, "a spike exceeds the busiest minute of the last 24 hours by this factor", AT_LEAST_0
    )
    sustained_minutes: int = knob(
        5, "minutes in a row above the baseline that start a sustained rise", AT_LEAST_1
    )
    sustained_ratio: float = knob(
        1.6, "each minute of a sustained rise is this many times the baseline", AT_LEAST_1
    )
    drop_min_level: float = knob(
        5.0, "a drop needs a baseline of at least this many calls a minute", AT_LEAST_0
    )
    drop_ratio: float = knob(0.3, "a dropping minute is at most this fraction of the baseline", FRACTION)
    drop_minutes: int = knob(2, "minutes in a row below the drop ratio that start a drop", AT_LEAST_1)
    evidence_surprise: float = knob(
        6.0,
        "-log10 scale of the windowed evidence (a CUSUM) that starts a rise or drop of any length"
        " (6: at most 0.0043 false Starts per key-day under the model, insights/calibration.py);"
        " 0 switches it off",
        AT_LEAST_0,
    )
    evidence_rise_ratio: float = knob(
        2.0,
        "the windowed evidence weighs a rise to this many times the reference",
        Bounds(low=1, low_open=True),
    )
    evidence_steep_ratio: float = knob(
        8.0,
        "the windowed evidence also weighs a steep rise to this many times the reference"
        " (a rare count surging: a known error code, a seldom-called API)",
        Bounds(low=1, low_open=True),
    )
    evidence_steep_rate: float = knob(
        0.1,
        "the steep rise is weighed to at least this many calls a minute (a rare count hammered: a"
        " new error code, an API called a few times a day)",
        AT_LEAST_0,
    )
    evidence_steep_min_count: float = knob(
        3.0,
        "fewest calls more than expected a steep rise found by the windowed evidence needs, counted"
        " from the first minute of its excursion (min_count is one minute's)",
        AT_LEAST_1,
    )
    evidence_drop_ratio: float = knob(
        0.1, "the windowed evidence weighs a drop to this fraction of the reference", FRACTION
    )
    evidence_minute_share: float = knob(
        0.5,
        "the most of the windowed evidence's threshold one minute adds: no single minute starts a"
        " rise or drop, a burst is the single-minute rules' to judge (a bursty key's, an hourly"
        " job's, adds at most a third)",
        FRACTION,
    )
    evidence_min_ratio: float = knob(
        1.3, "a rise found by the windowed evidence is at least this many times the reference", AT_LEAST_1
    )
    evidence_max_minutes: int = knob(
        480, "the windowed evidence weighs at most this many minutes (then starts afresh)", AT_LEAST_1
    )
    end_quiet_minutes: int = knob(3, "ordinary minutes in a row that end an insight", AT_LEAST_1)
    max_insight_minutes: int = knob(360, "after this long the level is taken as the new normal", AT_LEAST_1)

    def __post_init__(self) -> None:
        check_bounds(self)


@dataclass(frozen=True)
class Rule:
    """Per-API override: fields in ``params`` replace the global ones where the globs match."""

    event_source: str = "*"
    event_name: str = "*"
    insight_type: str = "*"
    params: dict[str, Any] = field(default_factory=dict)

    def matches(self, insight_type: str, event_source: str, event_name: str) -> bool:
        return (
            fnmatchcase(insight_type, self.insight_type)
            and fnmatchcase(event_source, self.event_source)
            and fnmatchcase(event_name, self.event_name)
        )


@dataclass(frozen=True)
class EngineConfig:
    """Everything the engine needs; defaults follow AWS where AWS documents a behaviour.

    ``allowed_lateness_minutes``: how much older than the newest record of its own source (an
    account-region of a file input, or of a Kafka partition) a record may be; a minute closes when
    every active source is this far past it (:mod:`insights.clock`). Records for closed minutes are
    counted as late. CloudTrail writes a file per account-region about every 5 minutes and delivers
    it typically within 5 (AWS: "an average of about 5 minutes", not guaranteed), some up to 30
    minutes late, and a record may come in a later file than its own period's: 35 minutes covers a
    record in a file 30 minutes late. On realistically delivered traffic (``generate --delivery
    realistic``, 638k records) 10 minutes left 1.6 % of records late, 20 minutes 0.9 %, 30 minutes
    0.26 %, 35 none. Only drops, sustained rises and Ends wait that long: spikes start early.

    ``source_idle_minutes``: a source whose newest record is this far behind the newest of its
    input has fallen silent and no longer holds minutes open.

    ``amend_late_records``: a late record cannot change a decision already taken, but it still adds
    to its hour's call total while that hour is in the baseline (:meth:`Baseline.amend`). Where it
    lands (the minute's close, the running hour, an hour already in the ring) depends on when it
    arrives, so with records beyond the lateness a baseline can differ in its last details with
    batching; within the lateness nothing is late and nothing differs.

    ``early_starts``: an upward single-minute spike starts as soon as the minute's count so far passes
    the same gates a closed minute must pass (counts only grow as late records arrive), instead of
    waiting ``allowed_lateness_minutes`` for the minute to close. Drops and sustained rises still
    wait for closed minutes; see :mod:`insights.early`.

    ``block_minutes``/``blocks_per_day`` lay out the baseline ring (hours, 24 a day);
    ``score-series`` changes them to suit a series' interval.
    """

    window_minutes: int = knob(7 * MINUTES_PER_DAY, "minutes of history the baseline covers", AT_LEAST_1)
    warmup_minutes: int = knob(
        36 * 60, "history a key's account and region need before an insight", AT_LEAST_0
    )
    allowed_lateness_minutes: int = knob(
        35, "a record may be this much older than the newest of its source before it is late", AT_LEAST_0
    )
    source_idle_minutes: int = knob(
        60, "a source this far behind the newest of its input no longer holds minutes open", AT_LEAST_1
    )
    max_keys: int = knob(
        400_000, "keys tracked at most, both insight types together (longest idle evicted)", AT_LEAST_1
    )
    idle_evict_minutes: int = knob(
        7 * MINUTES_PER_DAY, "a key without calls this long is released", AT_LEAST_1
    )
    attribution_slots: int = knob(8, "values kept per attribute of an open insight", AT_LEAST_1)
    analyse_data_events: bool = knob(False, "true: data events (S3 objects, Lambda invokes) are analysed too")
    early_starts: bool = knob(True, "a spike starts before its minute closes once it passes every gate")
    amend_late_records: bool = knob(
        True, "records too late for their minute's decision still enter their hour's baseline totals"
    )
    detector: DetectorParams = field(default_factory=DetectorParams)
    rules: tuple[Rule, ...] = ()
    block_minutes: int = knob(60, "minutes in one block of the baseline ring", AT_LEAST_1)
    blocks_per_day: int = knob(24, "blocks of the baseline ring in a day", AT_LEAST_1)

    def __post_init__(self) -> None:
        """Every field in range, and every rule's overrides too (named by the rule's globs)."""
        check_bounds(self)
        for rule in self.rules:
            try:
                dataclasses.replace(self.detector, **rule.params)
            except (TypeError, ValueError) as exc:
                where = f"{rule.event_source} {rule.event_name} {rule.insight_type}"
                raise SettingsError(f"rule for {where}: {exc}") from exc

    def params_for(self, insight_type: str, event_source: str, event_name: str) -> DetectorParams:
        """The global parameters with every matching rule applied in order (later rules win)."""
        params = self.detector
        for rule in self.rules:
            if rule.matches(insight_type, event_source, event_name):
                params = dataclasses.replace(params, **rule.params)
        return params

    @property
    def ring(self) -> RingLayout:
        """The baseline ring: hourly blocks covering the window (``blocks_per_day`` to a day)."""
        return RingLayout(
            -(-self.window_minutes // self.block_minutes), self.block_minutes, self.blocks_per_day
        )


def suppress(event_source: str = "*", event_name: str = "*", insight_type: str = "*") -> Rule:
    """A rule that switches detection off for matching APIs."""
    return Rule(event_source, event_name, insight_type, {"enabled": False})
