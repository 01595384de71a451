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


@dataclass(frozen=True)
class DetectorParams:
    """How unusual a minute must be to start, keep and end an insight.

    Probabilities are tail probabilities of a negative-binomial count model around the key's
    reference rate; thresholds are written as ``-log10(p)`` ("surprise") so 7 means p < 1e-7.
    The ratio and count gates keep statistically significant but practically small changes on very
    busy APIs, and single stray calls on very quiet APIs, from becoming insights.
    """

    enabled: bool = True
    start_surprise: float = 7.0
    keep_surprise: float = 2.0
    min_count: float = 5.0
    min_ratio: float = 2.0
    peak_margin: float = 1.25
    sustained_minutes: int = 5
    sustained_ratio: float = 1.6
    drop_min_level: float = 5.0
    drop_ratio: float = 0.3
    drop_minutes: int = 2
    end_quiet_minutes: int = 3
    max_insight_minutes: int = 360


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

    ``allowed_lateness_minutes``: a minute closes when the newest event time seen is this far past
    it. CloudTrail delivers within ~5 minutes on average but files are written every ~5 minutes
    and sometimes later, so 10 minutes keeps almost every record while bounding how long a drop
    (which can only be judged on a closed minute) waits. Records for closed minutes are counted as
    late and dropped.

    ``early_starts``: an upward single-minute spike starts as soon as the minute's count so far passes
    the same gates a closed minute must pass (counts only grow as late records arrive), instead of
    waiting ``allowed_lateness_minutes`` for the minute to close. Drops and sustained rises still
    wait for closed minutes; see :mod:`insights.early`.

    ``block_minutes``/``blocks_per_day`` lay out the baseline ring (hours, 24 a day);
    ``score-series`` changes them to suit a series' interval.
    """

    window_minutes: int = 7 * MINUTES_PER_DAY
    warmup_minutes: int = 36 * 60
    allowed_lateness_minutes: int = 10
    max_keys: int = 400_000
    idle_evict_minutes: int = 7 * MINUTES_PER_DAY
    attribution_slots: int = 8
    analyse_data_events: bool = False
    early_starts: bool = True
    detector: DetectorParams = field(default_factory=DetectorParams)
    rules: tuple[Rule, ...] = ()
    block_minutes: int = 60
    blocks_per_day: int = 24

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
