"""A batch whose sends outlast the lease, while the next drip tick runs.

Default settings: DRIP_BATCH_SIZE=500, DRIP_LEASE_SECONDS=600, Twilio 1 message/s per
sender, and the outbox reclaims a row left 'sending' for 600 s. A batch of 500 texts takes
500 s at that rate. A short 429 spell (Retry-After: 40, three times, as Twilio sends it)
adds two minutes, so worker A is still sending at t0+600. The next tick (worker B) then
finds the enrollments' leases expired and the outbox rows 'sending' for more than 600 s. It
reclaims them as ambiguous, asks Twilio, finds the texts A has not sent YET, and sends them.
A then sends them as well: each of those leads gets the text twice. That happened while the
delivery claimed a whole batch up front; it now claims each chunk when it is about to send
it, and this test guards against the duplicate coming back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import respx

from app.campaigns import drip
from app.core.clock import ManualClock
from app.jobs.drip import drip_deps
from app.providers.ports import SendCheck, SendResult, SmsMessage, SmsSender
from tests.campaigns.helpers import add_leads, load
from tests.chaos.helpers import (
    SMS_ONLY,
    FakeProviders,
    assert_exactly_once,
    real_settings,
    twilio_429,
    worker,
)

LEADS = 500  # one default-size batch


class NextTickAt:
    """Wraps worker A's SMS port: before the first send at or after `when` (on the clock that
    A's rate limiter really advances), the next cron tick — worker B's drip run — happens."""

    def __init__(self, inner: SmsSender, clock: ManualClock, when: datetime, tick: Any):
        self.inner, self.clock, self.when, self.tick = inner, clock, when, tick
        self.name = inner.name
        self.fired = False

    async def send(self, message: SmsMessage, check: SendCheck | None = None) -> SendResult:
        if not self.fired and self.clock.now() >= self.when:
            self.fired = True
            await self.tick()
        return await self.inner.send(message, check)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_batch_outlasting_the_lease_is_not_sent_twice_by_the_next_tick(
    database_dsn: str, clock: ManualClock
) -> None:
    # Only the rate (per sender, per the design) and concurrency 1 (so the fake sleep moves
    # the clock by exactly the limiter's spacing) are set; batch, lease, reclaim: defaults.
    settings = real_settings(twilio_rate_per_second_per_sender=1.0, drip_concurrency=1)
    assert (settings.drip_batch_size, settings.drip_lease_seconds) == (LEADS, 600)
    fake = FakeProviders(clock)
    refusals = iter(range(3))

    def short_429_spell(key: str, form: dict[str, str]) -> httpx.Response | None:
        return twilio_429(40) if next(refusals, None) is not None else None

    fake.twilio_hook = short_429_spell
    tick: list[dict[str, int]] = []
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        fake.install(router)
        async with (
            worker(settings, clock, database_dsn) as a,
            worker(settings, clock, database_dsn) as b,
        ):
            await load(a, SMS_ONLY)
            await add_leads(a, LEADS)
            await a.repos.campaigns.enroll(clock.now())
            started = clock.now()

            async def next_tick() -> None:
                tick.append(await drip.run(drip_deps(b)))

            a.providers.delivery.sms = NextTickAt(
                a.providers.delivery.sms, clock, started + timedelta(seconds=605), next_tick
            )
            first = await drip.run(drip_deps(a))
            for _ in range(2):  # whatever the tick found busy was rescheduled: settle it
                clock.advance(drip.RETRY_LATER)
                await drip.run(drip_deps(b))
    assert tick, "the next tick never came: the batch was faster than the lease"
    assert sum(first.values()) == LEADS
    assert_exactly_once(database_dsn, fake.accepted, steps=1)
