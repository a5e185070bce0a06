"""A lead texts STOP while a drip batch is still going out (sent one per second per sender):
the design re-checks opt-outs "right before the provider call" — delivery claims (and so
re-checks) each chunk of rows only when it is about to send it, a chunk being what the
limiter lets out in `CLAIM_AHEAD` (2 texts here, whatever DRIP_CONCURRENCY) — so a lead who
opted out before their text's turn must not get it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
import respx

from app.campaigns import drip
from app.core.clock import ManualClock
from app.jobs.drip import drip_deps
from app.providers.ports import SendCheck, SendResult, SmsMessage, SmsSender
from app.webhooks.signatures import twilio_signature
from tests.campaigns.helpers import add_leads, load
from tests.chaos.helpers import (
    BASE_URL,
    SMS_ONLY,
    TWILIO_TOKEN,
    FakeProviders,
    real_settings,
    rows,
    worker,
)
from tests.webhooks.helpers import client

LEADS = 10
STOP_AFTER = 3  # texts sent before the STOP arrives


class StopArrives:
    """Wraps the SMS port: after STOP_AFTER sends, `arrive()` runs (the STOP webhook)."""

    def __init__(self, inner: SmsSender, arrive: Any) -> None:
        self.inner, self.arrive = inner, arrive
        self.name = inner.name
        self.sent = 0

    async def send(self, message: SmsMessage, check: SendCheck | None = None) -> SendResult:
        if self.sent == STOP_AFTER:
            await self.arrive()
        self.sent += 1
        return await self.inner.send(message, check)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize("concurrency", [1, 20])  # the chunk follows the limiter, not this
async def test_stop_received_mid_batch_stops_the_not_yet_sent_text(
    concurrency: int, database_dsn: str, clock: ManualClock
) -> None:
    settings = real_settings(twilio_rate_per_second_per_sender=1.0, drip_concurrency=concurrency)
    fake = FakeProviders(clock)
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        fake.install(router)
        async with worker(settings, clock, database_dsn) as ctx, client(ctx, BASE_URL) as http:
            await load(ctx, SMS_ONLY)
            await add_leads(ctx, LEADS)
            await ctx.repos.campaigns.enroll(clock.now())
            stopped: list[str] = []

            async def stop_arrives() -> None:
                pending = rows(
                    database_dsn,
                    "select to_address from messages where status in ('queued', 'sending')"
                    " order by id desc",
                )
                number = pending[0]["to_address"]  # the batch's last text: not its turn yet
                params = {"From": number, "To": "+15005550006", "Body": "STOP",
                          "MessageSid": "SM" + "5" * 32, "AccountSid": "AC" + "0" * 32}  # fmt: skip
                path = "/webhooks/twilio/sms"
                signature = twilio_signature(TWILIO_TOKEN, BASE_URL + path, params.items())
                response = await http.post(
                    path, content=urlencode(params).encode(),
                    headers={"Content-Type": "application/x-www-form-urlencoded",
                             "X-Twilio-Signature": signature},
                )  # fmt: skip
                assert response.status_code == 200
                stopped.append(number)

            ctx.providers.delivery.sms = StopArrives(ctx.providers.delivery.sms, stop_arrives)
            await drip.run(drip_deps(ctx))
    assert len(stopped) == 1
    [lead] = rows(
        database_dsn, "select sms_opted_out_at from leads where phone = %s", (stopped[0],)
    )
    assert lead["sms_opted_out_at"] is not None  # the STOP was applied
    texted = [a.to for a in fake.accepted]
    assert stopped[0] not in texted, "texted after STOP"
    assert len(texted) == LEADS - 1
