"""Resend adapter over respx: request shape, content rules, errors, retries, idempotency."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from app.providers.content import EmailContentError
from app.providers.errors import (
    IdempotencyConflictError,
    PermanentProviderError,
    QuotaExceededError,
)
from app.providers.ports import EmailMessage
from app.providers.resend import ResendEmailSender
from tests.providers.bodies import resend_error
from tests.providers.conftest import RESEND_KEY, FakeSleep

URL = "https://api.resend.com/emails"
OK = httpx.Response(200, json={"id": "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"})


def email(**overrides: object) -> EmailMessage:
    values: dict[str, object] = {
        "outbox_id": 41,
        "idempotency_key": "msg-41",
        "to": "dana@example.org",
        "subject": "Your furnace check",
        "html": "<p>Hi Dana,</p><p>Time for a <b>tune-up</b>?</p>",
        "unsubscribe_url": "https://acme--nightshift-web.modal.run/u/tok_41",
    }
    return EmailMessage(**{**values, **overrides})  # type: ignore[arg-type]


async def test_success_sends_the_idempotency_key_and_content_rules(
    mock: respx.MockRouter, resend: ResendEmailSender
) -> None:
    route = mock.post(URL).mock(return_value=OK)
    result = await resend.send(email())
    assert (result.provider, result.provider_id) == (
        "resend",
        "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794",
    )
    sent = route.calls.last.request
    assert sent.headers["Idempotency-Key"] == "msg-41"
    assert sent.headers["Authorization"] == f"Bearer {RESEND_KEY}"
    body = json.loads(sent.content)
    assert body["to"] == ["dana@example.org"] and body["from"] == "Acme <hi@mail.acme.test>"
    assert body["headers"] == {
        "List-Unsubscribe": "<https://acme--nightshift-web.modal.run/u/tok_41>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert body["text"].startswith("Hi Dana,\n\nTime for a tune-up?")
    assert "1 Elm St, Dayton, OH 45402" in body["text"]
    assert "1 Elm St, Dayton, OH 45402" in body["html"]
    assert {"name": "outbox_id", "value": "41"} in body["tags"]


async def test_422_validation_error_is_permanent_and_attempted_once(
    mock: respx.MockRouter, resend: ResendEmailSender
) -> None:
    body = resend_error(422, "validation_error", "Invalid `to` field.")
    route = mock.post(URL).mock(return_value=httpx.Response(422, json=body))
    with pytest.raises(PermanentProviderError) as info:
        await resend.send(email())
    assert info.value.code == "validation_error"
    assert route.call_count == 1
    assert RESEND_KEY not in str(info.value)


async def test_429_is_retried_after_the_stated_delay(
    mock: respx.MockRouter, resend: ResendEmailSender, sleep: FakeSleep
) -> None:
    limited = httpx.Response(
        429,
        json=resend_error(429, "rate_limit_exceeded", "Too many requests."),
        headers={"retry-after": "4", "ratelimit-remaining": "0"},
    )
    route = mock.post(URL).mock(side_effect=[limited, OK])
    result = await resend.send(email())
    assert result.provider_id.startswith("49a3999c")
    assert route.call_count == 2
    assert sleep.waits == [4.0]


async def test_daily_quota_is_not_retried(
    mock: respx.MockRouter, resend: ResendEmailSender
) -> None:
    body = resend_error(429, "daily_quota_exceeded", "You have reached your daily quota.")
    route = mock.post(URL).mock(return_value=httpx.Response(429, json=body))
    with pytest.raises(QuotaExceededError):
        await resend.send(email())
    assert route.call_count == 1


async def test_409_invalid_idempotent_request_is_permanent(
    mock: respx.MockRouter, resend: ResendEmailSender
) -> None:
    body = resend_error(409, "invalid_idempotent_request", "Same key used with another body.")
    route = mock.post(URL).mock(return_value=httpx.Response(409, json=body))
    with pytest.raises(IdempotencyConflictError):
        await resend.send(email())
    assert route.call_count == 1


async def test_409_concurrent_idempotent_requests_is_retried(
    mock: respx.MockRouter, resend: ResendEmailSender
) -> None:
    body = resend_error(409, "concurrent_idempotent_requests", "Original still in progress.")
    route = mock.post(URL).mock(side_effect=[httpx.Response(409, json=body), OK])
    await resend.send(email())
    assert route.call_count == 2


async def test_retry_after_a_timeout_reuses_the_same_idempotency_key(
    mock: respx.MockRouter, resend: ResendEmailSender
) -> None:
    route = mock.post(URL).mock(side_effect=[httpx.ReadTimeout("timed out"), OK])
    await resend.send(email())
    keys = [call.request.headers["Idempotency-Key"] for call in route.calls]
    assert keys == ["msg-41", "msg-41"]
    bodies = [call.request.content for call in route.calls]
    assert bodies[0] == bodies[1]  # same key + same body: Resend answers the original


async def test_500_then_success(mock: respx.MockRouter, resend: ResendEmailSender) -> None:
    error = httpx.Response(500, json=resend_error(500, "application_error", "Unexpected."))
    route = mock.post(URL).mock(side_effect=[error, OK])
    await resend.send(email())
    assert route.call_count == 2


async def test_marketing_email_without_https_unsubscribe_is_refused_before_any_request(
    mock: respx.MockRouter, resend: ResendEmailSender
) -> None:
    route = mock.post(URL).mock(return_value=OK)
    with pytest.raises(EmailContentError):
        await resend.send(email(unsubscribe_url="http://acme.example/u/1"))
    with pytest.raises(EmailContentError):
        await resend.send(email(unsubscribe_url=None))
    assert route.call_count == 0


async def test_transactional_email_has_no_list_unsubscribe_but_a_text_part(
    mock: respx.MockRouter, resend: ResendEmailSender
) -> None:
    route = mock.post(URL).mock(return_value=OK)
    await resend.send(email(kind="transactional", unsubscribe_url=None, text="See you at 9."))
    body = json.loads(route.calls.last.request.content)
    assert "headers" not in body and body["text"] == "See you at 9."
