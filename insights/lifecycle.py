"""Start/End decisions with hysteresis, for all keys of a track at once.

An insight starts on strong evidence (single-minute spike, sustained rise, or drop, each gated as
:class:`~insights.config.DetectorParams` describes) and stays open while minutes remain unusual on
weaker evidence; it ends after ``end_quiet_minutes`` ordinary minutes in a row, its ``eventTime``
being the first of them. An insight longer than ``max_insight_minutes`` is closed and its level
accepted as the new normal, so a permanent change does not stay an insight forever.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from insights.columns import Columns, Field
from insights.detector import lower_surprise, upper_surprise

F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
UP, DOWN = 1, -1
KEEP_RATIO_UP = 1.25
KEEP_RATIO_DOWN = 0.6

LIFECYCLE_FIELDS: dict[str, Field] = {
    "open_dir": Field("int8"),
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
}


@dataclass(frozen=True, slots=True)
class MinuteView:
    """One closed minute of a track: counts and references for every slot (length ``rows``)."""

    minute: int
    counts: F64
    mu_up: F64
    mu_down: F64
    peak: F64
    burst: F64
    phi: F64
    eligible: Bool
    params: dict[str, F64]


@dataclass(frozen=True, slots=True)
class Decisions:
    """Slots that start (with direction and first minute) or end during one minute."""

    start_slots: npt.NDArray[np.int64]
    start_dirs: npt.NDArray[np.int64]
    start_first: npt.NDArray[np.int64]
    start_sum: F64
    start_n: npt.NDArray[np.int64]
    surprise: F64
    end_slots: npt.NDArray[np.int64]
    end_forced: Bool


def _streak(cols: Columns, prefix: str, extend: Bool, counts: F64, mu: F64, rows: int) -> None:
    """Extend or reset one kind of streak (count, observed sum, expected sum) for every key."""
    streak = cols[f"{prefix}_streak"][:rows]
    if not extend.any() and not streak.any():
        return
    total, expected = cols[f"{prefix}_sum"][:rows], cols[f"{prefix}_mu"][:rows]
    streak[:] = np.where(extend, streak + 1, 0)
    total[:] = np.where(extend, total + counts, 0.0)
    expected[:] = np.where(extend, expected + mu, 0.0)


def _surprise(tail: Callable[[F64, F64, F64], F64], mask: Bool, count: F64, mu: F64, phi: F64) -> F64:
    """``tail`` surprise where ``mask`` holds, zero elsewhere; scipy is not called for nothing."""
    out = np.zeros(len(mask))
    if mask.any():
        out[mask] = tail(count[mask], mu[mask], phi[mask])
    return out


def decide(cols: Columns, view: MinuteView, rows: int) -> Decisions:
    """Advance streaks and open insights by one minute and say what starts and ends.

    A key whose spike at a later minute already started early (``early_min``) starts nothing before
    that minute, and starts at it whatever its final count: the Start is already out.
    """
    c, p = view.counts, view.params
    is_open = cols["open_dir"][:rows] != 0
    early = cols["early_min"][:rows]
    started_early = early == view.minute
    free = view.eligible & ~is_open & (early < 0)

    single = (
        free & (c >= p["min_count"]) & (c >= p["min_ratio"] * view.mu_up) & (c > p["peak_margin"] * view.peak)
    )
    surprise = _surprise(upper_surprise, single, c, np.maximum(view.mu_up, view.burst), view.phi)

    _streak(cols, "up", free & (c >= 1) & (c >= p["sustained_ratio"] * view.mu_up), c, view.mu_up, rows)
    streak = cols["up_streak"][:rows]
    sustained = (streak >= p["sustained_minutes"]) & (cols["up_sum"][:rows] >= 2 * p["min_count"])
    s_sus = _surprise(upper_surprise, sustained, cols["up_sum"][:rows], cols["up_mu"][:rows], view.phi)

    dropping = free & (view.mu_down >= p["drop_min_level"]) & (c <= p["drop_ratio"] * view.mu_down)
    _streak(cols, "dn", dropping, c, view.mu_down, rows)
    drop = cols["dn_streak"][:rows] >= p["drop_minutes"]
    s_drop = _surprise(lower_surprise, drop, cols["dn_sum"][:rows], cols["dn_mu"][:rows], view.phi)

    threshold = p["start_surprise"]
    start_single = (single & (surprise >= threshold)) | started_early
    start_sus = ~start_single & sustained & (s_sus >= threshold)
    start_drop = ~start_single & ~start_sus & (s_drop >= threshold)
    starts = start_single | start_sus | start_drop
    slots = np.flatnonzero(starts)
    dirs = np.where(start_drop[slots], DOWN, UP)
    n = np.where(
        start_single[slots], 1, np.where(start_sus[slots], streak[slots], cols["dn_streak"][:rows][slots])
    )
    total = np.where(
        start_single[slots],
        c[slots],
        np.where(start_sus[slots], cols["up_sum"][:rows][slots], cols["dn_sum"][:rows][slots]),
    )
    best = np.maximum(np.maximum(surprise, s_sus), s_drop)

    ends, forced = _advance_open(cols, view, is_open, rows)
    return Decisions(
        start_slots=slots.astype(np.int64),
        start_dirs=dirs.astype(np.int64),
        start_first=(view.minute - n + 1).astype(np.int64),
        start_sum=total.astype(np.float64),
        start_n=n.astype(np.int64),
        surprise=best,
        end_slots=ends,
        end_forced=forced,
    )


def _advance_open(
    cols: Columns, view: MinuteView, is_open: Bool, rows: int
) -> tuple[npt.NDArray[np.int64], Bool]:
    """Update open insights with this minute; return the slots that end and whether forcibly."""
    slots = np.flatnonzero(is_open)
    if not len(slots):
        return slots.astype(np.int64), np.zeros(0, dtype=bool)
    c = view.counts[slots]
    up = cols["open_dir"][slots] == UP
    mu_up, mu_down, phi = view.mu_up[slots], view.mu_down[slots], view.phi[slots]
    keep = view.params["keep_surprise"][slots]
    unusual_up = (c >= KEEP_RATIO_UP * mu_up) & (upper_surprise(c, mu_up, phi) >= keep)
    unusual_down = (c <= KEEP_RATIO_DOWN * mu_down) & (lower_surprise(c, mu_down, phi) >= keep)
    unusual = np.where(up, unusual_up, unusual_down)

    quiet, quiet_sum = cols["quiet"], cols["quiet_sum"]
    cols["ins_sum"][slots] += np.where(unusual, quiet_sum[slots] + c, 0.0)
    cols["ins_n"][slots] += np.where(unusual, quiet[slots] + 1, 0)
    quiet_sum[slots] = np.where(unusual, 0.0, quiet_sum[slots] + c)
    quiet[slots] = np.where(unusual, 0, quiet[slots] + 1)

    ended = quiet[slots] >= view.params["end_quiet_minutes"][slots]
    age = view.minute - cols["ins_start"][slots] + 1
    forced = ~ended & (age >= view.params["max_insight_minutes"][slots])
    if forced.any():
        f = slots[forced]
        cols["ins_sum"][f] += quiet_sum[f]
        cols["ins_n"][f] += quiet[f]
        quiet_sum[f] = 0.0
        quiet[f] = 0
    done = ended | forced
    return slots[done].astype(np.int64), forced[done]
