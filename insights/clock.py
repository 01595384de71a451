"""Event time per source, and the minute through which every source is complete.

One global "newest minute seen" clock makes every record of a slower source late: a Kafka partition
read from hours back while another is live, an account-region whose CloudTrail file arrived twenty
minutes after another's. So the engine keeps a clock per *source*, the unit that delivers records in
its own order: an ``(input, channel, account, region)``, where the input is what the caller reads (a
Kafka partition, or ``""`` for replay's files, whose delivery unit is the account-region itself) and
the channel the delivery path (:class:`~insights.envelope.Channel`): one partition may carry an
account-region's EventBridge events seconds after each call and its S3 log files a quarter of an
hour later, and the files must not be late against the events.

A record is late only against its own source: when it is more than ``lateness`` minutes older than the
newest record its source delivered before it. Minutes close for every key at once, through the
*frontier*: the oldest of the active sources' ``newest - lateness - 1``, as Flink takes the minimum
watermark over its inputs. A source that is behind (a backlog, a slow pipeline) therefore holds the
others back instead of having its records dropped; buffering the others costs memory, not records.

Two kinds of source stop holding the frontier, as Flink's ``withIdleness`` does:

* *silent* sources: an account-region whose newest minute is more than ``idle_minutes`` behind the
  newest of its own input has stopped sending (or its files are later than CloudTrail ever delivers).
  Measured against its input (all channels), not against other inputs: a partition read from hours
  back is behind, not silent; a delivery path that stalls while another still feeds the partition
  is. A source is reported once when it falls silent and counts again when it speaks. While every
  source of an account-region is silent its keys start no insight: a delivery that stopped is
  one fact about the account-region, not a drop of each of its APIs.
* *idle* inputs, named by the caller (a partition read to its end that delivered nothing for a while).

And the caller names inputs it is *waiting* for: a partition with records not yet polled, whose time is
unknown. No minute closes while one is waiting, as Kafka Streams waits for a partition with data (up
to ``max.task.idle.ms``) before it advances stream time.

>>> clocks = SourceClocks(lateness=2, idle_minutes=30)
>>> clocks.observe("p0", "1", "eu-west-1", 100)
>>> clocks.observe("p1", "1", "us-east-1", 40)  # a partition read from far behind
>>> clocks.frontier()
37
>>> clocks.observe("p1", "1", "us-east-1", 103)
>>> clocks.frontier()
97
>>> clocks.observe("p1", "2", "us-east-1", 150)  # "1"/us-east-1 is now silent within p1
>>> clocks.frontier(), clocks.take_silent()
(97, [('p1', '', '1', 'us-east-1', 103)])
>>> clocks.observe("p0", "1", "eu-west-1", 80, channel="files")  # the same records' log files
>>> clocks.frontier()
77
>>> clocks.counts()  # sources, silent ones
(4, 1)
"""

from __future__ import annotations

from typing import Any

Source = tuple[str, str, str, str]  # (input, channel, account, region)
Silent = tuple[str, str, str, str, int]  # a source and its newest minute
NEVER = -(1 << 62)  # the newest minute of a source that delivered nothing


class SourceClocks:
    """The newest minute of each source and input, and which sources hold the frontier."""

    def __init__(self, lateness: int, idle_minutes: int) -> None:
        self.lateness = lateness
        self.idle_minutes = idle_minutes
        self._newest: dict[Source, int] = {}
        self._input_newest: dict[str, int] = {}
        self._waiting: set[str] = set()
        self._idle: set[str] = set()
        self._silent: set[Source] = set()
        self._newly_silent: list[Silent] = []

    def newest(self, source: Source) -> int:
        """The newest minute ``source`` delivered (:data:`NEVER` for none)."""
        return self._newest.get(source, NEVER)

    def input_newest(self, input_id: str) -> int | None:
        """The newest minute ``input_id`` delivered (None for none)."""
        return self._input_newest.get(input_id)

    def newest_overall(self) -> int | None:
        """The newest minute of any source (None before the first record)."""
        return max(self._input_newest.values()) if self._input_newest else None

    def observe(self, input_id: str, account: str, region: str, minute: int, channel: str = "") -> None:
        """``minute`` was delivered by ``(input_id, channel, account, region)``."""
        source = (input_id, channel, account, region)
        if minute > self._newest.get(source, NEVER):
            self._newest[source] = minute
            self._silent.discard(source)
        if minute > self._input_newest.get(input_id, NEVER):
            self._input_newest[input_id] = minute

    def frontier(self) -> int | None:
        """The last minute every active source has completed, or None when no minute may close
        (nothing seen yet, or an input is waited for)."""
        if self._waiting:
            return None
        oldest: int | None = None
        for source, newest in self._newest.items():
            input_id = source[0]
            if input_id in self._idle:
                continue
            if newest < self._input_newest[input_id] - self.idle_minutes:
                if source not in self._silent:
                    self._silent.add(source)
                    self._newly_silent.append((*source, newest))
                continue
            if oldest is None or newest < oldest:
                oldest = newest
        return None if oldest is None else oldest - self.lateness - 1

    def silent_scopes(self) -> frozenset[tuple[str, str]]:
        """Account-regions every source of which is silent (as of the last :meth:`frontier`): their
        keys' minutes close with nothing in them, which says nothing about the APIs."""
        if not self._silent:
            return frozenset()
        speaking = {(s[2], s[3]) for s in self._newest if s not in self._silent and s[0] not in self._idle}
        return frozenset((a, r) for (_, _, a, r) in self._silent) - speaking

    def counts(self) -> tuple[int, int]:
        """How many sources there are, and how many of them are silent (as of the last :meth:`frontier`)."""
        return len(self._newest), len(self._silent)

    def take_silent(self) -> list[Silent]:
        """Sources that fell silent since the last call: (input, channel, account, region, newest)."""
        taken, self._newly_silent = self._newly_silent, []
        return taken

    # -- what the caller knows of its inputs ----------------------------------------------------
    def set_waiting(self, inputs: set[str]) -> None:
        """Inputs with records not yet delivered and of unknown time: nothing closes meanwhile."""
        self._waiting = set(inputs)

    def set_idle(self, inputs: set[str]) -> None:
        """Inputs that delivered nothing for a while: they no longer hold the frontier."""
        self._idle = set(inputs)

    def forget_input(self, input_id: str) -> None:
        """An input this process no longer reads (a revoked partition): its sources stop counting."""
        self._newest = {s: m for s, m in self._newest.items() if s[0] != input_id}
        self._silent = {s for s in self._silent if s[0] != input_id}
        self._input_newest.pop(input_id, None)
        self._waiting.discard(input_id)
        self._idle.discard(input_id)

    # -- state --------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "sources": [[*source, minute] for source, minute in sorted(self._newest.items())],
            "silent": sorted([*source] for source in self._silent),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self._newest = {(str(i), str(c), str(a), str(r)): int(m) for i, c, a, r, m in state["sources"]}
        self._input_newest = {}
        for source, minute in self._newest.items():
            self._input_newest[source[0]] = max(minute, self._input_newest.get(source[0], NEVER))
        self._silent = {(str(i), str(c), str(a), str(r)) for i, c, a, r in state["silent"]}
        self._newly_silent = []
