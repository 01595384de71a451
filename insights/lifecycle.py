"""Start/End of insights for every key at once; the only writer of lifecycle state.

An insight starts on strong evidence (the rules of :mod:`insights.start_rules`: a single-minute
spike, a sustained rise or a drop; or the windowed evidence of :mod:`insights.evidence_starts`) and
stays open while minutes remain unusual on weaker evidence (``keep_surprise``); it ends after
``end_quiet_minutes`` ordinary minutes in a row, its ``eventTime`` being the first of them. An
insight longer than ``max_insight_minutes`` is closed and its level accepted as the new normal, so a
permanent change does not stay an insight forever.

The lifecycle owns the state and judges what starts; advancing the insights already open, and the
figures they carry, is :mod:`insights.ongoing`'s, and what a minute's judgement says is
:mod:`insights.decisions`' (plain values), so each stays small enough to read at once.

A spike may also start before its minute closes (:mod:`insights.early`): :meth:`Lifecycle.announce`
marks the key, and closing that minute opens the insight whatever its final count, without a
second Start, so a Start is never taken back.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from insights import evidence_kernel, evidence_starts, ongoing, reason, start_rules
from insights.columns import Columns, Field
from insights.decisions import DOWN, UP, Decisions, MinuteView, no_starts
from insights.evidence import EVIDENCE_FIELDS, LN10, SIDE, upgrade_state
from insights.snapshot import pack_array, unpack_array
from insights.transition import InsightFigures

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]

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


class Lifecycle:
    """Open insights, the streaks that may start one, and the figures their Starts and Ends carry.

    >>> from insights.baseline import References
    >>> from insights.config import DetectorParams
    >>> params = {n: np.array([float(v)]) for n, v in vars(DetectorParams()).items() if n != "enabled"}
    >>> def one(x: float) -> F64:
    ...     return np.array([x])
    >>> refs = References(mu_up=one(5.0), mu_down=one(5.0), peak=one(9.0), burst=one(0.0), phi=one(1.0),
    ...                   evidence_up=one(5.0), evidence_steep=one(5.0), seasoned=np.array([True]))
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
        evidence_kernel.load()  # the evidence's compiled step, before the first close

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
        ) | ((c["dn_streak"][slots] > 0) | (c["ev_sum"][slots, SIDE["dn"]] > 0))
        return busy

    def direction(self, slot: int) -> int:
        """:data:`~insights.decisions.UP` or :data:`~insights.decisions.DOWN` while ``slot`` is in an
        insight, else 0."""
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
        """See :func:`insights.ongoing.figures`."""
        return ongoing.figures(self.cols, slot, minutes, average)

    def ending(self, slot: int, minute: int, forced: bool) -> InsightFigures:
        """See :func:`insights.ongoing.ending`."""
        return ongoing.ending(self.cols, slot, minute, forced)

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
        rise, fall, ev_up, ev_dn, steep = evidence_starts.judge(cols, view, free)
        classic = start_single | start_sus | start_drop
        ev_up &= ~classic
        ev_dn &= ~classic & ~ev_up
        at = np.flatnonzero(classic | ev_up | ev_dn)
        ends, forced = ongoing.advance(cols, view, is_open)
        judged = np.maximum.reduce([surprise, s_sus, s_drop, rise.sum / LN10, fall.sum / LN10])
        if not len(at):  # most minutes: nothing starts, and the close is a hot path
            return no_starts(judged, ends, forced)
        dirs = np.where((start_drop | ev_dn)[at], DOWN, UP)
        n = np.select(
            [start_single[at], start_sus[at], start_drop[at], ev_up[at]],
            [1, streak[at], drop_streak[at], view.minute - rise.first[at] + 1],
            view.minute - np.minimum(fall.first[at], view.minute) + 1,
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
            [
                reason.SPIKE,
                reason.SUSTAINED_RISE,
                reason.DROP,
                np.where(steep[at], reason.EVIDENCE_STEEP_RISE, reason.EVIDENCE_RISE),
            ],
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

    # -- applying -------------------------------------------------------------------------------
    def open_insights(self, minute: int, d: Decisions, base_avg: F64, base_n: I64) -> Bool:
        """Open the insights of ``d``'s starts; see :func:`insights.ongoing.open_starts`."""
        return ongoing.open_starts(self.cols, minute, d, base_avg, base_n)

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
        self.cols.load_state(
            upgrade_state({n: unpack_array(a) for n, a in state.items()}), rows, SINCE_EVIDENCE
        )
