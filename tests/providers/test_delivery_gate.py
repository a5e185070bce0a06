"""A batch's sends go out at most DRIP_CONCURRENCY at a time (`deliver_messages`'
`concurrency`), whether its chunk is larger than that (the gate holds the rest back) or not
(every send of the chunk goes at once, and the gate is never waited at)."""

from __future__ import annotations

import asyncio
import math

import httpx
import pytest
import respx

from app.core.clock import ManualClock
from app.db.outbox import MessageIn
from app.db.repositories import Repositories
from app.db.transport import PostgresTransport
from app.providers.delivery import OutboxDelivery
from app.providers.ratelimit import KeyedRateLimiter
from app.providers.resend import ResendEmailSender
from app.providers.retry import RetryPolicy
from app.providers.twilio import TwilioSmsSender
from app.providers.vapi import VapiCallPlacer
from tests.providers.bodies import twilio_message
from tests.providers.conftest import MESSAGES_URL, FakeSleep, twilio_config
from tests.providers.db import PHONE, make_lead

CREATED = "Thu, 26 Nov 2026 15:00:01 +0000"


@pytest.mark.parametrize(("concurrency", "most"), [(3, 3), (7, 7), (50, 7)])
async def test_a_chunk_keeps_at_most_its_concurrency_in_flight(
    transport: PostgresTransport, clock: ManualClock, database_dsn: str, mock: respx.MockRouter,
    client: httpx.AsyncClient, retry: RetryPolicy, sleep: FakeSleep, resend: ResendEmailSender,
    vapi: VapiCallPlacer, concurrency: int, most: int,
) -> None:  # fmt: skip
    repos = Repositories(transport)
    lead = await make_lead(repos, clock, database_dsn)
    ids = [
        (await repos.outbox.enqueue_message(MessageIn(
            idempotency_key=f"drip:{n}:0", channel="sms", to_address=PHONE, provider="twilio",
            lead_id=lead, payload={"body": f"Hi Dana, text {n}. Reply STOP to opt out."},
        ), clock.now())).id
        for n in range(7)
    ]  # fmt: skip
    in_flight, seen = [0], [0]

    async def twilio_answers(request: httpx.Request) -> httpx.Response:
        in_flight[0] += 1
        seen[0] = max(seen[0], in_flight[0])
        for _ in range(5):  # the answer takes a while: the other sends may start meanwhile
            await asyncio.sleep(0)
        in_flight[0] -= 1
        return httpx.Response(201, json=twilio_message(f"SM{request.content[-2:].hex()}",
                                                       PHONE, "x", CREATED))  # fmt: skip

    mock.post(MESSAGES_URL).mock(side_effect=twilio_answers)
    unlimited = KeyedRateLimiter(math.inf, clock=clock, sleep=sleep)  # no spacing: only the gate
    sms = TwilioSmsSender(
        twilio_config(), client=client, retry=retry, limiter=unlimited, clock=clock
    )
    delivery = OutboxDelivery(repos.outbox, email=resend, sms=sms, calls=vapi, clock=clock)
    out = await delivery.deliver_messages(ids, concurrency=concurrency, chunk=7)
    assert sorted(out) == sorted(ids) and {d.outcome for d in out.values()} == {"sent"}
    assert seen[0] == most
