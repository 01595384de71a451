"""Insights under way: opening them, advancing them toward their End, and the figures they carry.

Apart from :mod:`insights.lifecycle` because this is the half of its state that belongs to an open
insight (``open_dir``, ``ins_*``, ``quiet*``, ``base_*``, ``ev_back``), while the lifecycle itself
judges what starts. Every function works on the lifecycle's :class:`~insights.columns.Columns`.

An insight stays open while minutes remain unusual on weaker evidence than a Start needs
(``keep_surprise``, and at least :data:`KEEP_RATIO_UP` times the rising reference or at most
:data:`KEEP_RATIO_DOWN` times the falling one); it ends after ``end_quiet_minutes`` ordinary minutes
in a row, its ``eventTime`` being the first of them. One opened by windowed evidence ends on
evidence instead (:func:`insights.evidence.back_to_normal`). An insight longer than
``max_insight_minutes`` is closed and its level accepted as the new normal, so a permanent change
does not stay an insight forever.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from insights import evidence
from insights.columns import Columns
from insights.decisions import DOWN, UP, Decisions, MinuteView
from insights.detector import lower_surprise, upper_surprise
from insights.evidence import LN10, evidence_references, ratios
from insights.evidence_kernel import MIN_RATE
from insights.transition import InsightFigures

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
KEEP_RATIO_UP = 1.25
KEEP_RATIO_DOWN = 0.6
RESET_AT_START = ("quiet", "quiet_sum", "up_streak", "up_sum", "up_mu", "dn_streak", "dn_sum", "dn_mu")


def open_starts(cols: Columns, minute: int, d: Decisions, base_avg: F64, base_n: I64) -> Bool:
    """Open the insights of ``d``'s starts; ``base_avg``/``base_n`` are their baselines now.

    Returns which of them were announced early: their Start is out, and their baseline stays
    the one it carried.
    """
    c, starts = cols, d.start_slots
    announced: Bool = c["early_min"][starts] == minute
    if len(starts):
        c["open_dir"][starts] = d.start_dirs
        c["open_ev"][starts] = d.start_evidence
        c["ev_back"][starts] = 0.0
        evidence.reset(c, starts)
        c["ins_start"][starts] = d.start_first
        c["ins_sum"][starts] = d.start_sum
        c["ins_n"][starts] = d.start_n
        fresh = ~announced
        c["base_avg"][starts[fresh]] = base_avg[fresh]
        c["base_n"][starts[fresh]] = base_n[fresh]
        for name in RESET_AT_START:
            c[name][starts] = 0
        c["early_min"][starts] = -1
    return announced


def advance(cols: Columns, view: MinuteView, is_open: Bool) -> tuple[I64, Bool]:
    """Update open insights with this minute; return the slots that end and whether forcibly."""
    at = np.flatnonzero(is_open)
    slots = view.slots[at]
    if not len(slots):
        return slots.astype(np.int64), np.zeros(0, dtype=bool)
    c = view.counts[at]
    up = cols["open_dir"][slots] == UP
    mu_up, mu_down, phi = view.refs.mu_up[at], view.refs.mu_down[at], view.refs.phi[at]
    keep = view.params["keep_surprise"][at]
    unusual_up = (c >= KEEP_RATIO_UP * mu_up) & (upper_surprise(c, mu_up, phi) >= keep)
    unusual_down = (c <= KEEP_RATIO_DOWN * mu_down) & (lower_surprise(c, mu_down, phi) >= keep)
    unusual = np.where(up, unusual_up, unusual_down)
    by_evidence = cols["open_ev"][slots]
    if by_evidence.any():
        # Evidence opened it, evidence ends it: minute by minute a rise of 0.4 to 1.2 calls a
        # minute looks ordinary as often as not, so quiet minutes in a row would end it at once.
        # A rise ends on evidence against the level it showed, within the two ratios weighed:
        # a rare count surging x17 is over long before its rate is back within x2 for sure.
        p = view.params
        up_ratio, down_ratio = ratios(p)
        up_ref, steep_ref, down_ref = evidence_references(view.refs)
        shown = cols["ins_sum"][slots] / np.maximum(cols["ins_n"][slots], 1)
        steepness = shown / np.maximum(up_ref[at], MIN_RATE)
        steepest = evidence.steep_ratio(
            p["evidence_steep_ratio"][at], p["evidence_steep_rate"][at], steep_ref[at]
        )
        rise_ratio = np.clip(steepness, up_ratio[at], steepest)
        rho = np.where(up, rise_ratio, down_ratio[at])
        mu = np.where(up, up_ref[at], down_ref[at])
        back = evidence.back_to_normal(cols["ev_back"][slots].astype(np.float64), c, mu, phi, rho)
        cols["ev_back"][slots] = np.where(by_evidence, back, 0.0)
        unusual = np.where(by_evidence, back <= 0, unusual)
        over = by_evidence & (back >= keep * LN10)
    else:
        over = np.zeros(len(slots), dtype=bool)

    quiet, quiet_sum = cols["quiet"], cols["quiet_sum"]
    cols["ins_sum"][slots] += np.where(unusual, quiet_sum[slots] + c, 0.0)
    cols["ins_n"][slots] += np.where(unusual, quiet[slots] + 1, 0)
    quiet_sum[slots] = np.where(unusual, 0.0, quiet_sum[slots] + c)
    quiet[slots] = np.where(unusual, 0, quiet[slots] + 1)

    ended = np.where(by_evidence, over, quiet[slots] >= view.params["end_quiet_minutes"][at])
    age = view.minute - cols["ins_start"][slots] + 1
    forced = ~ended & (age >= view.params["max_insight_minutes"][at])
    if forced.any():
        f = slots[forced]
        cols["ins_sum"][f] += quiet_sum[f]
        cols["ins_n"][f] += quiet[f]
        quiet_sum[f] = 0.0
        quiet[f] = 0
    done = ended | forced
    return slots[done].astype(np.int64), forced[done]


def figures(
    cols: Columns, slot: int, minutes: tuple[int, int, int, int], average: float | None = None
) -> InsightFigures:
    """The figures of the insight of ``slot``: ``minutes`` as :class:`InsightFigures` has them;
    ``average`` replaces the average of its unusual minutes (an early Start's count so far)."""
    c = cols
    if average is None:
        average = float(c["ins_sum"][slot]) / max(int(c["ins_n"][slot]), 1)
    return InsightFigures(
        direction="down" if int(c["open_dir"][slot]) == DOWN else "up",
        minutes=minutes,
        baseline=(float(c["base_avg"][slot]), max(int(c["base_n"][slot]), 1)),
        insight_average=average,
    )


def ending(cols: Columns, slot: int, minute: int, forced: bool) -> InsightFigures:
    """The figures of an End decided at ``minute``: its event minute is the first quiet minute
    (the minute after, when the insight was closed for lasting too long)."""
    end = minute + 1 if forced else minute - int(cols["quiet"][slot]) + 1
    start = int(cols["ins_start"][slot])
    return figures(cols, slot, (start, end, minute, end - start))
