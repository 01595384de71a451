"""Who and what drove an insight: top values of each attribute, in bounded memory.

Baseline side: every key keeps, per attribute, a small space-saving sketch (``slots`` value ids
with counts) for each of two epochs of half a window; the baseline average of a value is its count
over both epochs divided by the baseline minutes they cover. While a key has no more distinct
values than slots the counts are exact; beyond that the sketch keeps the heavy hitters with
bounded over-estimates. Observations are buffered and merged hourly with numpy, not per record.

Insight side: the few keys in an open insight get exact counters.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import numpy.typing as npt

from insights.columns import Columns, Field
from insights.snapshot import pack_array, unpack_array
from insights.transition import Attribution, AttributionValue

I64 = npt.NDArray[np.int64]
TOP = 5
PREV, CUR = 0, 1
#: The attributes of an observation's value row, in column order.
ATTRIBUTES = ("userIdentityArn", "userAgent", "errorCode")


def attribution_fields(attributes: int, slots: int) -> dict[str, Field]:
    return {
        "att_val": Field("int32", (attributes, 2, slots)),
        "att_cnt": Field("float32", (attributes, 2, slots)),
        "att_minutes": Field("int32", (2,)),
    }


class OpenInsight:
    """Exact counters of one open insight.

    Minutes that look ordinary again go to ``quiet`` first: if the insight then ends they are not
    part of it (``End.eventTime`` is the first of them); if it carries on they are folded in.
    """

    def __init__(self, attributes: int) -> None:
        self.main: list[defaultdict[int, int]] = [defaultdict(int) for _ in range(attributes)]
        self.quiet: list[defaultdict[int, int]] = [defaultdict(int) for _ in range(attributes)]
        self.minutes = 0
        self.quiet_minutes = 0

    def fold_quiet(self) -> None:
        for main, quiet in zip(self.main, self.quiet, strict=True):
            for value, count in quiet.items():
                main[value] += count
            quiet.clear()
        self.minutes += self.quiet_minutes
        self.quiet_minutes = 0

    def to_state(self) -> list[Any]:
        return [
            [sorted(c.items()) for c in self.main],
            [sorted(c.items()) for c in self.quiet],
            self.minutes,
            self.quiet_minutes,
        ]

    @classmethod
    def from_state(cls, state: list[Any]) -> OpenInsight:
        main, quiet, minutes, quiet_minutes = state
        item = cls(len(main))
        item.main = [defaultdict(int, {int(v): int(n) for v, n in c}) for c in main]
        item.quiet = [defaultdict(int, {int(v): int(n) for v, n in c}) for c in quiet]
        item.minutes, item.quiet_minutes = int(minutes), int(quiet_minutes)
        return item


class Attributions:
    """Baseline sketches (in ``cols``) and exact insight counters of every key."""

    def __init__(self, slots: int) -> None:
        self.attributes = len(ATTRIBUTES)
        self.cols = Columns(attribution_fields(self.attributes, slots))
        self.pending: list[tuple[I64, I64]] = []
        self.insight: dict[int, OpenInsight] = {}

    def observe(self, slots: I64, values: I64, open_slots: I64, quiet: npt.NDArray[np.bool_]) -> None:
        """Route one closed minute's observations: open insights count exactly, the rest buffer.

        ``open_slots`` are the keys in an insight this minute (sorted), ``quiet`` whether this
        minute was an ordinary one within each.
        """
        for slot, is_quiet in zip(open_slots.tolist(), quiet.tolist(), strict=True):
            counters = self.insight[slot]
            if is_quiet:
                counters.quiet_minutes += 1
                target = counters.quiet
            else:
                counters.fold_quiet()
                counters.minutes += 1
                target = counters.main
            rows = values[slots == slot]
            for a in range(self.attributes):
                ids, counts = np.unique(rows[:, a], return_counts=True)
                for value, count in zip(ids.tolist(), counts.tolist(), strict=True):
                    target[a][value] += count
        if not len(open_slots):  # the usual minute: all of it buffers (np.isin costs a close)
            if len(slots):
                self.pending.append((slots, values))
            return
        rest = ~np.isin(slots, open_slots)
        if rest.any():
            self.pending.append((slots[rest], values[rest]))

    def backfill(self, slot: int, first_minute: int, through_minute: int, epoch_minutes: int) -> None:
        """Count the closed minutes since ``first_minute`` as baseline minutes of a new key."""
        current = (through_minute + 1) // epoch_minutes * epoch_minutes
        previous = current - epoch_minutes
        self.cols["att_minutes"][slot, CUR] = max(0, through_minute + 1 - max(first_minute, current))
        self.cols["att_minutes"][slot, PREV] = max(0, current - max(first_minute, previous))

    def count_minutes(self, slots: I64, minutes: I64 | int) -> None:
        """``slots`` learnt ``minutes`` more baseline minutes (of the current epoch)."""
        self.cols["att_minutes"][slots, CUR] += minutes

    def flush(self) -> None:
        """Merge buffered baseline observations into the sketches."""
        if not self.pending:
            return
        slots = np.concatenate([s for s, _ in self.pending])
        values = np.concatenate([v for _, v in self.pending])
        self.pending = []
        for a in range(self.attributes):
            code = (slots << 32) | values[:, a]
            uniq, counts = np.unique(code, return_counts=True)
            self._merge(a, uniq >> 32, uniq & 0xFFFFFFFF, counts.astype(np.float32))

    def _merge(self, a: int, slots: I64, values: I64, counts: npt.NDArray[np.float32]) -> None:
        val = self.cols["att_val"]
        cnt = self.cols["att_cnt"]
        row_val = val[slots, a, CUR]
        row_cnt = cnt[slots, a, CUR]
        match = (row_val == values[:, None]) & (row_cnt > 0)
        hit = match.any(axis=1)
        where = match.argmax(axis=1)
        cnt[slots[hit], a, CUR, where[hit]] += counts[hit]
        for slot, value, count in zip(
            slots[~hit].tolist(), values[~hit].tolist(), counts[~hit].tolist(), strict=True
        ):
            row = cnt[slot, a, CUR]
            j = int(row.argmin())
            cnt[slot, a, CUR, j] = row[j] + count
            val[slot, a, CUR, j] = value

    def rotate(self, rows: int) -> None:
        """Start a new epoch: the current one becomes the previous, the oldest is forgotten."""
        self.flush()
        for name in ("att_val", "att_cnt"):
            self.cols[name][:rows, :, PREV] = self.cols[name][:rows, :, CUR]
            self.cols[name][:rows, :, CUR] = 0
        self.cols["att_minutes"][:rows, PREV] = self.cols["att_minutes"][:rows, CUR]
        self.cols["att_minutes"][:rows, CUR] = 0

    def baseline_top(self, slot: int) -> list[list[tuple[int, float]]]:
        """Per attribute, the top values with per-minute averages over the baseline epochs."""
        minutes = max(int(self.cols["att_minutes"][slot].sum()), 1)
        result = []
        for a in range(self.attributes):
            totals: defaultdict[int, float] = defaultdict(float)
            vals = self.cols["att_val"][slot, a].ravel().tolist()
            cnts = self.cols["att_cnt"][slot, a].ravel().tolist()
            for value, count in zip(vals, cnts, strict=True):
                if count > 0:
                    totals[value] += count
            result.append(top_values({v: c / minutes for v, c in totals.items()}))
        return result

    def open(self, slot: int) -> None:
        self.insight[slot] = OpenInsight(self.attributes)

    def insight_top(self, slot: int) -> list[list[tuple[int, float]]]:
        """Per attribute, the top values with per-minute averages over the insight's minutes."""
        counters = self.insight.get(slot) or OpenInsight(self.attributes)
        minutes = max(counters.minutes, 1)
        return [top_values({v: c / minutes for v, c in counter.items()}) for counter in counters.main]

    def close(self, slot: int) -> None:
        self.insight.pop(slot, None)

    def describe(
        self, slot: int, insight_side: list[list[tuple[int, float]]], names: list[str], error_code: bool
    ) -> tuple[Attribution, ...]:
        """Per attribute, ``insight_side`` against the slot's baseline, value ids turned to ``names``;
        ``errorCode`` only when ``error_code`` (call-rate insights)."""
        baseline_side = self.baseline_top(slot)
        return tuple(
            Attribution(
                attribute=name,
                insight=tuple(AttributionValue(names[v], avg) for v, avg in insight_side[a]),
                baseline=tuple(AttributionValue(names[v], avg) for v, avg in baseline_side[a]),
            )
            for a, name in enumerate(ATTRIBUTES)
            if error_code or name != "errorCode"
        )

    def referenced_values(self, rows: int) -> I64:
        """Every value id the state refers to (for string-table compaction)."""
        parts = [self.cols["att_val"][:rows].ravel().astype(np.int64)]
        parts += [v.ravel() for _, v in self.pending]
        for counters in self.insight.values():
            parts += [np.fromiter(c.keys(), np.int64) for c in (*counters.main, *counters.quiet)]
        return np.concatenate(parts)

    def remap(self, mapping: I64, rows: int) -> None:
        val = self.cols["att_val"]
        val[:rows] = mapping[val[:rows]]
        self.pending = [(s, mapping[v]) for s, v in self.pending]
        for counters in self.insight.values():
            for side in (counters.main, counters.quiet):
                for a, c in enumerate(side):
                    side[a] = defaultdict(int, {int(mapping[k]): n for k, n in c.items()})

    def to_state(self, rows: int) -> dict[str, Any]:
        """Everything, pending observations included: flushing here would change later output."""
        width = self.attributes
        slots = np.concatenate([s for s, _ in self.pending]) if self.pending else np.zeros(0, np.int64)
        values = (
            np.concatenate([v for _, v in self.pending]) if self.pending else np.zeros((0, width), np.int64)
        )
        return {
            "columns": {name: pack_array(a) for name, a in self.cols.to_state(rows).items()},
            "pending": [pack_array(slots), pack_array(values)],
            "insight": [[slot, item.to_state()] for slot, item in sorted(self.insight.items())],
        }

    def load_state(self, state: dict[str, Any], rows: int) -> None:
        self.cols.load_state({n: unpack_array(a) for n, a in state["columns"].items()}, rows)
        slots, values = (unpack_array(a) for a in state["pending"])
        self.pending = [(slots, values)] if len(slots) else []
        self.insight = {int(slot): OpenInsight.from_state(item) for slot, item in state["insight"]}


def top_observed(values: I64) -> list[list[tuple[int, float]]]:
    """Per attribute, the top values of observation rows ``values`` by count."""
    top = []
    for a in range(values.shape[1]):
        ids, n = np.unique(values[:, a], return_counts=True)
        top.append(top_values(dict(zip(ids.tolist(), n.astype(float).tolist(), strict=True))))
    return top


def top_values(averages: dict[int, float]) -> list[tuple[int, float]]:
    """The ``TOP`` largest, ties broken by value id so output is deterministic."""
    return sorted(averages.items(), key=lambda item: (-item[1], item[0]))[:TOP]
