"""An alert sink: Insight events to one endpoint, from a worker thread, never blocking the loop.

:meth:`AlertSink.add` only appends to a bounded in-memory queue; a daemon thread posts the queue in
order (a Start before its End), retrying per :class:`~consumers.alerts.retry.RetryPolicy`. Why
nothing here can block or crash the consumer loop: the loop never waits on the network (``flush``
waits at most a moment for deliveries already under way), and every failure is an outcome, not an
exception.

Why nothing is lost: the queue is an *outbox* that joins the checkpoint. ``flush`` hands the alerts
that ran out of retries (or found the queue full) to the dead-letter writer; then the daemon persists
:meth:`snapshot` (what is still queued, and the alerts still active) with the engine state and the
offsets. After a crash the restored outbox is posted again, and Insights emitted after the
checkpoint are computed again from the input: at least once, never silently dropped. Receivers
deduplicate on the ids every format carries (``sharedEventID``, ``eventID``).

A channel that ``resend_active_s`` (Alertmanager's API, which resolves an alert that is not sent
again) re-posts every active alert that often while nothing else is queued.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from consumers.alerts.http import Endpoint, Outcome, post
from consumers.alerts.retry import RetryPolicy
from consumers.sinks.base import Insight
from consumers.sinks.metered import SinkFigures

DEFAULT_POLICY = RetryPolicy()
SETTLE_S = 1.0  # how long a flush lets deliveries under way finish (fewer repeats after a crash)


@dataclass(frozen=True)
class Request:
    """One POST: its JSON body and extra headers (signatures, content ids)."""

    body: bytes
    headers: Mapping[str, str]


class Channel(Protocol):
    """One kind of endpoint: what to POST for an Insight, built when it is sent (signatures and
    Alertmanager's validity are relative to the time of sending)."""

    @property
    def endpoint(self) -> Endpoint: ...
    @property
    def resend_active_s(self) -> float | None: ...

    def request(self, insights: list[Insight], now: float) -> Request: ...


@dataclass(frozen=True)
class DeadAlert:
    """An alert given up on: the Insight, the sink's name and why."""

    insight: Insight
    sink: str
    reason: str  # "retries_exhausted", "refused" (a status not worth retrying) or "queue_full"
    detail: str


@dataclass
class _Queued:
    insight: Insight
    first_tried: float | None = None
    attempts: int = 0
    due: float = 0.0


class AlertSink:
    """:class:`~consumers.sinks.base.Sink` of :class:`Insight` posting to ``channel`` (see module)."""

    def __init__(
        self,
        name: str,
        channel: Channel,
        dead_letters: Callable[[list[DeadAlert]], None],
        policy: RetryPolicy = DEFAULT_POLICY,
        queue_size: int = 10_000,
        send: Callable[[Endpoint, bytes, Mapping[str, str]], Outcome] = post,
    ) -> None:
        self.label = name
        self.channel = channel
        self.dead_letters = dead_letters
        self.policy = policy
        self.queue_size = queue_size
        self.send = send
        self.rng = random.Random()
        self.queue: deque[_Queued] = deque()
        self.active: dict[str, Insight] = {}  # by sharedEventID, for channels that resend
        self.dead: list[DeadAlert] = []
        self.delivered = self.failures = self.retries = self.dead_lettered = 0
        self.last_error = ""
        self._resend_due = 0.0
        self._sending = False
        self._stopping = False
        self._changed = threading.Condition()
        self._worker = threading.Thread(target=self._work, name=f"alerts-{name}", daemon=True)
        self._worker.start()

    @property
    def name(self) -> str:
        return f"alert sink {self.label} ({self.channel.endpoint.shown})"

    def add(self, item: Insight) -> None:
        with self._changed:
            if self.channel.resend_active_s is not None:
                if item.transition.state == "Start":
                    self.active[item.shared_event_id] = item
                else:
                    self.active.pop(item.shared_event_id, None)
            if len(self.queue) >= self.queue_size:
                self.dead.append(DeadAlert(item, self.label, "queue_full", f"{self.queue_size} queued"))
            else:
                self.queue.append(_Queued(item))
            self._changed.notify_all()

    def flush(self, timeout_s: float) -> bool:
        """Let deliveries under way finish (a moment), hand what was given up on to the dead-letter
        writer; ``True``: the rest is in :meth:`snapshot`, which the checkpoint persists."""
        deadline = time.monotonic() + min(timeout_s, SETTLE_S)
        with self._changed:
            while self.queue and self.queue[0].attempts == 0 and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            dead, self.dead = self.dead, []
        if dead:
            self.dead_letters(dead)  # raises if they cannot be kept: the checkpoint then fails
            self.dead_lettered += len(dead)
        return True

    def snapshot(self) -> tuple[list[Insight], list[Insight]]:
        """(queued, active) Insights, for the checkpoint's outbox."""
        with self._changed:
            return [q.insight for q in self.queue], list(self.active.values())

    def restore(self, queued: list[Insight], active: list[Insight]) -> None:
        """Take back an outbox persisted by :meth:`snapshot` (ahead of anything added since)."""
        with self._changed:
            self.queue.extendleft(_Queued(i) for i in reversed(queued))
            for insight in active:
                self.active.setdefault(insight.shared_event_id, insight)
            self._changed.notify_all()

    def figures(self) -> SinkFigures:
        return SinkFigures(
            self.label, self.delivered, self.failures, self.retries, len(self.queue), self.dead_lettered
        )

    def close(self) -> None:
        """Stop the worker (a POST under way gets up to its timeout); what is queued stays in the
        last checkpoint's outbox."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._worker.join(self.channel.endpoint.timeout_s + 1.0)

    def _next(self) -> list[Insight] | None:
        """Under the lock: what to post now (the queue's head, or the active alerts to resend)."""
        while not self._stopping:
            now = time.time()
            if self.queue and self.queue[0].due <= now:
                return [self.queue[0].insight]
            resend = self.channel.resend_active_s
            if not self.queue and self.active and resend is not None and self._resend_due <= now:
                self._resend_due = now + resend
                return list(self.active.values())
            waits = [self.queue[0].due - now] if self.queue else []
            if not self.queue and self.active and resend is not None:
                waits.append(self._resend_due - now)
            self._changed.wait(min(waits, default=60.0))
        return None

    def _work(self) -> None:
        while True:
            with self._changed:
                insights = self._next()
                if insights is None:
                    return
            now = time.time()
            try:
                request = self.channel.request(insights, now)
            except Exception as exc:  # a body that cannot be built: no endpoint will take it
                outcome = Outcome(False, detail=f"cannot build the alert: {exc!r}")
            else:
                outcome = self.send(self.channel.endpoint, request.body, request.headers)
            answered = time.time()  # a Retry-After counts from the answer, not from the sending
            with self._changed:
                if len(insights) == 1 and self.queue and self.queue[0].insight is insights[0]:
                    self._settle(self.queue[0], outcome, answered)
                elif outcome.delivered:
                    self.delivered += len(insights)
                else:
                    self.failures += 1
                    self.last_error = outcome.detail
                self._changed.notify_all()

    def _settle(self, head: _Queued, outcome: Outcome, now: float) -> None:
        if head.attempts:
            self.retries += 1
        head.attempts += 1
        if outcome.delivered:
            self.queue.popleft()
            self.delivered += 1
            return
        self.failures += 1
        self.last_error = outcome.detail
        first = head.first_tried = now if head.first_tried is None else head.first_tried
        if outcome.retry and not self.policy.gives_up(first, now):
            head.due = now + self.policy.delay(head.attempts - 1, outcome.retry_after_s, self.rng)
            return
        self.queue.popleft()
        reason = "retries_exhausted" if outcome.retry else "refused"
        self.dead.append(DeadAlert(head.insight, self.label, reason, outcome.detail))
