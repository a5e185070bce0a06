"""Delivery end to end on a real Postgres with respx-mocked providers: claim before the
call, record after, 21610 opts out, ambiguous failures reconciled across runs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from app.core.clock import ManualClock
from app.db.outbox import CallIn, MessageIn
from app.db.repositories import Repositories
from app.db.transport import PostgresTransport
from app.providers.delivery import OutboxDelivery
from app.providers.dryrun import DryRunCallPlacer, DryRunEmailSender, DryRunSmsSender
from app.providers.ports import EmailMessage, SendCheck, SendResult
from app.providers.resend import ResendEmailSender
from app.providers.twilio import TwilioSmsSender
from app.providers.vapi import VapiCallPlacer
from tests.providers.bodies import (
    resend_error,
    twilio_error,
    twilio_message,
    twilio_page,
    vapi_call,
)
from tests.providers.conftest import MESSAGES_URL, resend_config, twilio_config, vapi_config
from tests.providers.db import PHONE, make_lead, sql

BODY = "Hi Dana, furnace check this week? Reply STOP to opt out."
VAPI_URL = "https://api.vapi.ai/call"
RESEND_URL = "https://api.resend.com/emails"


@pytest.fixture
def repos(transport: PostgresTransport) -> Repositories:
    return Repositories(transport)


class Alerts:
    def __init__(self) -> None:
        self.raised: list[tuple[str, str, dict[str, Any]]] = []

    async def __call__(self, severity: str, title: str, details: dict[str, Any]) -> None:
        self.raised.append((severity, title, details))


@pytest.fixture
def alerts() -> Alerts:
    return Alerts()


@pytest.fixture
def delivery(
    repos: Repositories,
    resend: ResendEmailSender,
    twilio: TwilioSmsSender,
    vapi: VapiCallPlacer,
    clock: ManualClock,
    alerts: Alerts,
) -> OutboxDelivery:
    return OutboxDelivery(
        repos.outbox, email=resend, sms=twilio, calls=vapi, clock=clock, alert=alerts
    )


async def enqueue_sms(
    repos: Repositories, clock: ManualClock, lead: int | None, key: str = "m1"
) -> int:
    row = await repos.outbox.enqueue_message(
        MessageIn(idempotency_key=key, channel="sms", to_address=PHONE, provider="twilio",
                  lead_id=lead, payload={"body": BODY}),
        clock.now(),
    )  # fmt: skip
    return row.id


def twilio_created(sid: str, when: datetime) -> dict[str, Any]:
    return twilio_message(sid, PHONE, BODY, when.strftime("%a, %d %b %Y %H:%M:%S +0000"))


async def test_the_row_is_claimed_before_the_provider_is_called(
    repos: Repositories, clock: ManualClock, twilio: TwilioSmsSender, vapi: VapiCallPlacer
) -> None:
    seen: list[str] = []

    class Spy:
        name = "spy"

        async def send(self, message: EmailMessage, check: SendCheck | None = None) -> SendResult:
            row = await repos.outbox.get_message(message.outbox_id)
            assert row is not None
            seen.append(row.status)
            return SendResult("resend", "re_1", "sent")

    spy_delivery = OutboxDelivery(repos.outbox, email=Spy(), sms=twilio, calls=vapi, clock=clock)
    row = await repos.outbox.enqueue_message(
        MessageIn(idempotency_key="e1", channel="email", to_address="dana@example.org",
                  provider="resend", payload={"subject": "Hi", "html": "<p>Hi</p>",
                                              "unsubscribe_url": "https://a.example/u/1"}),
        clock.now(),
    )  # fmt: skip
    result = await spy_delivery.deliver_message(row.id)
    assert seen == ["sending"]
    assert (result.outcome, result.provider_id) == ("sent", "re_1")
    stored = await repos.outbox.get_message(row.id)
    assert stored is not None and (stored.status, stored.provider_id) == ("sent", "re_1")
    assert (await spy_delivery.deliver_message(row.id)).outcome == "done"  # never twice


async def test_21610_fails_the_message_and_opts_the_lead_out_of_sms(
    mock: respx.MockRouter, repos: Repositories, delivery: OutboxDelivery,
    clock: ManualClock, database_dsn: str,
) -> None:  # fmt: skip
    lead = await make_lead(repos, clock, database_dsn)
    body = twilio_error(21610, "Attempt to send to unsubscribed recipient")
    post = mock.post(MESSAGES_URL).mock(return_value=httpx.Response(400, json=body))
    first = await delivery.deliver_message(await enqueue_sms(repos, clock, lead, "m1"))
    assert (first.outcome, first.error_code) == ("failed", "21610")
    assert (
        sql(database_dsn, "select sms_opted_out_at from leads where id = %s", lead)[0][
            "sms_opted_out_at"
        ]
        == clock.now()
    )
    assert sql(database_dsn, "select channel, address from suppressions") == [
        {"channel": "sms", "address": PHONE}
    ]
    # The next text to this lead is stopped at the claim: no request at all.
    second = await delivery.deliver_message(await enqueue_sms(repos, clock, lead, "m2"))
    assert second.outcome == "suppressed" and post.call_count == 1


async def test_ambiguous_sms_is_requeued_then_reconciled_on_the_next_run(
    mock: respx.MockRouter, repos: Repositories, delivery: OutboxDelivery, clock: ManualClock
) -> None:
    claimed_at = clock.now()
    post = mock.post(MESSAGES_URL).mock(side_effect=httpx.ReadTimeout("read timed out"))
    get = mock.get(MESSAGES_URL).mock(return_value=httpx.Response(200, json=twilio_page([])))
    message_id = await enqueue_sms(repos, clock, None)
    first = await delivery.deliver_message(message_id)
    assert (first.outcome, first.error_code) == ("requeued", "ReadTimeout")
    assert post.call_count == 4 and get.call_count == 3  # a lookup before every resend
    row = await repos.outbox.get_message(message_id)
    assert row is not None and (row.status, row.ambiguous_since) == ("queued", claimed_at)

    # Next run: Twilio's list now shows the message (the last POST did go out).
    clock.advance(timedelta(minutes=5))
    get.mock(
        return_value=httpx.Response(200, json=twilio_page([twilio_created("SM7", claimed_at)]))
    )
    second = await delivery.deliver_message(message_id)
    assert (second.outcome, second.provider_id, second.reconciled) == ("sent", "SM7", True)
    assert post.call_count == 4  # nothing more was sent
    row = await repos.outbox.get_message(message_id)
    assert row is not None and (row.status, row.provider_id, row.attempts) == ("sent", "SM7", 2)


async def test_vapi_timeout_reconciled_through_delivery_records_the_call(
    mock: respx.MockRouter, repos: Repositories, delivery: OutboxDelivery,
    clock: ManualClock, database_dsn: str,
) -> None:  # fmt: skip
    lead = await make_lead(repos, clock, database_dsn)
    row = await repos.outbox.enqueue_call(
        CallIn(idempotency_key="c1", to_number=PHONE, lead_id=lead,
               payload={"variable_values": {"first_name": "Dana"}}),
        clock.now(),
    )  # fmt: skip
    post = mock.post(VAPI_URL).mock(side_effect=[httpx.ReadTimeout("read timed out")])
    found = vapi_call("vapi-77", PHONE, row.id, "2026-11-26T15:00:01Z")
    mock.get(VAPI_URL).mock(return_value=httpx.Response(200, json=[found]))
    result = await delivery.place_call(row.id)
    assert (result.outcome, result.provider_id, result.reconciled) == ("sent", "vapi-77", True)
    assert post.call_count == 1
    stored = await repos.outbox.get_call(row.id)
    assert stored is not None and stored.vapi_call_id == "vapi-77"
    assert sql(database_dsn, "select call_attempts from leads where id = %s", lead) == [
        {"call_attempts": 1}
    ]


async def test_resend_quota_requeues_and_raises_a_warning_alert(
    mock: respx.MockRouter, repos: Repositories, delivery: OutboxDelivery,
    clock: ManualClock, alerts: Alerts,
) -> None:  # fmt: skip
    body = resend_error(429, "daily_quota_exceeded", "You have reached your daily quota.")
    mock.post(RESEND_URL).mock(return_value=httpx.Response(429, json=body))
    row = await repos.outbox.enqueue_message(
        MessageIn(idempotency_key="e9", channel="email", to_address="dana@example.org",
                  provider="resend", kind="transactional",
                  payload={"subject": "Your visit", "html": "<p>See you at 9</p>"}),
        clock.now(),
    )  # fmt: skip
    result = await delivery.deliver_message(row.id)
    assert (result.outcome, result.error_code) == ("requeued", "daily_quota_exceeded")
    assert [(severity, details["code"]) for severity, _, details in alerts.raised] == [
        ("warning", "daily_quota_exceeded")
    ]
    stored = await repos.outbox.get_message(row.id)
    assert stored is not None and stored.status == "queued"


async def test_dry_run_delivery_records_the_request_with_provider_dryrun(
    repos: Repositories, clock: ManualClock
) -> None:
    dry = OutboxDelivery(
        repos.outbox,
        email=DryRunEmailSender(resend_config()),
        sms=DryRunSmsSender(twilio_config()),
        calls=DryRunCallPlacer(vapi_config()),
        clock=clock,
    )
    message_id = await enqueue_sms(repos, clock, None)
    assert (await dry.deliver_message(message_id)).outcome == "sent"
    row = await repos.outbox.get_message(message_id)
    assert row is not None
    assert (row.provider, row.status, row.provider_id) == ("dryrun", "dry_run", "dryrun-m1")
    assert row.payload["request"]["form"]["Body"] == BODY
    assert "Authorization" not in row.payload["request"]["headers"]

    call = await repos.outbox.enqueue_call(
        CallIn(idempotency_key="c1", to_number=PHONE), clock.now()
    )
    assert (await dry.place_call(call.id)).outcome == "sent"
    stored = await repos.outbox.get_call(call.id)
    assert stored is not None and (stored.provider, stored.status) == ("dryrun", "ended")
    assert stored.payload["request"]["json"]["customer"] == {"number": PHONE}


async def test_a_run_that_crashed_mid_send_is_reconciled_by_the_next_one(
    mock: respx.MockRouter, repos: Repositories, delivery: OutboxDelivery, clock: ManualClock
) -> None:
    message_id = await enqueue_sms(repos, clock, None)
    crashed_at = clock.now()
    await repos.outbox.claim_message(message_id, clock.now())  # ... then the process died
    clock.advance(timedelta(minutes=11))  # past the 10-minute reclaim delay
    post = mock.post(MESSAGES_URL).mock(
        return_value=httpx.Response(201, json=twilio_created("SMx", clock.now()))
    )
    mock.get(MESSAGES_URL).mock(
        return_value=httpx.Response(200, json=twilio_page([twilio_created("SM1", crashed_at)]))
    )
    result = await delivery.deliver_message(message_id)
    assert (result.outcome, result.provider_id, result.reconciled) == ("sent", "SM1", True)
    assert not post.called
