"""A STOP lands while its text is already claimed and waits in the Twilio rate limiter (1 text
per second per sender): the real Twilio adapter re-checks at the last moment (`mark_sending`,
after the limiter's wait, before the POST), so the text is not sent and its row is cancelled.
The same check holds texts whose permitted window closes while they wait.

Before the last-moment check, the claim was the only re-check: a text claimed with its chunk
went out after the STOP had been stored (issue 14 measured 17.9 s after it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx

from app.campaigns import drip
from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context, Overrides, bootstrap
from app.jobs.drip import drip_deps
from app.webhooks.signatures import twilio_signature
from tests.campaigns.helpers import add_leads, load
from tests.chaos.helpers import (
    BASE_URL,
    SMS_ONLY,
    TWILIO_TOKEN,
    FakeProviders,
    FakeSleep,
    real_settings,
    rows,
)
from tests.webhooks.helpers import client

LEADS = 6
NEW_YORK = ZoneInfo("America/New_York")


class StopDuringWait(FakeSleep):
    """The limiter's sleep: while the first text that has to wait for its slot waits,
    `arrive()` runs (the lead's STOP reaches the webhook)."""

    arrive: Callable[[], Awaitable[None]] | None = None

    async def __call__(self, seconds: float) -> None:
        await super().__call__(seconds)
        if self.arrive is not None:
            arrive, self.arrive = self.arrive, None
            await arrive()


@asynccontextmanager
async def worker(
    settings: Settings, clock: ManualClock, dsn: str, sleep: FakeSleep
) -> AsyncIterator[Context]:
    transport = await PostgresTransport(dsn, max_size=4).open()
    try:
        overrides = Overrides(clock=clock, transport=transport, sleep=sleep)
        async with bootstrap(settings, overrides) as ctx:
            yield ctx
    finally:
        await transport.close()


@pytest.mark.parametrize("concurrency", [1, 20])
async def test_stop_stored_while_the_claimed_text_waits_in_the_limiter_cancels_it(
    concurrency: int, database_dsn: str, clock: ManualClock
) -> None:
    settings = real_settings(twilio_rate_per_second_per_sender=1.0, drip_concurrency=concurrency)
    fake, sleep = FakeProviders(clock), StopDuringWait(clock)
    stopped: list[str] = []
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        fake.install(router)
        async with (
            worker(settings, clock, database_dsn, sleep) as ctx,
            client(ctx, BASE_URL) as http,
        ):
            assert ctx.providers.delivery.claim_chunk("sms") == 2
            await load(ctx, SMS_ONLY)
            await add_leads(ctx, LEADS)
            await ctx.repos.campaigns.enroll(clock.now())

            async def stop_arrives() -> None:
                # The chunk's last row: claimed with the chunk, now waiting for its slot.
                [waiting] = rows(
                    database_dsn,
                    "select to_address from messages where status = 'sending'"
                    " order by id desc limit 1",
                )
                number = waiting["to_address"]
                params = {"From": number, "To": "+15005550006", "Body": "STOP",
                          "MessageSid": "SM" + "7" * 32, "AccountSid": "AC" + "0" * 32}  # fmt: skip
                path = "/webhooks/twilio/sms"
                signature = twilio_signature(TWILIO_TOKEN, BASE_URL + path, params.items())
                response = await http.post(
                    path, content=urlencode(params).encode(),
                    headers={"Content-Type": "application/x-www-form-urlencoded",
                             "X-Twilio-Signature": signature},
                )  # fmt: skip
                assert response.status_code == 200
                stopped.append(number)

            sleep.arrive = stop_arrives
            await drip.run(drip_deps(ctx))
    assert len(stopped) == 1, "no text ever waited in the limiter"
    number = stopped[0]
    [lead] = rows(database_dsn, "select sms_opted_out_at from leads where phone = %s", (number,))
    assert lead["sms_opted_out_at"] is not None  # the STOP was stored...
    [row] = rows(
        database_dsn,
        "select status, error_code, status_history from messages where to_address = %s",
        (number,),
    )
    assert [h["status"] for h in row["status_history"]] == ["sending", "cancelled"]  # ...after
    assert (row["status"], row["error_code"]) == ("cancelled", "suppressed")  # the claim
    texted = [a.to for a in fake.accepted]
    assert number not in texted, "texted after STOP"
    assert len(texted) == LEADS - 1
    [enrollment] = rows(
        database_dsn,
        "select e.status from enrollments e join leads l on l.id = e.lead_id where l.phone = %s",
        (number,),
    )
    assert enrollment["status"] == "stopped"  # the campaign's stop rule: on opt-out


async def test_window_that_closes_while_texts_wait_in_the_limiter_holds_them_till_morning(
    database_dsn: str, clock: ManualClock
) -> None:
    """20:59:59 in New York, three texts due, Twilio at 1 text/s: the first goes, the others
    reach their slot at 21:00 and later (federal quiet hours) and must wait for 08:00."""
    # One send at a time: FakeSleep moves the clock at once, without yielding, so a second send
    # "waiting" for its slot would move it past 21:00 before the first one's check ran.
    settings = real_settings(twilio_rate_per_second_per_sender=1.0, drip_concurrency=1)
    fake, sleep = FakeProviders(clock), FakeSleep(clock)
    posted: list[datetime] = []

    def note_time(key: str, form: dict[str, str]) -> httpx.Response | None:
        posted.append(clock.now())
        return None  # answered as usual

    fake.twilio_hook = note_time
    evening = datetime(2026, 11, 26, 20, 59, 59, tzinfo=NEW_YORK)
    clock.set(evening.astimezone(UTC))
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        fake.install(router)
        async with worker(settings, clock, database_dsn, sleep) as ctx:
            await load(ctx, SMS_ONLY)
            await add_leads(ctx, 3)
            await ctx.repos.campaigns.enroll(clock.now())
            counts = await drip.run(drip_deps(ctx))
            assert counts == {"advance": 1, "reschedule:window": 2}
            held = rows(
                database_dsn, "select status, error_code from messages where provider_id is null"
            )
            assert [(r["status"], r["error_code"]) for r in held] == [
                ("queued", "outside_window")
            ] * 2
            clock.set((evening + timedelta(minutes=20)).astimezone(UTC))
            assert await drip.run(drip_deps(ctx)) == {"reschedule:outside_permitted_hours": 2}
            clock.set(datetime(2026, 11, 27, 8, tzinfo=NEW_YORK).astimezone(UTC))
            assert await drip.run(drip_deps(ctx)) == {"advance": 2}
    local = [t.astimezone(NEW_YORK).time() for t in posted]
    assert all(time(8) <= t < time(21) for t in local), local  # never in quiet hours
    assert sorted(a.to for a in fake.accepted) == [f"+1212555{i:04d}" for i in range(3)]
