"""Rate limiters on the injected clock, shared by all coroutines of a process.

`RateLimiter(rate)` hands out slots at most `rate` per second: each `acquire()` reserves the
next free slot (now, or one interval after the previous slot) and sleeps until it (a slot
less than a millisecond ahead, the event loop's timer granularity, is not slept for).
Reserving takes no await, so concurrent callers queue in call order without a lock.
`KeyedRateLimiter` keeps one limiter per key (Twilio: per sender number). Time is read from
the Clock and waited with the injected `sleep`, so tests measure the spacing on a
ManualClock.

A rate of `math.inf` spaces nothing (`unlimited()`): the limiter of a sender that reaches no
provider (a dry run, a disabled feature, the simulator's). `sends_within(window)` is how many
sends a limiter lets out over a window: the delivery layer sizes its claims with it.
"""

from __future__ import annotations

import asyncio
import math
import sys
from datetime import datetime, timedelta
from typing import Protocol

from app.core.clock import Clock
from app.providers.retry import Sleep

UNBOUNDED = sys.maxsize  # `sends_within` of a limiter that spaces nothing
# The shortest wait worth sleeping for: the event loop's timer granularity (see acquire)
TIMER_SLACK = timedelta(milliseconds=1)


class Pace(Protocol):
    """What the delivery layer needs to know about a channel's limiter."""

    def sends_within(self, window: timedelta) -> int: ...


def _interval(rate_per_second: float) -> timedelta:
    if not rate_per_second > 0:
        raise ValueError("rate_per_second must be positive")
    # timedelta keeps microseconds: a rate above 2,000,000/s spaces nothing, like inf
    return timedelta(seconds=1 / rate_per_second)


def _sends_within(interval: timedelta, window: timedelta) -> int:
    # at the steady rate one send per interval: the whole intervals in the window, at least 1
    return UNBOUNDED if not interval else max(1, window // interval)


class RateLimiter:
    def __init__(self, rate_per_second: float, *, clock: Clock, sleep: Sleep = asyncio.sleep):
        self.interval = _interval(rate_per_second)
        self.clock = clock
        self.sleep = sleep
        self._next: datetime | None = None

    async def acquire(self) -> datetime:
        """Wait for this caller's slot; returns the slot time. A slot less than `TIMER_SLACK`
        ahead is taken at once: the event loop's timers cannot wait that little (epoll
        rounds a wait up to a millisecond), and the slots still advance one interval each,
        so over any window longer than that the rate holds."""
        # No lock: nothing below awaits before `_next` moves on, so concurrent callers
        # reserve their slots one after another, in call order.
        now = self.clock.now()
        slot = now if self._next is None or self._next <= now else self._next
        self._next = slot + self.interval
        if slot - now < TIMER_SLACK:
            return slot
        while (wait := (slot - self.clock.now()).total_seconds()) > 0:
            await self.sleep(wait)
        return slot

    def sends_within(self, window: timedelta) -> int:
        """Slots handed out over `window` at the steady rate: `window // interval`, at least 1;
        `UNBOUNDED` when slots are not spaced at all."""
        return _sends_within(self.interval, window)


class KeyedRateLimiter:
    """One RateLimiter per key, created on first use."""

    def __init__(self, rate_per_second: float, *, clock: Clock, sleep: Sleep = asyncio.sleep):
        self.rate = rate_per_second
        self.clock = clock
        self.sleep = sleep
        self._limiters: dict[str, RateLimiter] = {}
        self._interval = _interval(rate_per_second)

    async def acquire(self, key: str) -> datetime:
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = RateLimiter(self.rate, clock=self.clock, sleep=self.sleep)
            self._limiters[key] = limiter
        return await limiter.acquire()

    def sends_within(self, window: timedelta) -> int:
        """`RateLimiter.sends_within` of one key (an adapter sends from one key: its sender)."""
        return _sends_within(self._interval, window)


def unlimited(clock: Clock) -> RateLimiter:
    """A limiter that never waits, for a sender that reaches no provider."""
    return RateLimiter(math.inf, clock=clock)
