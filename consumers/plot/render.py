"""Drawing a :class:`~consumers.plot.series.KeySeries` as a PNG, like the CloudTrail console's graph.

The console shows an API's rate over time with each insight's span shaded and its baseline
average beside the insight's; this adds the references the detector actually compared each minute
against, so a reader can see why a minute was unusual and why the next one was not. matplotlib is
an optional dependency (``pip install 'trailpulse[plot]'``): the daemon never needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from consumers.plot.series import KeySeries, Window
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


def title(series: KeySeries) -> str:
    key = series.key
    what = "error rate" if insight_type_of(key) != "ApiCallRateInsight" else "call rate"
    code = f" {key[5]}" if len(key) > 5 else ""
    return f"{key[3]} {key[4]}{code}: {what} per minute (account {key[1]}, {key[2]})"


def render(series: KeySeries, first: int, last: int, path: Path, width_in: float = 12.0) -> None:
    """Write the PNG of ``series`` from minute ``first`` to ``last`` (inclusive) to ``path``."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display, no GUI toolkit
        import matplotlib.dates as mdates
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotUnavailableError(
            "trailpulse plot needs matplotlib: pip install 'trailpulse[plot]' (or scripts/setup-venv.sh dev)"
        ) from exc
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
        ax.set_title(title(series), fontsize=10)
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
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)


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
    ax.hlines(window.insight_average, start, stop, colors=colour, linewidth=1.2, label="insight average")
