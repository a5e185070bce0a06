"""Rate limiters on the injected clock, shared by all coroutines of a process.

`RateLimiter(rate)` hands out slots at most `rate` per second: each `acquire()` reserves the
next free slot (now, or one interval after the previous slot) and sleeps until it. Reserving
under a lock makes concurrent callers queue in order. `KeyedRateLimiter` keeps one limiter per
key (Twilio: per sender number). Time is read from the Clock and waited with the injected
`sleep`, so tests measure the spacing on a ManualClock.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from app.core.clock import Clock
from app.providers.retry import Sleep


class RateLimiter:
    def __init__(self, rate_per_second: float, *, clock: Clock, sleep: Sleep = asyncio.sleep):
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.interval = timedelta(seconds=1 / rate_per_second)
        self.clock = clock
        self.sleep = sleep
        self._next: datetime | None = None
        self._lock = asyncio.Lock()

    async def acquire(self) -> datetime:
        """Wait for this caller's slot; returns the slot time."""
        async with self._lock:
            now = self.clock.now()
            slot = now if self._next is None or self._next <= now else self._next
            self._next = slot + self.interval
        while (wait := (slot - self.clock.now()).total_seconds()) > 0:
            await self.sleep(wait)
        return slot


class KeyedRateLimiter:
    """One RateLimiter per key, created on first use."""

    def __init__(self, rate_per_second: float, *, clock: Clock, sleep: Sleep = asyncio.sleep):
        self.rate = rate_per_second
        self.clock = clock
        self.sleep = sleep
        self._limiters: dict[str, RateLimiter] = {}

    async def acquire(self, key: str) -> datetime:
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = RateLimiter(self.rate, clock=self.clock, sleep=self.sleep)
            self._limiters[key] = limiter
        return await limiter.acquire()
