"""The quality bench's summary: the figures of issue 10's acceptance, from the scores of all seeds."""

from __future__ import annotations

import statistics
from typing import Any

from bench.quality_parts.score import TraceScore


def _share(hit: int, total: int) -> float | None:
    return round(hit / total, 4) if total else None


def _delays(values: list[int]) -> dict[str, float | None]:
    ordered = sorted(values)
    return {
        "median": statistics.median(ordered) if ordered else None,
        "p90": ordered[int(0.9 * (len(ordered) - 1))] if ordered else None,
    }


def summary(anomalous: TraceScore, clean: TraceScore, api_days: float, decoys: int) -> dict[str, Any]:
    """Recall by kind and tier, precision, false Starts per API-day, decoy trips and delays."""
    tiers: dict[str, list[int]] = {}
    for (_, tier), (hit, total) in anomalous.found.items():
        tiers.setdefault(tier, [0, 0])
        tiers[tier][0] += hit
        tiers[tier][1] += total
    detected = sum(hit for hit, _ in anomalous.found.values())
    total = sum(t for _, t in anomalous.found.values())
    all_delays = [d for values in anomalous.delays.values() for d in values]
    return {
        "recall": _share(detected, total),
        "recall_clear": _share(*tiers.get("clear", [0, 0])),
        "recall_edge": _share(*tiers.get("edge", [0, 0])),
        "recall_by_tier": {tier: f"{hit}/{n}" for tier, (hit, n) in sorted(tiers.items())},
        "recall_by_kind_tier": {
            f"{kind}/{tier}": f"{hit}/{n}" for (kind, tier), (hit, n) in sorted(anomalous.found.items())
        },
        "precision": _share(anomalous.true_starts, anomalous.starts),
        "starts": anomalous.starts,
        "true_starts": anomalous.true_starts,
        "false_starts": len(anomalous.false),
        "clean_false_starts": len(clean.false),
        "api_days": round(api_days, 1),
        "false_starts_per_api_day": round(len(clean.false) / max(api_days, 1e-9), 5),
        "decoys": decoys,
        "decoy_trips": len(anomalous.decoy_trips) + len(clean.decoy_trips),
        "delay_minutes": _delays(all_delays),
        "delay_minutes_by_kind": {kind: _delays(values) for kind, values in sorted(anomalous.delays.items())},
        "median_eventtime_delay_minutes": _delays(anomalous.time_delays)["median"],
        # Within the ceiling (bench/quality_parts/ceiling.py): of each tier's anomalies, how many the
        # realised counts put within reach of the threshold, and how many of those were found.
        "ceiling_by_tier": {
            tier: f"{anomalous.reachable.get(tier, [0, 0])[0]}/{n}" for tier, (_, n) in sorted(tiers.items())
        },
        "recall_within_ceiling_by_tier": {
            tier: f"{found}/{within}" for tier, (within, found) in sorted(anomalous.reachable.items())
        },
        # The delay's floor (ceiling.earliest_reach): what a detector knowing the reference and the
        # moment each anomaly began could do, over the anomalies found that have one beside the
        # engine's delay of the same ones, and over every anomaly that has one, found or not.
        "delay_vs_floor_minutes": {
            "anomalies": len(anomalous.paired_delays),
            "delay": _delays([delay for delay, _ in anomalous.paired_delays]),
            "floor": _delays([floor for _, floor in anomalous.paired_delays]),
        },
        "delay_floor_within_ceiling_minutes": _delays(anomalous.floors),
    }
