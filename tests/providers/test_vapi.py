"""Vapi adapter over respx: request shape (metadata inside assistantOverrides), errors,
retries, and reconciliation after an ambiguous failure (never a second real call)."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
import respx

from app.core.clock import ManualClock
from app.providers.errors import PermanentProviderError
from app.providers.ports import CallRequest
from app.providers.vapi import VapiCallPlacer
from tests.providers.bodies import vapi_call, vapi_error
from tests.providers.conftest import VAPI_KEY, FakeSleep

URL = "https://api.vapi.ai/call"
TO = "+15558675310"
CREATED = "2026-11-26T15:00:01.250Z"


def call(clock: ManualClock, **overrides: object) -> CallRequest:
    values: dict[str, object] = {
        "outbox_id": 12,
        "idempotency_key": "call-12",
        "to": TO,
        "claimed_at": clock.now(),
        "customer_name": "Dana Reyes",
        "variable_values": {"first_name": "Dana"},
        "metadata": {"lead_id": 3},
    }
    return CallRequest(**{**values, **overrides})  # type: ignore[arg-type]


def placed(call_id: str) -> httpx.Response:
    return httpx.Response(201, json=vapi_call(call_id, TO, 12, CREATED))


async def test_success_body_puts_metadata_in_assistant_overrides(
    mock: respx.MockRouter, vapi: VapiCallPlacer, clock: ManualClock
) -> None:
    route = mock.post(URL).mock(return_value=placed("c0ffee00-1"))
    result = await vapi.place(call(clock))
    assert (result.provider, result.call_id, result.status) == ("vapi", "c0ffee00-1", "queued")
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {VAPI_KEY}"
    assert json.loads(request.content) == {
        "assistantId": "asst_9a8b7c6d",
        "phoneNumberId": "pn_5f1c2d3e",
        "customer": {"number": TO, "name": "Dana Reyes"},
        "assistantOverrides": {
            "variableValues": {"first_name": "Dana"},
            "metadata": {"lead_id": 3, "outbox_id": 12, "idempotency_key": "call-12"},
        },
    }


async def test_400_is_permanent_and_attempted_once(
    mock: respx.MockRouter, vapi: VapiCallPlacer, clock: ManualClock
) -> None:
    body = vapi_error(400, ["customer.number must be a valid phone number in E.164"], "Bad Request")
    route = mock.post(URL).mock(return_value=httpx.Response(400, json=body))
    with pytest.raises(PermanentProviderError, match=r"E\.164") as info:
        await vapi.place(call(clock))
    assert info.value.code == "400" and route.call_count == 1
    assert VAPI_KEY not in str(info.value)


async def test_429_is_retried_after_the_stated_delay(
    mock: respx.MockRouter, vapi: VapiCallPlacer, clock: ManualClock, sleep: FakeSleep
) -> None:
    limited = httpx.Response(
        429, json=vapi_error(429, "Rate limit exceeded", "Too Many Requests"),
        headers={"Retry-After": "2"},
    )  # fmt: skip
    route = mock.post(URL).mock(side_effect=[limited, placed("c0ffee00-2")])
    result = await vapi.place(call(clock))
    assert result.call_id == "c0ffee00-2" and route.call_count == 2
    assert sleep.waits == [2.0]
    assert not mock.get(URL).called


async def test_timeout_but_call_was_created_is_found_and_not_placed_again(
    mock: respx.MockRouter, vapi: VapiCallPlacer, clock: ManualClock
) -> None:
    post = mock.post(URL).mock(side_effect=[httpx.ReadTimeout("read timed out")])
    someone_else = vapi_call("other-call", "+15550001111", 99, CREATED)
    ours = vapi_call("c0ffee00-3", TO, 12, CREATED)
    get = mock.get(URL).mock(return_value=httpx.Response(200, json=[someone_else, ours]))
    result = await vapi.place(call(clock))
    assert (result.call_id, result.reconciled) == ("c0ffee00-3", True)
    assert post.call_count == 1  # no second real call
    params = get.calls.last.request.url.params
    assert params["phoneNumberId"] == "pn_5f1c2d3e"
    assert params["createdAtGe"] == "2026-11-26T14:58:00Z"  # the claim, less clock slack


async def test_timeout_and_no_call_created_is_placed_once(
    mock: respx.MockRouter, vapi: VapiCallPlacer, clock: ManualClock
) -> None:
    post = mock.post(URL).mock(
        side_effect=[httpx.ReadTimeout("read timed out"), placed("c0ffee00-4")]
    )
    # The same number, but another outbox row's call: not ours.
    other_row = vapi_call("other-row", TO, 11, CREATED)
    get = mock.get(URL).mock(return_value=httpx.Response(200, json=[other_row]))
    result = await vapi.place(call(clock))
    assert (result.call_id, result.reconciled) == ("c0ffee00-4", False)
    assert post.call_count == 2 and get.call_count == 1


async def test_5xx_is_reconciled_not_blindly_retried(
    mock: respx.MockRouter, vapi: VapiCallPlacer, clock: ManualClock
) -> None:
    error = httpx.Response(500, json=vapi_error(500, "Internal server error", "Server Error"))
    post = mock.post(URL).mock(side_effect=[error])
    mock.get(URL).mock(
        return_value=httpx.Response(200, json=[vapi_call("c0ffee00-5", TO, 12, CREATED)])
    )
    assert (await vapi.place(call(clock))).call_id == "c0ffee00-5"
    assert post.call_count == 1


async def test_an_ambiguous_row_from_an_earlier_run_reconciles_first(
    mock: respx.MockRouter, vapi: VapiCallPlacer, clock: ManualClock
) -> None:
    post = mock.post(URL).mock(return_value=placed("new"))
    get = mock.get(URL).mock(return_value=httpx.Response(200, json=[]))
    since = clock.now()
    clock.advance(timedelta(hours=1))
    result = await vapi.place(call(clock, ambiguous_since=since, claimed_at=clock.now()))
    assert result.call_id == "new" and post.call_count == 1
    assert get.call_count == 1  # looked up first, found nothing, then placed once
