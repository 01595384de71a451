"""Windowed evidence: a CUSUM of the log-likelihood ratio per key, upwards and downwards.

The single-minute rules of :mod:`insights.start_rules` see a key going from 0.4 to 1.2 calls a
minute no differently from any other minute with one or two calls, yet over an hour the evidence is
overwhelming. A CUSUM (Page, 1954) accumulates, minute by minute, the log-likelihood ratio of "the
rate is ``rho`` times the reference" against "it is the reference", and restarts from zero whenever
the sum would fall below it::

    S_t = max(0, S_(t-1) + (x_t ln(rho) - mu_t (rho - 1)) / phi_t)

It is quasi-Poisson: divided by the key's dispersion ``phi`` (variance over mean; for ``phi == 1``
it is the Poisson likelihood ratio itself). It finds a shift of unknown start and length as soon as
its evidence suffices, whatever the window (Lorden, 1971), with one number of state per direction.
The first minute of the run in which the sum stays above a few units of evidence estimates where the
change began (see :func:`accumulate`): it becomes the Start's ``eventTime``, the first unusual
minute, as AWS reports it.

Upwards ``rho`` is ``evidence_rise_ratio`` (2) against the rising reference, and beside it
``evidence_steep_ratio`` (8) against its own reference (``References.evidence_steep``, pooled over
hours: a rare count's hourly means are mostly noise): one sum cannot serve both a busy key rising by
half and a rare count surging. With 2 each call adds ``ln 2 = 0.7`` nats, so an error code seen once
in two hours that fails 19 times in two hours (``x17``) gathers 12 nats, too few; with 8 each call
adds 2.1 and the same surge gathers 31, while a rise by half never grows the steep sum. Downwards
``rho`` is ``evidence_drop_ratio`` (0.1) against the falling reference. A true rate of ``r`` times
the reference adds ``mu (r ln(rho) - rho + 1)`` a minute on average, negative while ``r < (rho - 1)
/ ln(rho)`` (1.44 for 2; a drop sum grows only below 0.39 of the falling reference), so references
that are somewhat off do not accumulate. Why 2 and not 1.5: with 1.5 that point is 1.23, where keys
growing over days or wobbling with their workload sit for hours, and a CUSUM without drift crosses
any threshold in a time that grows only with its square. A sum fires at ``evidence_surprise *
ln(10)``: without a change, a CUSUM crosses ``h`` about once in ``e^h`` steps or fewer (Siegmund,
1985), so the knob reads on the ``-log10`` scale of the other surprise knobs.

Keys are judged only when hot (:mod:`insights.activity`); the minutes in between had no calls and are
applied in one step: for the upward sum each of them takes the same amount away, so flooring once
equals flooring each minute; the downward sum grows by the same amount each silent minute.

>>> from insights.columns import Columns
>>> cols = Columns(EVIDENCE_FIELDS)
>>> cols.ensure(1)
>>> slots, on = np.array([0]), np.array([True])
>>> one = lambda v: np.array([float(v)])
>>> rate, reference, phi, rho, longest, most = one(1.2), one(0.4), one(1.0), one(1.5), one(480), one(9)
>>> for minute in range(100, 160):  # 1.2 calls a minute against a reference of 0.4
...     up = accumulate(cols, "up", slots, minute, rate, reference, phi, rho, on, longest, most)
>>> round(float(up.sum[0]), 1), int(up.first[0]), round(float(up.observed[0]), 1)
(17.2, 102, 69.6)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from insights.baseline import References
from insights.columns import Columns, Field
from insights.evidence_kernel import MIN_RATE, NOT_STARTED, step_keys

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
LN10 = float(np.log(10.0))
#: The sums kept per key: a rise (``evidence_rise_ratio``), a steep rise (``evidence_steep_ratio``)
#: and a drop (``evidence_drop_ratio``).
EVIDENCE_SIDES = ("up", "ux", "dn")

#: Per key, one entry per side of :data:`EVIDENCE_SIDES`: the sum, the first minute of its
#: excursion, what was observed and expected since then; and the last minute the key was judged (the
#: silent minutes after it are applied when it is judged next). The sides share a column each, so a
#: close gathers and stores four arrays however many sides it weighs: with a few hundred hot keys a
#: minute the close's cost is the number of array operations, not their length.
EVIDENCE_FIELDS: dict[str, Field] = {
    "ev_at": Field("int32", fill=NOT_STARTED),
    "ev_back": Field("float32"),  # an insight the evidence opened: evidence that it is over
    "ev_sum": Field("float32", (len(EVIDENCE_SIDES),)),
    "ev_first": Field("int32", (len(EVIDENCE_SIDES),), fill=NOT_STARTED),
    "ev_obs": Field("float32", (len(EVIDENCE_SIDES),)),
    "ev_exp": Field("float32", (len(EVIDENCE_SIDES),)),
}
#: The column of each side in the evidence's columns.
SIDE = {side: i for i, side in enumerate(EVIDENCE_SIDES)}
#: The evidence's columns as states saved before the sides shared them named them (``ev_up_obs``…).
_PARTS = {"ev_sum": "", "ev_first": "_first", "ev_obs": "_obs", "ev_exp": "_exp"}
_OLD_PREFIXES = tuple(f"ev_{side}" for side in EVIDENCE_SIDES)


@dataclass(frozen=True, slots=True)
class Excursion:
    """One direction's evidence of the judged keys after a minute: the sum (nats), the first minute
    of its excursion (:data:`NOT_STARTED` when the sum is zero), and the calls observed and expected
    over the excursion."""

    sum: F64
    first: I64
    observed: F64
    expected: F64


def nothing(keys: int) -> Excursion:
    """No evidence for ``keys`` keys (the windowed evidence is off for them)."""
    zeros = np.zeros(keys)
    return Excursion(zeros, np.full(keys, NOT_STARTED, np.int64), zeros, zeros)


def step(counts: F64, mu: F64, phi: F64, rho: F64) -> F64:
    """The log-likelihood ratio one minute adds: rate ``rho * mu`` against ``mu``, quasi-Poisson.

    >>> float(np.round(step(np.array([0.0]), np.array([2.0]), np.array([1.0]), np.array([0.1]))[0], 2))
    1.8
    """
    return (counts * np.log(rho) - mu * (rho - 1.0)) / phi


def accumulate(
    cols: Columns,
    side: str,
    slots: I64,
    minute: int,
    counts: F64,
    mu: F64,
    phi: F64,
    rho: F64,
    on: Bool,
    longest: F64,
    most: F64,
) -> Excursion:
    """Advance one direction's sums of ``slots`` through ``minute`` (silent minutes since each was
    last judged first); keys not ``on`` (not free to start, or evidence off) restart from zero, and
    so does an excursion that began ``longest`` minutes ago or more (see :data:`MIN_RATE`). One
    minute adds at most ``most``: a single burst (an hourly job, a retry storm of a minute) is the
    single-minute rules' to judge, and heavier-tailed than the quasi-Poisson ratio assumes.

    The excursion is the run of minutes whose sum is at least two *units* of evidence upwards (what
    two calls add; :data:`~insights.evidence_kernel.RISE_DATING`) and one downwards (what one silent
    minute adds). The last zero of the sum, the textbook change point, comes too early on quiet
    keys: a few stray calls keep their sum just above zero for long stretches before a change, and
    at one unit a pair of them a few minutes before a rise of a key at 0.3 calls a minute still
    dated it from the pair, before it began. Upwards it is one unit where two are more than
    ``most``, as on a rare count's steep sum (ln 60 a call, two 8.2 nats against a cap of 6.9):
    there a minute of three calls, all one minute may add, would start no excursion, and the calls
    after it alone would have to clear the Start's least count; one unit still takes two calls (a
    call adds a unit less the minute's drift). Downwards it starts after the last minute at the
    reference or above: a key at one call a minute has silent minutes by chance, and the run of them
    just before a drop is not the drop.

    Call once per minute and side (or once for all sides, :func:`advance`); :func:`judged` then
    records ``minute`` as judged."""
    which = np.array([SIDE[side]], dtype=np.int64)
    return excursion(
        advance(cols, slots, minute, counts, mu[None, :], phi, rho[None, :], on, longest, most, which)[:, 0]
    )


#: All of :data:`EVIDENCE_SIDES`, as :func:`advance` takes them.
ALL_SIDES = np.arange(len(EVIDENCE_SIDES), dtype=np.int64)


def advance(
    cols: Columns,
    slots: I64,
    minute: int,
    counts: F64,
    mu: F64,
    phi: F64,
    rho: F64,
    on: Bool,
    longest: F64,
    most: F64,
    sides: I64 = ALL_SIDES,
) -> F64:
    """The sums of ``slots`` on ``sides`` (columns of :data:`EVIDENCE_SIDES`; ``mu`` and ``rho`` are
    sides by keys) advanced through ``minute`` in one call of the compiled step
    (:mod:`insights.evidence_kernel`): a close judges every hot key on all three sides. Returns the
    sum, first minute, observed and expected calls by side and key (4 x sides x keys)."""
    out = np.empty((4, len(sides), len(slots)))
    step_keys(
        (cols["ev_sum"], cols["ev_first"], cols["ev_obs"], cols["ev_exp"], cols["ev_at"]),
        slots.astype(np.int64, copy=False),
        sides,
        minute,
        counts.astype(np.float64, copy=False),
        mu,
        phi.astype(np.float64, copy=False),
        rho,
        on,
        longest.astype(np.float64, copy=False),
        most.astype(np.float64, copy=False),
        out,
    )
    return out


def excursion(out: F64) -> Excursion:
    """One side's excursion from a row of :func:`advance`'s output (4 x keys)."""
    return Excursion(out[0], out[1].astype(np.int64), out[2], out[3])


def upgrade_state(state: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
    """A lifecycle state saved while each side had columns of its own (``ev_up``, ``ev_up_first``…),
    with them as the shared columns of :data:`EVIDENCE_FIELDS`; other states as they are."""
    if f"ev_{EVIDENCE_SIDES[0]}" not in state:
        return state
    upgraded = {name: array for name, array in state.items() if not name.startswith(_OLD_PREFIXES)}
    for name, part in _PARTS.items():
        upgraded[name] = np.stack([state[f"ev_{side}{part}"] for side in EVIDENCE_SIDES], axis=1)
    return upgraded


def evidence_references(refs: References) -> tuple[F64, F64, F64]:
    """The rising, steep rising and falling references the evidence weighs counts against (see
    :class:`~insights.baseline.References`; the steep one is the rising one where none was built)."""
    if refs.evidence_up is None:
        raise ValueError("references built without the evidence's (Baseline.references(evidence=True))")
    steep = refs.evidence_up if refs.evidence_steep is None else refs.evidence_steep
    return refs.evidence_up, steep, refs.mu_down


#: The most of the threshold one minute of a bursty key (``References.burst``: an hourly job's) may
#: add (see :func:`accumulate`), whatever ``evidence_minute_share`` allows other keys. A job runs one
#: to three minutes, and a run bigger than most is the single-minute rules' to judge against its
#: other runs: at half, a quiet job's run of 6, 4 and 4 calls (against 6 in all an hour before)
#: started a rise.
BURSTY_MINUTE_SHARE = 1 / 3


def minute_cap(threshold: F64 | float, share: F64 | float, burst: F64) -> F64:
    """The most one minute adds to a sum: ``share`` of ``threshold``, at most
    :data:`BURSTY_MINUTE_SHARE` of it for bursty keys (``burst`` above 0).

    Half (``evidence_minute_share``'s default) lets two minutes at the cap start a rise, never one;
    a third took three, and a spike of 7 and 8 calls in two minutes against a reference of 0.7 a
    minute, which no single-minute rule started, held 9.2 of the 13.8 nats and was missed.

    >>> minute_cap(np.array([12.0, 12.0]), np.array([0.5, 0.5]), np.array([0.0, 4.0])).tolist()
    [6.0, 4.0]
    """
    capped: F64 = threshold * np.where(burst > 0, np.minimum(share, BURSTY_MINUTE_SHARE), share)
    return capped


def ratios(params: dict[str, F64]) -> tuple[F64, F64]:
    """The rise and drop ratios the evidence weighs (``evidence_rise_ratio``, ``evidence_drop_ratio``)."""
    return params["evidence_rise_ratio"], params["evidence_drop_ratio"]


def steep_ratio(ratio: F64, rate: F64, steep_ref: F64) -> F64:
    """The ratio the steep sum weighs against ``steep_ref``: ``ratio`` (``evidence_steep_ratio``),
    or more where that falls short of ``rate`` (``evidence_steep_rate``) calls a minute.

    A count seen a few times a day (a new error code, an API called now and then) hammered by a
    script's retries is a surge to a hundred times its rate or more. Weighed at eight times, each
    call adds ``ln 8`` whatever the reference, and the five or six calls of such a burst never
    reach the threshold (13.8 nats takes seven); weighed at the rate they come, each adds
    ``ln(rate / reference)``, ln 60 for a code never seen. The cost is a
    steeper drift per silent minute (the rate itself), so the calls must come within the hour, as
    hammering does.

    >>> steep_ratio(np.array([8.0, 8.0]), np.array([0.1, 0.1]), np.array([0.001, 0.5])).round(1).tolist()
    [100.0, 8.0]
    """
    weighed: F64 = np.maximum(ratio, rate / np.maximum(steep_ref, MIN_RATE))
    return weighed


def judged(cols: Columns, slots: I64, minute: int) -> None:
    """``slots`` have been judged through ``minute``."""
    cols["ev_at"][slots] = minute


def back_to_normal(total: F64, counts: F64, mu: F64, phi: F64, rho: F64) -> F64:
    """The sum of evidence that an open insight's rate is back at its reference: the CUSUM of the
    reverse test (the reference against ``rho`` times it), one minute on.

    >>> one = lambda v: np.array([float(v)])
    >>> float(np.round(back_to_normal(one(0.0), one(1.0), one(1.0), one(1.0), one(0.1)), 2)[0])
    1.4
    """
    mu = np.maximum(mu, MIN_RATE)
    back: F64 = np.maximum(total - step(counts, mu, np.maximum(phi, 1.0), rho), 0.0)
    return back


WATCH_MINUTES = 60.0


def watch(refs: References, params: dict[str, F64]) -> Bool:
    """Keys an hour without calls could start dropping (their silent minutes must be judged as they
    pass, not when the next call comes)."""
    h = params["evidence_surprise"] * LN10
    if not (h > 0).any():
        return np.zeros(len(h), dtype=bool)
    mu_down, phi = refs.mu_down, np.maximum(refs.phi, 1.0)
    silent_minute = step(np.zeros_like(mu_down), mu_down, phi, params["evidence_drop_ratio"])
    watched: Bool = (h > 0) & (silent_minute * WATCH_MINUTES >= h)
    return watched


def reset(cols: Columns, slots: I64) -> None:
    """Forget ``slots``' evidence (an insight opened: its End is judged on fresh sums)."""
    for name in _PARTS:
        cols[name][slots] = EVIDENCE_FIELDS[name].fill
