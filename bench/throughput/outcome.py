"""What a read of the topic produced, not only how fast: records, skips, rejects and Insight events.

A daemon that drops most records as late does little work and looks fast, so every (b) run is judged
by what it did with the records too: from its final ``checkpoint`` log line (``counts`` and the
engine's ``skipped`` by reason) and from the Insight events read back from its output topic. The
same records replayed from the files the topic was filled from (``trailpulse replay``, its summary
line on stderr and its events on stdout) are what it is compared with: the same set of eventIDs, and
a late share close to nothing (issue 8's acceptance).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MAX_LATE_SHARE = 0.001  # the acceptance: at most 0.1 % of a run's records skipped as late


@dataclass
class Outcome:
    """Records taken in, skipped by reason, rejected by reason, and the Insight events out."""

    source: str
    records: int
    skipped: dict[str, int]
    rejected: dict[str, int]
    states: Counter[str] = field(default_factory=Counter)  # "Start"/"End" -> events read back
    event_ids: set[str] = field(default_factory=set)
    bodies: dict[str, Any] = field(default_factory=dict)  # eventID -> the event, for body comparisons
    claimed: dict[str, int] = field(default_factory=dict)  # the Start/End counts the process logged
    # A run's last closed minute (ISO): every minute up to it is judged, later ones wait for the
    # run's slowest source (a files channel lagging the same account-region's events).
    closed_through: str | None = None

    @property
    def late_share(self) -> float:
        return self.skipped.get("late", 0) / self.records if self.records else 0.0

    @property
    def events(self) -> int:
        return sum(self.states.values())

    def take_events(self, values: Iterable[bytes | str]) -> None:
        """Counts Insight events (JSON, one per value) by state and keeps them by eventID."""
        for value in values:
            record: Any = json.loads(value)
            self.states[str(record["insightDetails"]["state"])] += 1
            self.event_ids.add(str(record["eventID"]))
            self.bodies[str(record["eventID"])] = record

    def lines(self) -> list[str]:
        """The figures, for the bench's output."""
        skipped = ", ".join(f"{k} {v:,}" for k, v in sorted(self.skipped.items()) if v) or "none"
        rejected = ", ".join(f"{k} {v:,}" for k, v in sorted(self.rejected.items()) if v) or "none"
        late = 100 * self.late_share
        out = [
            f"{self.source}: {self.records:,} records; skipped: {skipped} (late {late:.3f} %);"
            f" rejected: {rejected}",
            f"  insights: {self.states['Start']:,} Start, {self.states['End']:,} End"
            f" ({len(self.event_ids):,} distinct eventIDs)",
        ]
        logged = (self.claimed.get("Start", 0), self.claimed.get("End", 0))
        if logged != (self.states["Start"], self.states["End"]):
            out.append(f"  warning: the process counted {logged[0]:,} Start, {logged[1]:,} End")
        if len(self.event_ids) != self.events:
            out.append(f"  warning: {self.events - len(self.event_ids):,} events repeat an eventID")
        return out

    def doc(self) -> dict[str, Any]:
        """The figures for the JSON summary (eventIDs left out)."""
        return {
            "records": self.records,
            "skipped": dict(self.skipped),
            "rejected": dict(self.rejected),
            "late_share": round(self.late_share, 6),
            "insights": {"start": self.states["Start"], "end": self.states["End"]},
        }


def from_checkpoint(doc: dict[str, Any], source: str) -> Outcome:
    """The daemon's figures from its final ``checkpoint`` line (``counts`` and ``skipped``)."""
    counts: dict[str, int] = doc.get("counts", {})
    rejected = {k.removeprefix("rejected."): v for k, v in counts.items() if k.startswith("rejected.")}
    claimed = {"Start": counts.get("insights.start", 0), "End": counts.get("insights.end", 0)}
    return Outcome(
        source,
        counts.get("records", 0),
        dict(doc.get("skipped", {})),
        rejected,
        claimed=claimed,
        closed_through=doc.get("closed_through"),
    )


