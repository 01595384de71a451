"""Start/End of insights for every key at once; the only writer of lifecycle state.

An insight starts on strong evidence (the rules of :mod:`insights.start_rules`: a single-minute
spike, a sustained rise or a drop) and stays open while minutes remain unusual on weaker evidence
(``keep_surprise``); it ends after ``end_quiet_minutes`` ordinary minutes in a row, its
``eventTime`` being the first of them. An insight longer than ``max_insight_minutes`` is closed and
its level accepted as the new normal, so a permanent change does not stay an insight forever.

A spike may also start before its minute closes (:mod:`insights.early`): :meth:`Lifecycle.announce`
marks the key, and closing that minute opens the insight whatever its final count, without a
second Start, so a Start is never taken back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from insights import evidence, reason, start_rules
from insights.baseline import References
from insights.columns import Columns, Field
from insights.detector import lower_surprise, upper_surprise
from insights.evidence import (
    EVIDENCE_FIELDS,
    LN10,
    MINUTE_SHARE,
    Excursion,
    accumulate,
    evidence_references,
    ratios,
)
from insights.snapshot import pack_array, unpack_array
from insights.transition import InsightFigures

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
UP, DOWN = 1, -1
KEEP_RATIO_UP = 1.25
KEEP_RATIO_DOWN = 0.6

LIFECYCLE_FIELDS: dict[str, Field] = {
    "open_dir": Field("int8"),
    "open_ev": Field("bool"),  # opened by windowed evidence: it ends on evidence too
    "early_min": Field("int64", fill=-1),
    "ins_start": Field("int64"),
    "ins_sum": Field("float64"),
    "ins_n": Field("int32"),
    "quiet": Field("int32"),
    "quiet_sum": Field("float64"),
    "base_avg": Field("float64"),
    "base_n": Field("int32"),
    "up_streak": Field("int32"),
    "up_sum": Field("float64"),
    "up_mu": Field("float64"),
    "dn_streak": Field("int32"),
    "dn_sum": Field("float64"),
    "dn_mu": Field("float64"),
    **EVIDENCE_FIELDS,
}
#: Columns a state saved before the windowed evidence lacks: it restores with none accumulated.
SINCE_EVIDENCE = frozenset({"open_ev", *EVIDENCE_FIELDS})
RESET_AT_START = ("quiet", "quiet_sum", "up_streak", "up_sum", "up_mu", "dn_streak", "dn_sum", "dn_mu")


@dataclass(frozen=True, slots=True)
class MinuteView:
    """One closed minute: counts, references and parameters of the key ``slots`` it judges (sorted;
    every other array is aligned with them)."""

    minute: int
    slots: I64
    counts: F64
    refs: References
    eligible: Bool
    params: dict[str, F64]


@dataclass(frozen=True, slots=True)
class Decisions:
    """Slots that start (with direction and first minute) or end during one minute; ``surprise`` is
    aligned with the judged slots of the :class:`MinuteView`.

    Why each starts, aligned with ``start_slots``: the rule (an index into
    :data:`insights.reason.RULES`), the calls its reference expected over its ``start_n`` minutes
    (``start_sum`` observed), the surprise it reached and the threshold that was.
    """

    start_slots: I64
    start_dirs: I64
    start_first: I64
    start_sum: F64
    start_n: I64
    start_evidence: Bool
    surprise: F64
    end_slots: I64
    end_forced: Bool
    start_rule: I64
    start_expected: F64
    start_surprise: F64
    start_threshold: F64


def no_starts(surprise: F64, ends: I64, forced: Bool) -> Decisions:
    """The decisions of a minute in which nothing starts."""
    none_i, none_f = np.zeros(0, np.int64), np.zeros(0, np.float64)
    return Decisions(
        start_slots=none_i,
        start_dirs=none_i,
        start_first=none_i,
        start_sum=none_f,
        start_n=none_i,
        start_evidence=np.zeros(0, bool),
        surprise=surprise,
        end_slots=ends,
        end_forced=forced,
        start_rule=none_i,
        start_expected=none_f,
        start_surprise=none_f,
        start_threshold=none_f,
    )


class Lifecycle:
    """Open insights, the streaks that may start one, and the figures their Starts and Ends carry.

    >>> from insights.config import DetectorParams
    >>> params = {n: np.array([float(v)]) for n, v in vars(DetectorParams()).items() if n != "enabled"}
    >>> def one(x: float) -> F64:
    ...     return np.array([x])
    >>> refs = References(mu_up=one(5.0), mu_down=one(5.0), peak=one(9.0), burst=one(0.0), phi=one(1.0))
    >>> lifecycle = Lifecycle()
    >>> lifecycle.cols.ensure(1)
    >>> view = MinuteView(100, np.array([0]), one(40.0), refs, np.array([True]), params)
    >>> decided = lifecycle.decide(view)
    >>> decided.start_slots.tolist(), decided.start_first.tolist()
    ([0], [100])
    >>> lifecycle.open_insights(100, decided, one(5.0), np.array([60])).tolist()  # not announced early
    [False]
    >>> figures = lifecycle.figures(0, (100, 100, 100, 1))
    >>> figures.direction, figures.baseline, figures.insight_average
    ('up', (5.0, 60), 40.0)
    """

    def __init__(self) -> None:
        self.cols = Columns(LIFECYCLE_FIELDS)

    # -- reading --------------------------------------------------------------------------------
    def is_open(self, index: slice | I64) -> Bool:
        is_open: Bool = self.cols["open_dir"][index] != 0
        return is_open

    def quiet(self, index: slice | I64) -> Bool:
        """Keys whose open insight saw an ordinary minute last (it may be ending)."""
        quiet: Bool = self.cols["quiet"][index] > 0
        return quiet

    def busy(self, slots: I64) -> Bool:
        """Keys of ``slots`` the next close must judge whatever their count: in (or announcing) an
        insight, or in a streak that a minute without calls would end."""
        c = self.cols
        busy: Bool = (
            (c["open_dir"][slots] != 0) | (c["early_min"][slots] >= 0) | (c["up_streak"][slots] > 0)
        ) | ((c["dn_streak"][slots] > 0) | (c["ev_dn"][slots] > 0))
        return busy

    def direction(self, slot: int) -> int:
        """:data:`UP` or :data:`DOWN` while ``slot`` is in an insight, else 0."""
        return int(self.cols["open_dir"][slot])

    def free(self, slots: I64) -> Bool:
        """Keys that may start: not in an insight and not already announcing one."""
        c = self.cols
        free: Bool = (c["open_dir"][slots] == 0) & (c["early_min"][slots] < 0)
        return free

    def rise(self, slots: I64) -> tuple[F64, F64]:
        """The current sustained-rise streak of ``slots``: its length and its sum of counts."""
        c = self.cols
        return c["up_streak"][slots].astype(np.float64), c["up_sum"][slots].astype(np.float64)

    def figures(
        self, slot: int, minutes: tuple[int, int, int, int], average: float | None = None
    ) -> InsightFigures:
        """The figures of the insight of ``slot``: ``minutes`` as :class:`InsightFigures` has them;
        ``average`` replaces the average of its unusual minutes (an early Start's count so far)."""
        c = self.cols
        if average is None:
            average = float(c["ins_sum"][slot]) / max(int(c["ins_n"][slot]), 1)
        return InsightFigures(
            direction="down" if self.direction(slot) == DOWN else "up",
            minutes=minutes,
            baseline=(float(c["base_avg"][slot]), max(int(c["base_n"][slot]), 1)),
            insight_average=average,
        )

    def ending(self, slot: int, minute: int, forced: bool) -> InsightFigures:
        """The figures of an End decided at ``minute``: its event minute is the first quiet minute
        (the minute after, when the insight was closed for lasting too long)."""
        end = minute + 1 if forced else minute - int(self.cols["quiet"][slot]) + 1
        start = int(self.cols["ins_start"][slot])
        return self.figures(slot, (start, end, minute, end - start))

    # -- deciding -------------------------------------------------------------------------------
    def decide(self, view: MinuteView) -> Decisions:
        """Advance streaks and open insights by one minute and say what starts and ends.

        A key whose spike at a later minute already started early (``early_min``) starts nothing
        before that minute, and starts at it whatever its final count: the Start is already out.
        """
        cols, c, p, refs, hot = self.cols, view.counts, view.params, view.refs, view.slots
        is_open = self.is_open(hot)
        early = cols["early_min"][hot]
        started_early = early == view.minute
        free = view.eligible & ~is_open & (early < 0)

        gates = free & start_rules.spike_gates(c, refs.mu_up, refs.peak, p)
        spiking, surprise = start_rules.spike_starts(
            gates, c, np.maximum(refs.mu_up, refs.burst), refs.phi, p
        )

        self._streak("up", hot, free & start_rules.raised(c, refs.mu_up, p), c, refs.mu_up)
        streak, rise_sum = cols["up_streak"][hot], cols["up_sum"][hot]
        sustained = start_rules.sustained(streak, rise_sum, p)
        s_sus = start_rules.sum_surprise(True, sustained, rise_sum, cols["up_mu"][hot], refs.phi)

        self._streak("dn", hot, free & start_rules.dropping(c, refs.mu_down, p), c, refs.mu_down)
        drop_streak, drop_sum = cols["dn_streak"][hot], cols["dn_sum"][hot]
        drop = start_rules.dropped(drop_streak, p)
        s_drop = start_rules.sum_surprise(False, drop, drop_sum, cols["dn_mu"][hot], refs.phi)

        threshold = p["start_surprise"]
        start_single = spiking | started_early
        start_sus = ~start_single & sustained & (s_sus >= threshold)
        start_drop = ~start_single & ~start_sus & (s_drop >= threshold)
        rise, fall, ev_up, ev_dn = self._evidence(view, free)
        classic = start_single | start_sus | start_drop
        ev_up &= ~classic
        ev_dn &= ~classic & ~ev_up
        at = np.flatnonzero(classic | ev_up | ev_dn)
        ends, forced = self._advance_open(view, is_open)
        judged = np.maximum.reduce([surprise, s_sus, s_drop, rise.sum / LN10, fall.sum / LN10])
        if not len(at):  # most minutes: nothing starts, and the close is a hot path
            return no_starts(judged, ends, forced)
        dirs = np.where((start_drop | ev_dn)[at], DOWN, UP)
        n = np.select(
            [start_single[at], start_sus[at], start_drop[at], ev_up[at]],
            [1, streak[at], drop_streak[at], view.minute - rise.first[at] + 1],
            view.minute - fall.first[at] + 1,
        )
        total = np.select(
            [start_single[at], start_sus[at], start_drop[at], ev_up[at]],
            [c[at], rise_sum[at], drop_sum[at], rise.observed[at]],
            fall.observed[at],
        )
        # Why each starts (see insights.reason): what its rule expected, and the surprise it reached.
        rules = [start_single[at], start_sus[at], start_drop[at], ev_up[at]]
        spike_ref = np.maximum(refs.mu_up[at], refs.burst[at])
        expected = np.select(
            rules,
            [spike_ref, cols["up_mu"][hot[at]], cols["dn_mu"][hot[at]], rise.expected[at]],
            fall.expected[at],
        )
        fired = np.select(
            rules,
            [surprise[at], s_sus[at], s_drop[at], rise.sum[at] / LN10],
            fall.sum[at] / LN10,
        )
        rule = np.select(
            rules,
            [reason.SPIKE, reason.SUSTAINED_RISE, reason.DROP, reason.EVIDENCE_RISE],
            reason.EVIDENCE_DROP,
        )
        by_evidence = (ev_up | ev_dn)[at]
        return Decisions(
            start_slots=hot[at].astype(np.int64),
            start_dirs=dirs.astype(np.int64),
            start_first=(view.minute - n + 1).astype(np.int64),
            start_sum=total.astype(np.float64),
            start_n=n.astype(np.int64),
            start_evidence=by_evidence,
            surprise=judged,
            end_slots=ends,
            end_forced=forced,
            start_rule=rule.astype(np.int64),
            start_expected=expected.astype(np.float64),
            start_surprise=fired.astype(np.float64),
            start_threshold=np.where(by_evidence, p["evidence_surprise"][at], threshold[at]),
        )

    def _evidence(self, view: MinuteView, free: Bool) -> tuple[Excursion, Excursion, Bool, Bool]:
        """Advance the windowed evidence of the judged keys (:mod:`insights.evidence`) and say whose
        rise or drop it starts: a sum past ``evidence_surprise``, over at least twice ``min_count``
        calls more than expected (rises, which also need ``evidence_min_ratio`` times the reference)
        or missing (drops, down to ``KEEP_RATIO_DOWN`` of the reference or lower)."""
        cols, c, p, refs, hot = self.cols, view.counts, view.params, view.refs, view.slots
        weighed = p["evidence_surprise"] > 0
        if not weighed.any():  # set per key when tracked: these keys never had evidence to forget
            none = evidence.nothing(len(hot))
            return none, none, np.zeros(len(hot), bool), np.zeros(len(hot), bool)
        on = free & weighed & (True if refs.seasoned is None else refs.seasoned)
        minute = view.minute
        longest = p["evidence_max_minutes"]
        (up_ref, down_ref), (up_ratio, down_ratio) = evidence_references(refs), ratios(p)
        h, least = p["evidence_surprise"] * LN10, 2 * p["min_count"]
        most = h * MINUTE_SHARE
        rise = accumulate(cols, "up", hot, minute, c, up_ref, refs.phi, up_ratio, on, longest, most)
        steep_ratio = p["evidence_steep_ratio"]
        steep = accumulate(cols, "ux", hot, minute, c, up_ref, refs.phi, steep_ratio, on, longest, most)
        fall = accumulate(cols, "dn", hot, minute, c, down_ref, refs.phi, down_ratio, on, longest, most)
        evidence.judged(cols, hot, minute)
        up = on & (rise.sum >= h) & (rise.observed - rise.expected >= least)
        up &= rise.observed >= p["evidence_min_ratio"] * rise.expected
        # A steep rise is far past the reference by construction; its calls need only clear the
        # single-minute rules' least count once.
        steep_up = on & ~up & (steep.sum >= h) & (steep.observed - steep.expected >= p["min_count"])
        down = on & (fall.sum >= h) & (fall.expected - fall.observed >= least)
        down &= fall.observed <= KEEP_RATIO_DOWN * fall.expected
        rising = evidence.either(rise, steep, steep_up | (~up & (steep.sum > rise.sum)))
        return rising, fall, up | steep_up, down

    def _streak(self, prefix: str, hot: I64, extend: Bool, counts: F64, mu: F64) -> None:
        """Extend or reset one kind of streak (count, observed sum, expected sum) of the ``hot`` keys."""
        cols = self.cols
        streak = cols[f"{prefix}_streak"]
        current = streak[hot]
        if not extend.any() and not current.any():
            return
        total, expected = cols[f"{prefix}_sum"], cols[f"{prefix}_mu"]
        streak[hot] = np.where(extend, current + 1, 0)
        total[hot] = np.where(extend, total[hot] + counts, 0.0)
        expected[hot] = np.where(extend, expected[hot] + mu, 0.0)

    def _advance_open(self, view: MinuteView, is_open: Bool) -> tuple[I64, Bool]:
        """Update open insights with this minute; return the slots that end and whether forcibly."""
        cols = self.cols
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
            up_ref, down_ref = evidence_references(view.refs)
            shown = cols["ins_sum"][slots] / np.maximum(cols["ins_n"][slots], 1)
            steepness = shown / np.maximum(up_ref[at], evidence.MIN_RATE)
            rise_ratio = np.clip(steepness, up_ratio[at], p["evidence_steep_ratio"][at])
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

    # -- applying -------------------------------------------------------------------------------
    def open_insights(self, minute: int, d: Decisions, base_avg: F64, base_n: I64) -> Bool:
        """Open the insights of ``d``'s starts; ``base_avg``/``base_n`` are their baselines now.

        Returns which of them were announced early: their Start is out, and their baseline stays
        the one it carried.
        """
        c, starts = self.cols, d.start_slots
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

    def announce(self, slot: int, minute: int, base_avg: float, base_n: int) -> None:
        """An early Start of ``slot`` at open ``minute`` went out with this baseline."""
        c = self.cols
        c["early_min"][slot] = minute
        c["base_avg"][slot] = base_avg
        c["base_n"][slot] = base_n

    def close(self, slot: int) -> None:
        self.cols["open_dir"][slot] = 0
        self.cols["open_ev"][slot] = False

    def to_state(self, rows: int) -> dict[str, Any]:
        return {name: pack_array(a) for name, a in self.cols.to_state(rows).items()}

    def load_state(self, state: dict[str, Any], rows: int) -> None:
        self.cols.load_state({n: unpack_array(a) for n, a in state.items()}, rows, SINCE_EVIDENCE)
