"""Error rises judged against the API's calls too: a ratio test.

An error code's count is judged against its own background, like any key's. But when its API makes
more calls than usual, more of them fail with each code for that reason alone: a release that
triples a write API's calls triples its ``ThrottlingException``s too, while the share of calls that
fail has not moved. CloudTrail counts the calls of write APIs (``ApiCallRateInsight``), so for an
error key whose API's call-rate key is tracked the engine knows how far the calls are above their
own reference over about the same minutes (:func:`call_factor`). A rise of the error count then
starts only if it is still surprising against its expected count times that factor
(:func:`explained`): the failures per call rose, not only the calls. The calls' own rise is the
call-rate key's insight to report.

Read APIs have no call-rate key (CloudTrail Insights does not count their calls), so their error
codes are judged against their background alone; so are error keys while their API's calls are
ordinary: the factor is 1 unless the calls are unusual themselves, at ``keep_surprise`` (a quiet
write API's calls wander, and a busy minute by chance must not hide an error surge).

>>> count = np.array([30.0])  # errors in a minute, against 3 expected
>>> explained(count, np.array([3.0]), np.array([1.0]), np.array([1.0]), np.array([7.0])).tolist()
[False]
>>> factor = call_factor(np.array([100.0]), np.array([10.0]), np.array([True]))  # calls x10 too
>>> factor.tolist(), explained(count, np.array([3.0]), factor, np.array([1.0]), np.array([7.0])).tolist()
([10.0], [True])
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from insights.baseline import References
from insights.columns import Columns
from insights.decisions import UP, Decisions, MinuteView
from insights.detector import upper_surprise
from insights.evidence import LN10, SIDE
from insights.evidence_kernel import NOT_STARTED
from insights.keyspace import KeySpace
from insights.transition import ERROR_RATE, insight_type_of

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
#: A call reference below this counts as this (a factor, not a division by zero).
LEAST_CALLS = 1e-3


def call_factor(observed: F64, expected: F64, unusual: Bool) -> F64:
    """How many times their reference the API's calls are (at least 1): ``observed`` over
    ``expected`` where the calls are ``unusual``, else 1."""
    ratio = observed / np.maximum(expected, LEAST_CALLS)
    factor: F64 = np.where(unusual, np.maximum(ratio, 1.0), 1.0)
    return factor


def explained(observed: F64, expected: F64, factor: F64, phi: F64, threshold: F64) -> Bool:
    """Error rises of ``observed`` against ``expected`` that the calls explain: raised by a
    ``factor`` above 1 and, against ``expected * factor``, short of ``threshold`` (``-log10``).

    A sum over ``n`` minutes of a negative binomial with dispersion ``phi`` has that dispersion too,
    so one tail serves a single minute and a window alike."""
    raised = factor > 1.0
    surprise = upper_surprise(observed, expected * factor, np.maximum(phi, 1.0))
    by_calls: Bool = raised & (surprise < threshold)
    return by_calls


def api_slot(keys: KeySpace, slot: int) -> int | None:
    """The slot of the call-rate key of error key ``slot``'s API, when tracked (None for a call-rate
    key, or an API whose writes are not counted: read APIs)."""
    key = keys.key(slot)
    if insight_type_of(key) != ERROR_RATE:
        return None
    return keys.slot_of(key[:-1])


Calls = tuple[float, float, bool]
#: Calls that say nothing: none observed, none expected, not unusual.
ORDINARY: Calls = (0.0, 0.0, False)


def _open_calls(cols: Columns, api: int) -> Calls | None:
    """The calls of call-rate key ``api`` while it is in a rise insight: the insight's own figures."""
    if cols["open_dir"][api] != UP:
        return None
    minutes_open = max(int(cols["ins_n"][api]), 1)
    return float(cols["ins_sum"][api]), minutes_open * float(cols["base_avg"][api]), True


def _minute_calls(slots: I64, counts: F64, refs: References, api: int, keep: float) -> Calls:
    """The calls of ``api`` in one minute (``counts`` of the sorted ``slots``, their references),
    unusual at ``keep`` against the spike rule's reference; no calls when ``api`` had none."""
    j = int(np.searchsorted(slots, api))
    if j == len(slots) or int(slots[j]) != api:
        return ORDINARY
    reference = max(float(refs.mu_up[j]), float(refs.burst[j]))
    count, phi = counts[j : j + 1], np.maximum(refs.phi[j : j + 1], 1.0)
    surprise = float(upper_surprise(count, np.array([reference]), phi)[0])
    return float(count[0]), reference, surprise >= keep


