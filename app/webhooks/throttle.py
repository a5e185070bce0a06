"""`Throttle`: a token bucket per client address, for the anonymous status login.

Contract: each address holds up to `burst` attempts, refilled at `per_second`; `wait(key,
now)` takes one attempt and returns 0, or returns the seconds until one is available (the
caller answers 429 with Retry-After). Time is the caller's clock, so tests move it. At most
`max_keys` addresses are remembered; beyond that the least recently seen is forgotten (its
bucket was the fullest anyway), so a flood of addresses cannot grow memory.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime


class Throttle:
    def __init__(self, burst: int, per_second: float, max_keys: int = 10_000) -> None:
        self.burst = burst
        self.per_second = per_second
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # (tokens, at)

    def wait(self, key: str, now: datetime) -> float:
        """0 when an attempt is allowed (and taken), else the seconds until the next one."""
        at = now.timestamp()
        tokens, last = self._buckets.pop(key, (float(self.burst), at))
        tokens = min(float(self.burst), tokens + max(0.0, at - last) * self.per_second)
        if tokens >= 1.0:
            tokens -= 1.0
            wait = 0.0
        else:
            wait = (1.0 - tokens) / self.per_second
        self._buckets[key] = (tokens, at)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait
