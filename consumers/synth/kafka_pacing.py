"""Pacing of ``trailpulse generate``'s Kafka sends: a backlog first, then a rate or a speedup.

A daemon usually starts on a topic that already holds hours of traffic and then follows it live,
so ``--backlog-hours H`` writes every message arriving within ``H`` hours of the first message's
(simulated) arrival at once, then paces the rest: ``--rate`` caps records per second (a token
bucket), ``--speedup`` replays simulated arrival time that many times faster than real time.
Without either, everything goes at once and the backlog changes nothing.
"""

from __future__ import annotations

import time


class Pacer:
    """Waits before each send, once the backlog (``backlog_s`` of arrival time) has gone out."""

    def __init__(
        self,
        rate: float | None = None,
        speedup: float | None = None,
        burst_s: float = 0.05,
        backlog_s: float = 0.0,
    ) -> None:
        self.rate, self.speedup, self.backlog_s = rate, speedup, backlog_s
        self.burst = max(1.0, (rate or 0.0) * burst_s)
        self.tokens = self.burst
        self.last = 0.0
        self.backlog_end: float | None = None  # arrival time the backlog ends at, from the first send
        self.origin: tuple[float, float] | None = None  # (wall time, arrival) of the first paced send

    def in_backlog(self, at: float) -> bool:
        """Whether a message arriving at ``at`` (seconds) belongs to the backlog."""
        if self.backlog_end is None:
            self.backlog_end = at + self.backlog_s
        return at < self.backlog_end

    def wait(self, records: int, at: float) -> None:
        """Sleep until a message of ``records`` records, arriving at ``at``, is due."""
        if self.in_backlog(at) or not (self.rate or self.speedup):
            return
        now = time.monotonic()
        if self.origin is None:
            self.origin, self.last = (now, at), now
        if self.rate:
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate) - records
            self.last = now
            if self.tokens < 0:
                time.sleep(-self.tokens / self.rate)
        elif self.speedup:
            due = self.origin[0] + (at - self.origin[1]) / self.speedup
            if due > now:
                time.sleep(due - now)
