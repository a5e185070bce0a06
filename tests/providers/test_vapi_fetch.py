"""`VapiCallPlacer.fetch_call`: `GET /call/{id}` for the reconciler of lost end-of-call
reports, through the one retry policy and the adapter's httpx client."""

from __future__ import annotations

import copy
import json

import httpx
import pytest
import respx

from app.providers.errors import PermanentProviderError
from app.providers.vapi import VapiCallPlacer
from tests.providers.bodies import vapi_ended_call, vapi_error
from tests.providers.conftest import VAPI_KEY, FakeSleep
from tests.webhooks.helpers import vapi_body

CALL_ID = "019cf9a6-1e93-7f08-b4c1-2d7a5e9f0c86"
URL = f"https://api.vapi.ai/call/{CALL_ID}"


def ended() -> dict[str, object]:
    report = json.loads(vapi_body("06-end-of-call-report-customer-did-not-answer.json"))
    return vapi_ended_call(copy.deepcopy(report))


async def test_an_ended_call_is_read_with_the_bearer_key(
    mock: respx.MockRouter, vapi: VapiCallPlacer
) -> None:
    route = mock.get(URL).mock(return_value=httpx.Response(200, json=ended()))
    call = await vapi.fetch_call(CALL_ID)
    assert call is not None and call["status"] == "ended"
    assert call["endedReason"] == "customer-did-not-answer"
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {VAPI_KEY}"


async def test_404_means_vapi_does_not_know_the_call(
    mock: respx.MockRouter, vapi: VapiCallPlacer
) -> None:
    body = vapi_error(404, "Couldn't Get Call. Call Not Found.", "Not Found")
    route = mock.get(URL).mock(return_value=httpx.Response(404, json=body))
    assert await vapi.fetch_call(CALL_ID) is None
    assert route.call_count == 1


async def test_a_5xx_is_retried_under_the_policy(
    mock: respx.MockRouter, vapi: VapiCallPlacer, sleep: FakeSleep
) -> None:
    route = mock.get(URL).mock(side_effect=[httpx.Response(502), httpx.Response(200, json=ended())])
    assert (await vapi.fetch_call(CALL_ID) or {})["status"] == "ended"
    assert route.call_count == 2 and sleep.waits == [0.25]


async def test_a_bad_key_is_a_permanent_error(mock: respx.MockRouter, vapi: VapiCallPlacer) -> None:
    body = vapi_error(401, "Invalid Key. Hot tip, you may be using the private key instead of "
                      "the public key, or vice versa.", "Unauthorized")  # fmt: skip
    mock.get(URL).mock(return_value=httpx.Response(401, json=body))
    with pytest.raises(PermanentProviderError):
        await vapi.fetch_call(CALL_ID)
