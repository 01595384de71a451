"""Why an insight started: which Start rule fired, over what window, on what figures.

A Start in AWS's shape says only "unusual activity began"; a reader who must decide whether to act
wants to know what the engine saw. :class:`StartReason` is that, in the engine's own terms: the rule
of :mod:`insights.start_rules` (or the windowed evidence of :mod:`insights.evidence`) that opened the
insight, the calls it observed over its window against those its reference expected there, and the
surprise it had to reach. The lifecycle decides starts columnar (:class:`~insights.decisions.Decisions`
carries the figures as arrays); a :class:`StartReason` is built only for the few keys that start.

The references (:class:`~insights.baseline.References`), named as the rule used them:

* ``seasonal``: the rising seasonal reference (the same hour, +/- one, on earlier days);
* ``recent_level``: the recent level (an EWMA of the last hour or so), where it was above the
  seasonal reference;
* ``burst``: a bursty key's mean hourly busiest minute, where it was above both;
* ``rising`` / ``falling``: a streak's sum, judged minute by minute against the higher of the seasonal
  reference and the recent level (rises), or the lower of the seasonal low and the recent level (drops);
* ``seasonal_mean``: the windowed evidence's rising reference: the highest plain mean of the same hour
  (+/- two) on earlier days, or of the last three hours where that is higher (up to 1.5 times);
* ``window_mean``: the steep rise's reference: the highest, over earlier days, of the mean over the
  same five hours taken together (or a daily or weekly job's hour, where higher), with the same
  floor of the last three hours.

For the single-minute and streak rules ``surprise`` is ``-log10`` of the tail probability of the
observed count (or sum) under the reference; for the windowed evidence it is the CUSUM's
log-likelihood ratio in ``log10`` units, whose false-alarm rate is about one in ``10**surprise`` minutes.

>>> r = StartReason("sustained_rise", 45, 310.0, 96.0, 11.52, 7.0, "rising")
>>> print(r.words())  # doctest: +NORMALIZE_WHITESPACE
sustained rise over 45 min, 310 calls against 96 expected (rising reference: seasonal or recent
level), tail p=3e-12 (surprise 11.5 ≥ 7)
>>> r.as_record()["tailProbability"]
3.02e-12
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Rule = Literal[
    "spike", "early_spike", "sustained_rise", "drop", "evidence_rise", "evidence_drop", "evidence_steep_rise"
]
Reference = Literal["seasonal", "recent_level", "burst", "rising", "falling", "seasonal_mean", "window_mean"]
EVIDENCE_RULES: tuple[Rule, ...] = ("evidence_rise", "evidence_drop", "evidence_steep_rise")

#: Rule codes of :class:`~insights.decisions.Decisions` (``start_rule``) index this tuple.
RULES: tuple[Rule, ...] = (
    "spike",
    "early_spike",
    "sustained_rise",
    "drop",
    "evidence_rise",
    "evidence_drop",
    "evidence_steep_rise",
)
SPIKE, EARLY_SPIKE, SUSTAINED_RISE, DROP, EVIDENCE_RISE, EVIDENCE_DROP, EVIDENCE_STEEP_RISE = range(
    len(RULES)
)

_RULE_WORDS: dict[Rule, str] = {
    "spike": "spike",
    "early_spike": "spike (before its minute closed)",
    "sustained_rise": "sustained rise",
    "drop": "drop",
    "evidence_rise": "windowed evidence of a rise",
    "evidence_drop": "windowed evidence of a drop",
    "evidence_steep_rise": "windowed evidence of a steep rise",
}
_REFERENCE_WORDS: dict[Reference, str] = {
    "seasonal": "seasonal reference",
    "recent_level": "recent level, above the seasonal reference",
    "burst": "hourly burst level",
    "rising": "rising reference: seasonal or recent level",
    "falling": "falling reference: seasonal low or recent level",
    "seasonal_mean": "seasonal mean",
    "window_mean": "mean of the hours around this one",
}


#: The reference each rule that sums over minutes tests against (a spike's is :func:`spike_reference`).
SUMMED_REFERENCE: dict[Rule, Reference] = {
    "sustained_rise": "rising",
    "drop": "falling",
    "evidence_rise": "seasonal_mean",
    "evidence_drop": "falling",
    "evidence_steep_rise": "window_mean",
}


def spike_reference(rising: float, burst: float, seasonal: float) -> Reference:
    """Which reference a spike's count was tested against: the larger of the rising reference
    (``rising``: the higher of the seasonal reference ``seasonal`` and the recent level) and the
    ``burst`` level.

    >>> spike_reference(5.0, 0.0, 5.0), spike_reference(8.0, 0.0, 5.0), spike_reference(8.0, 20.0, 5.0)
    ('seasonal', 'recent_level', 'burst')
    """
    if burst > rising:
        return "burst"
    return "recent_level" if rising > seasonal else "seasonal"


@dataclass(frozen=True, slots=True)
class StartReason:
    """The evidence behind one Start: ``rule`` fired over the last ``window_minutes`` minutes, with
    ``observed`` calls (or errors) where ``reference`` expected ``expected``; the resulting
    ``surprise`` reached ``threshold``. ``peak`` is the busiest recent minute a spike had to exceed
    (by ``peak_margin``), None for the other rules."""

    rule: Rule
    window_minutes: int
    observed: float
    expected: float
    surprise: float
    threshold: float
    reference: Reference
    peak: float | None = None

    @property
    def tail_probability(self) -> float:
        """``10 ** -surprise`` (0.0 once that is below the smallest float): the tail probability of
        the observed figure, or for the windowed evidence about its false-alarm rate per minute."""
        return 10.0**-self.surprise if math.isfinite(self.surprise) else 0.0

    def words(self, unit: str = "calls") -> str:
        """One line for people (logs, ``replay --explain``, alerts); ``unit`` names what is counted."""
        window = "in 1 min" if self.window_minutes == 1 else f"over {self.window_minutes} min"
        figures = f"{_count(self.observed)} {unit} against {_count(self.expected)} expected"
        peak = "" if self.peak is None else f", above the recent peak of {_count(self.peak)}/min"
        test = f"surprise {self.surprise:.1f} ≥ {self.threshold:g}"
        if self.rule in EVIDENCE_RULES:
            test = f"likelihood ratio {10.0 ** min(self.surprise, 300.0):.1g} ({test})"
        else:
            test = f"tail p={self.tail_probability:.1g} ({test})"
        reference = _REFERENCE_WORDS[self.reference]
        return f"{_RULE_WORDS[self.rule]} {window}, {figures} ({reference}){peak}, {test}"

    def as_record(self) -> dict[str, object]:
        """The reason as the Insight record's optional ``trailpulse.reason`` object (camelCase, as the
        record's own keys; figures rounded so that the same decision gives the same bytes)."""
        out: dict[str, object] = {
            "rule": self.rule,
            "windowMinutes": self.window_minutes,
            "observed": _rounded(self.observed),
            "expected": _rounded(self.expected),
            "reference": self.reference,
            "surprise": _rounded(self.surprise, 4),
            "tailProbability": _rounded(self.tail_probability, 3),
            "threshold": _rounded(self.threshold),
        }
        if self.peak is not None:
            out["peak"] = _rounded(self.peak)
        return out


def _count(x: float) -> str:
    """Calls for people: whole when whole, else one decimal (two significant digits below one)."""
    if x == round(x):
        return f"{x:.0f}"
    return f"{x:.1f}" if abs(x) >= 1 else f"{x:.2g}"


def _rounded(x: float, digits: int = 10) -> float:
    """``x`` to ``digits`` significant digits; a non-finite value (never expected) as 0.0, since the
    record must stay valid JSON."""
    return float(f"{x:.{digits}g}") if math.isfinite(x) else 0.0
