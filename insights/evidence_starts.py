"""The windowed evidence's Start rule: whose rise or drop the evidence of :mod:`insights.evidence` starts.

Apart from the single-minute rules of :mod:`insights.start_rules` because it is not one of them: it
advances state of its own (the evidence sums, in the lifecycle's columns) and is applied to closed
minutes only, never to the counts so far of an open minute (:mod:`insights.early`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from insights import evidence
from insights.columns import Columns
from insights.decisions import MinuteView
from insights.evidence import LN10, Excursion, evidence_references, minute_cap, ratios
from insights.evidence_kernel import pick_starts
from insights.ongoing import KEEP_RATIO_DOWN

Bool = npt.NDArray[np.bool_]


def judge(cols: Columns, view: MinuteView, free: Bool) -> tuple[Excursion, Excursion, Bool, Bool, Bool]:
    """Advance the windowed evidence of the judged keys (:mod:`insights.evidence`) and say whose
    rise or drop it starts: a sum past ``evidence_surprise``, over at least twice ``min_count``
    calls more than expected (rises, which also need ``evidence_min_ratio`` times the reference;
    steep rises ``evidence_steep_min_count`` calls) or missing (drops, down to ``KEEP_RATIO_DOWN``
    of the reference or lower).

    Returns the rising and falling excursions, which keys' rise and drop start, and which of those
    rises the steep sum started (a reason names its own reference)."""
    c, p, refs, hot = view.counts, view.params, view.refs, view.slots
    weighed = p["evidence_surprise"] > 0
    if not weighed.any():  # set per key when tracked: these keys never had evidence to forget
        none = evidence.nothing(len(hot))
        return none, none, np.zeros(len(hot), bool), np.zeros(len(hot), bool), np.zeros(len(hot), bool)
    on = free & weighed & (True if refs.seasoned is None else refs.seasoned)
    minute = view.minute
    longest = p["evidence_max_minutes"]
    (up_ref, steep_ref, down_ref), (up_ratio, down_ratio) = evidence_references(refs), ratios(p)
    h, least = p["evidence_surprise"] * LN10, 2 * p["min_count"]
    most = minute_cap(h, p["evidence_minute_share"], refs.burst)
    out = evidence.advance(
        cols,
        hot,
        minute,
        c,
        np.stack([up_ref, steep_ref, down_ref]),  # the sides of EVIDENCE_SIDES: up, ux (steep), dn
        refs.phi,
        np.stack(
            [
                up_ratio,
                evidence.steep_ratio(p["evidence_steep_ratio"], p["evidence_steep_rate"], steep_ref),
                down_ratio,
            ]
        ),
        on,
        longest,
        most,
    )
    evidence.judged(cols, hot, minute)
    # A steep rise is far past the reference by construction; its calls need only clear a least
    # count once: evidence_steep_min_count (3) more than expected, counted from the excursion's
    # first minute, which has two calls' evidence behind it (five calls or more in all), or one's
    # where a minute may not add two (four; insights.evidence.accumulate).
    starts, rising = np.empty((3, len(hot)), dtype=bool), np.empty((4, len(hot)))
    steep_least = p["evidence_steep_min_count"]
    pick_starts(out, on, h, least, p["evidence_min_ratio"], steep_least, KEEP_RATIO_DOWN, starts, rising)
    up, steep_up, down = starts
    return evidence.excursion(rising), evidence.excursion(out[:, 2]), up, down, steep_up