def _window_calls(cols: Columns, api: int, keep: float, window: tuple[int, int]) -> Calls:
    """The calls of ``api`` over the minutes ``window`` (first, last) of a longer start: the larger
    rise of the calls' rising evidence now, when it holds ``keep`` (``-log10``) of evidence, and of
    their last insight, for the share of the window it covered (a rise of the calls that the
    errors' slower evidence outlasted, by the time it decides, is still what raised them)."""
    up = SIDE["up"]
    unusual = int(cols["ev_first"][api, up]) != NOT_STARTED and float(cols["ev_sum"][api, up]) >= keep * LN10
    evidence = (float(cols["ev_obs"][api, up]), float(cols["ev_exp"][api, up])) if unusual else (0.0, 0.0)
    first, last = window
    began, lasted, average = (
        int(cols["ins_start"][api]),
        int(cols["ins_n"][api]),
        float(cols["base_avg"][api]),
    )
    covered = min(began + lasted, last + 1) - max(began, first)
    if lasted == 0 or covered <= 0 or average <= 0:
        return evidence[0], evidence[1], unusual
    rise = float(cols["ins_sum"][api]) / (lasted * average) - 1.0
    expected = (last - first + 1) * average
    observed = expected * (1.0 + rise * covered / (last - first + 1))
    if observed / expected <= evidence[0] / max(evidence[1], LEAST_CALLS):
        return evidence[0], evidence[1], unusual
    return observed, expected, rise > 0


def _calls(view: MinuteView, d: Decisions, cols: Columns, api: int, start: int, keep: float) -> Calls:
    """The calls of call-rate key ``api`` around the ``start``-th of ``d``'s starts. An insight of
    the calls open or starting now says so with its own figures; else a one-minute start compares
    with this minute's calls, a longer one with the calls over its minutes."""
    opened = _open_calls(cols, api)
    if opened is not None:
        return opened
    starting = np.flatnonzero((d.start_slots == api) & (d.start_dirs == UP))
    if len(starting):
        i = int(starting[0])
        return float(d.start_sum[i]), float(d.start_expected[i]), True
    if int(d.start_n[start]) == 1:
        return _minute_calls(view.slots, view.counts, view.refs, api, keep)
    return _window_calls(cols, api, keep, (int(d.start_first[start]), view.minute))


def calls_explain(view: MinuteView, d: Decisions, cols: Columns, keys: KeySpace) -> Bool:
    """Which of ``d``'s starts are error rises the API's calls explain (see :func:`explained`);
    ``cols`` are the lifecycle's. A spike already announced early (:mod:`insights.early`) is out and
    opens whatever this says."""
    starts = len(d.start_slots)
    at = np.searchsorted(view.slots, d.start_slots)
    keep = view.params["keep_surprise"][at]
    calls = [ORDINARY] * starts
    for i, (slot, direction) in enumerate(zip(d.start_slots.tolist(), d.start_dirs.tolist(), strict=True)):
        announced = int(cols["early_min"][slot]) == view.minute
        api = api_slot(keys, slot) if direction == UP and not announced else None
        if api is not None:
            calls[i] = _calls(view, d, cols, api, i, float(keep[i]))
    return _explained_by(calls, d.start_sum, d.start_expected, view.refs.phi[at], d.start_threshold)


def early_calls_explain(
    slots: I64,
    counts: F64,
    refs: References,
    params: dict[str, F64],
    cols: Columns,
    keys: KeySpace,
    found: I64,
) -> Bool:
    """Which ``found`` (indexes into ``slots``) spikes of an open minute, announced early with the
    counts so far, are error rises the API's calls so far explain, as :func:`calls_explain` would
    judge them at close."""
    calls = [ORDINARY] * len(found)
    for i, index in enumerate(found.tolist()):
        api = api_slot(keys, int(slots[index]))
        if api is not None:
            opened = _open_calls(cols, api)
            keep = float(params["keep_surprise"][index])
            calls[i] = opened if opened is not None else _minute_calls(slots, counts, refs, api, keep)
    reference = np.maximum(refs.mu_up, refs.burst)[found]
    return _explained_by(calls, counts[found], reference, refs.phi[found], params["start_surprise"][found])


def _explained_by(calls: list[Calls], observed: F64, expected: F64, phi: F64, threshold: F64) -> Bool:
    """:func:`explained` for starts whose API's calls are ``calls``."""
    unusual = np.array([c[2] for c in calls], dtype=bool)
    if not unusual.any():
        return unusual
    call_observed, call_expected = np.array([c[0] for c in calls]), np.array([c[1] for c in calls])
    return explained(observed, expected, call_factor(call_observed, call_expected, unusual), phi, threshold)
