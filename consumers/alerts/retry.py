"""When to try an alert again: exponential backoff with full jitter, at least what the server asked.

Full jitter (a uniform draw below the exponential ceiling) keeps many daemons that lost the same
endpoint from retrying in step. A ``Retry-After`` (429, 503) is a floor, capped by the give-up
deadline so one header cannot park an alert for a day. After ``give_up_after_s`` from the first
attempt the alert is dead-lettered: by then it is stale for a pager anyway, and it must not hold the
alerts behind it (a sink delivers in order) for longer.

>>> import random
>>> policy = RetryPolicy(first_s=1.0, cap_s=60.0, give_up_after_s=600.0)
>>> rng = random.Random(0)
>>> all(0.0 <= policy.delay(n, None, rng) <= min(60.0, 2.0**n) for n in range(12))
True
>>> policy.delay(0, 30.0, rng) >= 30.0
True
>>> policy.gives_up(first_tried=0.0, now=601.0), policy.gives_up(first_tried=0.0, now=10.0)
(True, False)
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff ``first_s · 2^attempt`` capped at ``cap_s``, jittered; give up ``give_up_after_s``
    after the first attempt."""

    first_s: float = 1.0
    cap_s: float = 300.0
    give_up_after_s: float = 3600.0

    def delay(self, attempt: int, retry_after_s: float | None, rng: random.Random) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` 0 after the first failure)."""
        ceiling = min(self.cap_s, self.first_s * 2.0 ** min(attempt, 60))
        wait = rng.uniform(0.0, ceiling)
        if retry_after_s is not None:
            wait = max(wait, min(retry_after_s, self.give_up_after_s))
        return wait

    def gives_up(self, first_tried: float, now: float) -> bool:
        return now - first_tried >= self.give_up_after_s
