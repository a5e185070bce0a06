"""Twilio adapter over respx: request shape, error codes, retries, and reconciliation after
an ambiguous failure (no second message when the first went out)."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from app.core.clock import ManualClock
from app.providers.errors import PermanentProviderError
from app.providers.ports import SmsMessage
from app.providers.twilio import TwilioSmsSender
from tests.providers.bodies import twilio_error, twilio_message, twilio_page
from tests.providers.conftest import (
    BASE_URL,
    FROM_NUMBER,
    MESSAGES_URL,
    TWILIO_SID,
    TWILIO_TOKEN,
    FakeSleep,
)

TO = "+15558675310"
BODY = "Hi Dana, Acme HVAC here: want a furnace check this week? Reply STOP to opt out."
CREATED = "Thu, 26 Nov 2026 15:00:01 +0000"  # the claim is at 15:00:00 UTC


def sms(clock: ManualClock, **overrides: object) -> SmsMessage:
    values: dict[str, object] = {
        "outbox_id": 7,
        "idempotency_key": "msg-7",
        "to": TO,
        "body": BODY,
        "claimed_at": clock.now(),
    }
    return SmsMessage(**{**values, **overrides})  # type: ignore[arg-type]


def created(sid: str) -> httpx.Response:
    return httpx.Response(201, json=twilio_message(sid, TO, BODY, CREATED))


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


async def test_success_posts_the_form_with_status_callback(
    mock: respx.MockRouter, twilio: TwilioSmsSender, clock: ManualClock
) -> None:
    route = mock.post(MESSAGES_URL).mock(return_value=created("SM1"))
    result = await twilio.send(sms(clock))
    assert (result.provider, result.provider_id, result.status) == ("twilio", "SM1", "queued")
    request = route.calls.last.request
    assert form(request) == {
        "To": TO,
        "Body": BODY,
        "From": FROM_NUMBER,
        "StatusCallback": f"{BASE_URL}/webhooks/twilio/status?outbox=7",
    }
    credentials = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {credentials}"


@pytest.mark.parametrize(
    ("code", "message", "opt_out"),
    [
        (21211, "The 'To' number +1555867531 is not a valid phone number.", None),
        (21408, "Permission to send an SMS has not been enabled for the region", None),
        (21614, "'To' number is not a valid mobile number", None),
        (21610, "Attempt to send to unsubscribed recipient", "sms"),
    ],
)
async def test_permanent_codes_are_attempted_exactly_once(
    mock: respx.MockRouter,
    twilio: TwilioSmsSender,
    clock: ManualClock,
    code: int,
    message: str,
    opt_out: str | None,
) -> None:
    route = mock.post(MESSAGES_URL).mock(
        return_value=httpx.Response(400, json=twilio_error(code, message))
    )
    with pytest.raises(PermanentProviderError) as info:
        await twilio.send(sms(clock))
    assert (info.value.code, info.value.opt_out) == (str(code), opt_out)
    assert route.call_count == 1
    assert TWILIO_TOKEN not in str(info.value)


async def test_429_20429_is_retried_after_the_stated_delay(
    mock: respx.MockRouter, twilio: TwilioSmsSender, clock: ManualClock, sleep: FakeSleep
) -> None:
    limited = httpx.Response(
        429, json=twilio_error(20429, "Too Many Requests", status=429), headers={"Retry-After": "5"}
    )
    route = mock.post(MESSAGES_URL).mock(side_effect=[limited, created("SM2")])
    start = clock.now()
    result = await twilio.send(sms(clock))
    assert result.provider_id == "SM2" and route.call_count == 2
    assert sleep.waits == [5.0]  # 429 is "never processed": no reconciliation needed
    assert not mock.get(MESSAGES_URL).called
    assert clock.now() - start == timedelta(seconds=5)


async def test_timeout_but_message_went_out_is_found_and_not_resent(
    mock: respx.MockRouter, twilio: TwilioSmsSender, clock: ManualClock
) -> None:
    post = mock.post(MESSAGES_URL).mock(side_effect=[httpx.ReadTimeout("read timed out")])
    other = twilio_message("SM0", TO, "an older, different text", CREATED)
    ours = twilio_message("SM9", TO, BODY, CREATED, status="sent")
    get = mock.get(MESSAGES_URL).mock(
        return_value=httpx.Response(200, json=twilio_page([other, ours]))
    )
    result = await twilio.send(sms(clock))
    assert (result.provider_id, result.reconciled, result.status) == ("SM9", True, "sent")
    assert post.call_count == 1  # no second request
    assert get.call_count == 1
    params = get.calls.last.request.url.params
    assert (params["To"], params["From"]) == (TO, FROM_NUMBER)


async def test_timeout_and_message_did_not_go_out_is_sent_once(
    mock: respx.MockRouter, twilio: TwilioSmsSender, clock: ManualClock
) -> None:
    post = mock.post(MESSAGES_URL).mock(
        side_effect=[httpx.ReadTimeout("read timed out"), created("SM3")]
    )
    # Same recipient and text, but from before the claim: an earlier send, not this one.
    stale = twilio_message("SM_OLD", TO, BODY, "Wed, 25 Nov 2026 09:00:00 +0000")
    get = mock.get(MESSAGES_URL).mock(return_value=httpx.Response(200, json=twilio_page([stale])))
    result = await twilio.send(sms(clock))
    assert (result.provider_id, result.reconciled) == ("SM3", False)
    assert post.call_count == 2 and get.call_count == 1


async def test_5xx_is_reconciled_before_resending(
    mock: respx.MockRouter, twilio: TwilioSmsSender, clock: ManualClock
) -> None:
    error = httpx.Response(500, json=twilio_error(20500, "Internal Server Error", status=500))
    post = mock.post(MESSAGES_URL).mock(side_effect=[error])
    ours = twilio_message("SM5", TO, BODY, CREATED)
    mock.get(MESSAGES_URL).mock(return_value=httpx.Response(200, json=twilio_page([ours])))
    result = await twilio.send(sms(clock))
    assert result.provider_id == "SM5" and post.call_count == 1


async def test_connect_error_is_retried_without_reconciliation(
    mock: respx.MockRouter, twilio: TwilioSmsSender, clock: ManualClock
) -> None:
    post = mock.post(MESSAGES_URL).mock(
        side_effect=[httpx.ConnectError("connection refused"), created("SM6")]
    )
    get = mock.get(MESSAGES_URL)
    assert (await twilio.send(sms(clock))).provider_id == "SM6"
    assert post.call_count == 2 and not get.called


async def test_an_ambiguous_row_from_an_earlier_run_reconciles_first(
    mock: respx.MockRouter, twilio: TwilioSmsSender, clock: ManualClock
) -> None:
    post = mock.post(MESSAGES_URL).mock(return_value=created("SM_NEW"))
    ours = twilio_message("SM8", TO, BODY, CREATED)
    mock.get(MESSAGES_URL).mock(return_value=httpx.Response(200, json=twilio_page([ours])))
    since = clock.now()
    clock.advance(timedelta(minutes=30))
    result = await twilio.send(sms(clock, ambiguous_since=since, claimed_at=clock.now()))
    assert (result.provider_id, result.reconciled) == ("SM8", True)
    assert not post.called


async def test_messaging_service_wins_over_from_number(
    mock: respx.MockRouter, twilio: TwilioSmsSender, clock: ManualClock
) -> None:
    twilio.config = replace(twilio.config, messaging_service_sid="MG0123456789abcdef")
    route = mock.post(MESSAGES_URL).mock(return_value=created("SM10"))
    await twilio.send(sms(clock))
    sent = form(route.calls.last.request)
    assert sent["MessagingServiceSid"] == "MG0123456789abcdef" and "From" not in sent
