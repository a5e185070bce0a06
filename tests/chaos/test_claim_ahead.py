"""A rate-limited batch is claimed as its turn comes: each outbox row is claimed (and its
opt-out re-checked) at most `CLAIM_AHEAD` before its provider call, whatever
DRIP_CONCURRENCY is, because the claim chunk is what the provider's limiter lets out in that
time (Twilio at 1 text/s per sender: 2 rows)."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
import respx

from app.campaigns import drip
from app.core.clock import ManualClock
from app.jobs.drip import drip_deps
from app.providers.delivery import CLAIM_AHEAD
from tests.campaigns.helpers import add_leads, load
from tests.chaos.helpers import (
    SMS_ONLY,
    FakeProviders,
    assert_exactly_once,
    real_settings,
    rows,
    worker,
)

LEADS = 7


@pytest.mark.parametrize("concurrency", [1, 20])
async def test_each_row_is_claimed_at_most_claim_ahead_before_its_send(
    concurrency: int, database_dsn: str, clock: ManualClock
) -> None:
    settings = real_settings(twilio_rate_per_second_per_sender=1.0, drip_concurrency=concurrency)
    fake = FakeProviders(clock)
    posted: dict[int, datetime] = {}

    def note_time(key: str, form: dict[str, str]) -> httpx.Response | None:
        posted[int(key)] = clock.now()  # when the request reached "Twilio"
        return None  # then answered as usual

    fake.twilio_hook = note_time
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        fake.install(router)
        async with worker(settings, clock, database_dsn) as ctx:
            assert ctx.providers.delivery.claim_chunk("sms") == 2
            await load(ctx, SMS_ONLY)
            await add_leads(ctx, LEADS)
            await ctx.repos.campaigns.enroll(clock.now())
            started = clock.now()
            assert await drip.run(drip_deps(ctx)) == {"advance": LEADS}
    assert clock.now() - started >= timedelta(seconds=LEADS - 1)  # the limiter really paced
    claimed = rows(database_dsn, "select id, claimed_at from messages order by id")
    ahead = {r["id"]: posted[r["id"]] - r["claimed_at"] for r in claimed}
    assert all(timedelta(0) <= a <= CLAIM_AHEAD for a in ahead.values()), ahead
    assert_exactly_once(database_dsn, fake.accepted, steps=1)
