"""Dry-run twins record exactly what the real adapters send; the composition root picks
real adapters, twins or refusals from settings."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from app.core.clock import ManualClock
from app.db.repositories import Repositories
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context
from app.providers import build_providers
from app.providers.dryrun import (
    DisabledSender,
    DryRunCallPlacer,
    DryRunEmailSender,
    DryRunSmsSender,
)
from app.providers.errors import PermanentProviderError
from app.providers.ports import CallRequest, EmailMessage, SmsMessage
from app.providers.resend import ResendEmailSender
from app.providers.twilio import TwilioSmsSender
from app.providers.vapi import VapiCallPlacer
from tests.conftest import make_settings
from tests.providers.bodies import twilio_message, vapi_call
from tests.providers.conftest import (
    MESSAGES_URL,
    resend_config,
    twilio_config,
    vapi_config,
)

SECRET_HEADERS = {"authorization"}


def wire(request: httpx.Request) -> dict[str, object]:
    """What went over the wire, in the shape of ProviderRequest.record()."""
    content_type = request.headers.get("content-type", "")
    record: dict[str, object] = {"method": request.method, "url": str(request.url)}
    if "json" in content_type:
        record["json"] = json.loads(request.content)
    else:
        record["form"] = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
    return record


def without_headers(record: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in record.items() if k != "headers"}


async def test_dry_run_email_equals_the_real_request(
    mock: respx.MockRouter, resend: ResendEmailSender
) -> None:
    message = EmailMessage(
        outbox_id=3, idempotency_key="msg-3", to="dana@example.org", subject="Tune-up",
        html="<p>Hi</p>", unsubscribe_url="https://acme.example/u/t3",
    )  # fmt: skip
    route = mock.post("https://api.resend.com/emails").mock(
        return_value=httpx.Response(200, json={"id": "re-3"})
    )
    await resend.send(message)
    dry = await DryRunEmailSender(resend_config()).send(message)
    assert dry.provider == "dryrun" and dry.request is not None
    sent = route.calls.last.request
    assert without_headers(dry.request) == wire(sent)
    assert dry.request["headers"] == {"Idempotency-Key": sent.headers["Idempotency-Key"]}


async def test_dry_run_sms_equals_the_real_request(
    mock: respx.MockRouter, twilio: TwilioSmsSender, clock: ManualClock
) -> None:
    message = SmsMessage(
        outbox_id=4, idempotency_key="msg-4", to="+15558675310", body="Hi", claimed_at=clock.now()
    )
    created = twilio_message("SM4", "+15558675310", "Hi", "Thu, 26 Nov 2026 15:00:00 +0000")
    route = mock.post(MESSAGES_URL).mock(return_value=httpx.Response(201, json=created))
    await twilio.send(message)
    dry = await DryRunSmsSender(twilio_config()).send(message)
    assert dry.request is not None
    assert without_headers(dry.request) == wire(route.calls.last.request)


async def test_dry_run_call_equals_the_real_request(
    mock: respx.MockRouter, vapi: VapiCallPlacer, clock: ManualClock
) -> None:
    request = CallRequest(
        outbox_id=5, idempotency_key="call-5", to="+15558675310", claimed_at=clock.now(),
        variable_values={"first_name": "Dana"},
    )  # fmt: skip
    body = vapi_call("c-5", "+15558675310", 5, "2026-11-26T15:00:00Z")
    route = mock.post("https://api.vapi.ai/call").mock(return_value=httpx.Response(201, json=body))
    await vapi.place(request)
    dry = await DryRunCallPlacer(vapi_config()).place(request)
    assert dry.request is not None
    assert without_headers(dry.request) == wire(route.calls.last.request)


async def test_development_without_credentials_builds_the_twins(
    transport: PostgresTransport, clock: ManualClock
) -> None:
    providers = build_providers(make_settings(), Repositories(transport), clock)
    try:
        assert isinstance(providers.email, DryRunEmailSender)
        assert isinstance(providers.sms, DryRunSmsSender)
        assert isinstance(providers.calls, DryRunCallPlacer)
    finally:
        await providers.aclose()


async def test_credentials_build_the_real_adapters_and_disabled_features_refuse(
    transport: PostgresTransport, clock: ManualClock
) -> None:
    settings = make_settings(
        resend_api_key="re_4f8Qa9_live", email_from="Acme <hi@mail.acme.test>",
        resend_webhook_secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        twilio_account_sid="AC0123456789abcdef0123456789abcdef",
        twilio_auth_token="9f8e7d6c5b4a39281706f5e4d3c2b1a0", twilio_from_number="+15005550006",
        calls_enabled=False,
    )  # fmt: skip
    providers = build_providers(settings, Repositories(transport), clock)
    try:
        assert isinstance(providers.email, ResendEmailSender)
        assert isinstance(providers.sms, TwilioSmsSender)
        assert isinstance(providers.calls, DisabledSender)
        request = CallRequest(
            outbox_id=1, idempotency_key="k", to="+15558675310", claimed_at=clock.now()
        )
        with pytest.raises(PermanentProviderError, match="disabled"):
            await providers.calls.place(request)
    finally:
        await providers.aclose()


async def test_the_context_carries_the_providers(ctx: Context) -> None:
    assert isinstance(ctx.providers.sms, DryRunSmsSender)
    assert ctx.providers.delivery.outbox is ctx.repos.outbox
