"""Drawing a :class:`~consumers.plot.series.KeySeries` as a PNG, like the CloudTrail console's graph.

The console shows an API's rate over time with each insight's span shaded and its baseline
average beside the insight's; this adds the references the detector actually compared each minute
against, so a reader can see why a minute was unusual and why the next one was not. A daemon's
state holds hours, not minutes (:mod:`consumers.plot.state_series`): :func:`render_hourly` draws
those. matplotlib is an optional dependency (``pip install 'trailpulse[plot]'``): the daemon never
needs it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from consumers.plot.series import KeySeries, Window
from consumers.plot.state_series import HourlySeries
from insights.keys import ApiKey
from insights.transition import insight_type_of

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MINUTES_PER_DAY = 1440.0
UP_COLOUR, DOWN_COLOUR = "#d62728", "#1f77b4"


class PlotUnavailableError(RuntimeError):
    """matplotlib is not installed."""


def day_number(minute: int) -> float:
    """matplotlib's date number (days since 1970-01-01, its default epoch) of an engine minute."""
    return minute / MINUTES_PER_DAY


def title(key: ApiKey, per: str = "per minute") -> str:
    what = "error rate" if insight_type_of(key) != "ApiCallRateInsight" else "call rate"
    code = f" {key[5]}" if len(key) > 5 else ""
    return f"{key[3]} {key[4]}{code}: {what} {per} (account {key[1]}, {key[2]})"


def render(series: KeySeries, first: int, last: int, path: Path, width_in: float = 12.0) -> None:
    """Write the PNG of ``series`` from minute ``first`` to ``last`` (inclusive) to ``path``."""
    plt = _pyplot()
    minutes, counts, rising, falling = series.arrays(first, last)
    times = minutes / MINUTES_PER_DAY
    fig, ax = plt.subplots(figsize=(width_in, width_in * 0.38), dpi=100)
    try:
        ax.plot(times, counts, drawstyle="steps-mid", color="#555555", linewidth=0.6, label="per minute")
        ax.plot(
            times, rising, drawstyle="steps-mid", color="#ff7f0e", linewidth=1.1, label="rising reference"
        )
        ax.plot(
            times, falling, drawstyle="steps-mid", color="#2ca02c", linewidth=1.1, label="falling reference"
        )
        for window in series.windows:
            _shade(ax, window, first, last)
        _finish(ax, title(series.key), first, last)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)


def render_hourly(series: HourlySeries, first: int, last: int, path: Path, width_in: float = 12.0) -> None:
    """Write the PNG of a daemon state's ``series`` from minute ``first`` to ``last`` (inclusive):
    each hour's mean calls per minute as a step over the hour (the running hour up to ``now``), its
    busiest minute as a light band above it, the key's baseline average as a line, its recent level
    as a dot at ``now``, and the open insight shaded up to ``now``."""
    plt = _pyplot()
    starts = series.hours * series.block
    keep = (starts + series.block > first) & (starts <= last)
    ends = np.minimum(starts[keep] + series.block, series.now)
    edges = np.append(starts[keep], ends[-1:]) / MINUTES_PER_DAY
    means, busiest = series.means[keep], series.busiest[keep]
    now = day_number(series.now)
    days = (len(series.hours) - 1) * series.block / MINUTES_PER_DAY
    fig, ax = plt.subplots(figsize=(width_in, width_in * 0.38), dpi=100)
    try:
        if len(means):
            ax.stairs(busiest, edges, baseline=means, fill=True, color="#bbbbbb", alpha=0.5,
                      label="busiest minute of the hour")  # fmt: skip
            ax.stairs(means, edges, baseline=None, color="#333333", linewidth=1.2, label="hourly mean")
        ax.axhline(series.baseline_average, color="#ff7f0e", linestyle="dashed", linewidth=1.1,
                   label=f"baseline average ({days:g} days)")  # fmt: skip
        ax.plot([now], [series.recent_level], marker="o", color="#9467bd", linestyle="none",
                clip_on=False, label="recent level")  # fmt: skip
        if series.window is not None:
            _shade(ax, series.window, first, min(last, series.now - 1))
        _finish(ax, title(series.key, "per minute, hourly"), first, last)
        ax.set_xlabel(f"state as of {datetime.fromtimestamp(series.now * 60, UTC):%Y-%m-%d %H:%M} UTC")
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)


def _pyplot() -> Any:
    """matplotlib's pyplot on the file-only backend; :class:`PlotUnavailableError` without it."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display, no GUI toolkit
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotUnavailableError(
            "trailpulse plot needs matplotlib: pip install 'trailpulse[plot]' (or scripts/setup-venv.sh dev)"
        ) from exc
    return plt


def _finish(ax: Axes, heading: str, first: int, last: int) -> None:
    """Title, a UTC date axis over ``first``..``last`` and one legend entry per label."""
    import matplotlib.dates as mdates

    ax.set_title(heading, fontsize=10)
    ax.set_ylabel("per minute")
    ax.set_ylim(bottom=0)
    ax.set_xlim(day_number(first), day_number(last + 1))
    ax.xaxis_date(tz="UTC")
    locator = mdates.AutoDateLocator(tz="UTC")  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz="UTC"))  # type: ignore[no-untyped-call]
    ax.grid(alpha=0.25)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), loc="upper left", fontsize=8, framealpha=0.8)


def _shade(ax: Axes, window: Window, first: int, last: int) -> None:
    """One insight: its span shaded, its baseline and insight averages as dashed and solid lines."""
    end = last + 1 if window.end is None else window.end
    if end < first or window.start > last + 1:
        return
    start, stop = day_number(max(window.start, first)), day_number(min(end, last + 1))
    colour = UP_COLOUR if window.direction == "up" else DOWN_COLOUR
    label = "insight (rise)" if window.direction == "up" else "insight (drop)"
    ax.axvspan(start, stop, color=colour, alpha=0.2, linewidth=0, label=label)
    # A spike of a few minutes is narrower than a pixel over days: a marker shows where it starts.
    ax.plot([start], [1.0], marker="v", color=colour, transform=ax.get_xaxis_transform(), clip_on=False)
    ax.hlines(window.baseline_average, start, stop, colors=colour, linestyles="dashed", linewidth=1.2,
              label="insight's baseline average")  # fmt: skip
    if not math.isnan(window.insight_average):  # a spike announced early has none yet
        ax.hlines(window.insight_average, start, stop, colors=colour, linewidth=1.2, label="insight average")