def from_replay_summary(line: str, source: str) -> Outcome:
    """Replay's figures from its summary line (``replay: files=.. records=.. skipped.late=..``)."""
    if not line.startswith("replay: "):
        raise ValueError(f"not a replay summary line: {line!r}")
    fields = dict(part.split("=", 1) for part in line.removeprefix("replay: ").split())
    numbers = {k: int(v) for k, v in fields.items() if k != "seconds"}
    return Outcome(
        source,
        numbers["records"],
        {k.removeprefix("skipped."): v for k, v in numbers.items() if k.startswith("skipped.")},
        {k.removeprefix("rejected."): v for k, v in numbers.items() if k.startswith("rejected.")},
        claimed={"Start": numbers["insights.start"], "End": numbers["insights.end"]},
    )


@dataclass(frozen=True)
class Comparison:
    """A run against the replay of the same records."""

    only_in_run: int
    only_in_replay: int
    run_late_share: float
    replay_late_share: float
    differing: tuple[str, ...] = ()  # the first few events in one only, described
    # Replay's events at minutes the run had not closed when it stopped: not missing, not yet judged
    # (replay's end of input closes them; a live run judges them when its slowest source gets there).
    pending_in_run: int = 0

    @property
    def same_insights(self) -> bool:
        return self.only_in_run == 0 and self.only_in_replay == 0

    def failures(self, max_late_share: float = MAX_LATE_SHARE) -> list[str]:
        """What breaks the acceptance: too many late records in the run, or other insights."""
        failed = []
        if self.run_late_share > max_late_share:
            failed.append(
                f"late share of the run {100 * self.run_late_share:.3f} % > {100 * max_late_share:.3f} %"
            )
        if not self.same_insights:
            failed.append(
                f"insights differ: {self.only_in_run:,} only in the run,"
                f" {self.only_in_replay:,} only in the replay"
            )
        return failed

    def line(self) -> str:
        same = "yes" if self.same_insights else "NO"
        pending = f", pending in the run {self.pending_in_run:,}" if self.pending_in_run else ""
        return (
            f"  vs replay: same insight eventIDs: {same} (only in run {self.only_in_run:,},"
            f" only in replay {self.only_in_replay:,}{pending});"
            f" late share run {100 * self.run_late_share:.3f} %,"
            f" replay {100 * self.replay_late_share:.3f} %"
        ) + "".join(f"\n    {event}" for event in self.differing)

    def doc(self) -> dict[str, Any]:
        return {
            "same_insights": self.same_insights,
            "only_in_run": self.only_in_run,
            "only_in_replay": self.only_in_replay,
            "pending_in_run": self.pending_in_run,
            "run_late_share": round(self.run_late_share, 6),
            "replay_late_share": round(self.replay_late_share, 6),
            "differing": list(self.differing),
        }


SHOWN_DIFFERENCES = 6


def describe(where: str, event: dict[str, Any]) -> str:
    """One Insight event as a line: which output holds it, its state, time and API."""
    details = event.get("insightDetails", {})
    fields = [details.get("state"), event.get("eventTime"), details.get("insightType")]
    fields += [event.get("recipientAccountId"), event.get("awsRegion"), details.get("eventSource")]
    fields += [details.get("eventName"), details.get("errorCode")]
    return f"{where}: " + " ".join(str(f) for f in fields if f)


def compare(run: Outcome, replay: Outcome) -> Comparison:
    """The run's eventIDs against replay's. Replay's end of input closes every minute; a caught-up
    run closes only what its slowest source has completed, so a replay event dated after the run's
    ``closed_through`` is counted as pending, apart from the differences (ISO minutes compare as text;
    a run that names no closed minute is held to every event)."""
    only_run, only_replay = run.event_ids - replay.event_ids, replay.event_ids - run.event_ids
    judged = run.closed_through
    pending = {i for i in only_replay if judged is not None and str(replay.bodies[i]["eventTime"]) > judged}
    differing = [describe("only in run", run.bodies[i]) for i in sorted(only_run)]
    differing += [describe("only in replay", replay.bodies[i]) for i in sorted(only_replay - pending)]
    differing += [
        describe(f"pending in the run (closed through {judged})", replay.bodies[i]) for i in sorted(pending)
    ]
    return Comparison(
        len(only_run),
        len(only_replay - pending),
        run.late_share,
        replay.late_share,
        tuple(differing[:SHOWN_DIFFERENCES]),
        len(pending),
    )
