"""Rate limiters, measured on the injected clock: bursts are spread at the configured rate;
what a limiter lets out over a window (which sizes the delivery's claims)."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta

import httpx
import pytest
import respx

from app.core.clock import ManualClock
from app.providers.ports import SmsMessage
from app.providers.ratelimit import UNBOUNDED, KeyedRateLimiter, RateLimiter, unlimited
from app.providers.twilio import TwilioSmsSender
from tests.providers.bodies import twilio_message
from tests.providers.conftest import MESSAGES_URL, FakeSleep


def offsets(times: list[datetime], start: datetime) -> list[float]:
    return [round((t - start).total_seconds(), 6) for t in times]


async def test_a_burst_of_sms_is_spread_at_one_per_second_per_sender(
    mock: respx.MockRouter, twilio: TwilioSmsSender, clock: ManualClock
) -> None:
    start = clock.now()
    seen: list[datetime] = []

    def accept(request: httpx.Request) -> httpx.Response:
        seen.append(clock.now())  # when the request reached "Twilio", on the injected clock
        body = twilio_message(
            f"SM{len(seen)}", "+15558675310", "hi", "Thu, 26 Nov 2026 15:00:00 +0000"
        )
        return httpx.Response(201, json=body)

    mock.post(MESSAGES_URL).mock(side_effect=accept)
    for n in range(5):
        message = SmsMessage(
            outbox_id=n, idempotency_key=f"m{n}", to="+15558675310", body="hi", claimed_at=start
        )
        await twilio.send(message)
    assert offsets(seen, start) == [0.0, 1.0, 2.0, 3.0, 4.0]


async def test_concurrent_callers_never_get_closer_than_the_interval(
    clock: ManualClock, sleep: FakeSleep
) -> None:
    limiter = RateLimiter(10, clock=clock, sleep=sleep)  # Resend's default: 10 requests/s
    start = clock.now()
    slots = await asyncio.gather(*(limiter.acquire() for _ in range(20)))
    assert offsets(sorted(slots), start) == [round(i * 0.1, 6) for i in range(20)]
    assert clock.now() >= slots[-1]  # every caller waited for its slot on the clock


async def test_slots_free_up_as_time_passes(clock: ManualClock, sleep: FakeSleep) -> None:
    limiter = RateLimiter(2, clock=clock, sleep=sleep)
    start = clock.now()
    await limiter.acquire()
    await limiter.acquire()
    assert offsets([clock.now()], start) == [0.5]
    clock.advance(timedelta(seconds=10))  # idle: no debt carried over
    before = len(sleep.waits)
    await limiter.acquire()
    assert len(sleep.waits) == before


async def test_each_sender_has_its_own_limit(clock: ManualClock, sleep: FakeSleep) -> None:
    limiter = KeyedRateLimiter(1, clock=clock, sleep=sleep)
    start = clock.now()
    a1 = await limiter.acquire("+15005550006")
    b1 = await limiter.acquire("MG0123")
    a2 = await limiter.acquire("+15005550006")
    assert offsets([a1, b1, a2], start) == [0.0, 0.0, 1.0]


def test_what_a_limiter_lets_out_over_a_window(clock: ManualClock) -> None:
    two_seconds = timedelta(seconds=2)
    assert RateLimiter(1, clock=clock).sends_within(two_seconds) == 2  # Twilio long code
    assert RateLimiter(10, clock=clock).sends_within(two_seconds) == 20  # Resend's default
    assert RateLimiter(0.2, clock=clock).sends_within(two_seconds) == 1  # never less than 1
    assert KeyedRateLimiter(1, clock=clock).sends_within(two_seconds) == 2  # per sender


def test_a_limiter_that_spaces_nothing_lets_everything_out_at_once(clock: ManualClock) -> None:
    assert unlimited(clock).sends_within(timedelta(seconds=2)) == UNBOUNDED
    # beyond timedelta's microsecond: no spacing either
    assert RateLimiter(1e7, clock=clock).sends_within(timedelta(seconds=2)) == UNBOUNDED
    with pytest.raises(ValueError):
        RateLimiter(0, clock=clock)


async def test_an_unlimited_limiter_never_waits(clock: ManualClock, sleep: FakeSleep) -> None:
    limiter = RateLimiter(math.inf, clock=clock, sleep=sleep)
    slots = await asyncio.gather(*(limiter.acquire() for _ in range(50)))
    assert set(slots) == {clock.now()} and sleep.waits == []


async def test_a_fast_limiter_sleeps_only_for_waits_the_event_loop_can_time(
    clock: ManualClock, sleep: FakeSleep
) -> None:
    # 100,000/s: a slot every 10 µs. Sleeping for each would oversleep to the loop's timer
    # granularity (~1 ms, a hundred slots): a slot less than 1 ms ahead goes at once, and
    # the slots still advance 10 µs each, so over any millisecond the rate holds.
    limiter = RateLimiter(100_000, clock=clock, sleep=sleep)
    start = clock.now()
    slots = [await limiter.acquire() for _ in range(300)]
    assert offsets(slots, start) == [round(i * 1e-5, 6) for i in range(300)]
    assert sleep.waits == [0.001, 0.001]  # to slot 100, then to slot 200
    assert clock.now() == start + timedelta(milliseconds=2)
