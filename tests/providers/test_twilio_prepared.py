"""A text's POST is built by hand (`MessagePost`) and sent through the client's own transport
(`send_prepared`): the same bytes on the wire as the client-built request, seen by respx
whichever layer it patches, and the same typed errors."""

from __future__ import annotations

import httpx
import pytest
import respx

from app.core.clock import ManualClock
from app.providers.errors import AmbiguousProviderError, RetryableProviderError, classify_twilio
from app.providers.http import call_provider
from app.providers.ports import SmsMessage
from app.providers.twilio import TwilioSmsSender, build_sms_request
from tests.providers.bodies import twilio_message
from tests.providers.conftest import MESSAGES_URL, TWILIO_SID, TWILIO_TOKEN, twilio_config

CREATED = "Thu, 26 Nov 2026 15:00:01 +0000"
# What texts really carry: an ampersand, a plus, a percent sign, a question, a line break,
# accents and an emoji (UCS-2 on Twilio's side), a link with a query string.
BODIES = [
    "Hi Dana, Acme HVAC here: want a furnace check this week? Reply STOP to opt out.",
    "Hi José, 20% off A/C tune-ups + free filter & no trip fee 😀\nBook: https://acme.test/b?x=1&y=2",
    "Still there, O'Brien? = yes",
    # two of the same length: the second's headers are the ones kept for that length
    "Same length: one",
    "Same length: two",
]


def message(outbox_id: int, body: str, clock: ManualClock) -> SmsMessage:
    return SmsMessage(
        outbox_id=outbox_id, idempotency_key=f"msg-{outbox_id}", to="+15558675310",
        body=body, claimed_at=clock.now(),
    )  # fmt: skip


def accepted(request: httpx.Request) -> httpx.Response:
    return httpx.Response(201, json=twilio_message("SM1", "+15558675310", "x", CREATED))


@pytest.mark.parametrize(
    "config",
    [{}, {"messaging_service_sid": "MG0123456789abcdef"}, {"from_number": None}],
    ids=["from number", "messaging service", "no sender"],
)
async def test_the_prepared_post_is_the_client_built_request_byte_for_byte(
    mock: respx.MockRouter,
    twilio: TwilioSmsSender,
    client: httpx.AsyncClient,
    clock: ManualClock,
    config: dict[str, object],
) -> None:
    twilio.config = twilio_config(**config)
    route = mock.post(MESSAGES_URL).mock(side_effect=accepted)
    auth = httpx.BasicAuth(TWILIO_SID, TWILIO_TOKEN)
    for outbox_id, body in enumerate(BODIES, start=1):
        sms = message(outbox_id * 1_000_003, body, clock)
        await call_provider(
            client, "twilio", build_sms_request(sms, twilio.config), auth=auth,
            classify=classify_twilio, now=clock.now(),
        )  # fmt: skip
        await twilio.send(sms)
        built, prepared = (call.request for call in route.calls[-2:])
        assert prepared.method == built.method == "POST"
        assert prepared.url == built.url
        assert prepared.headers.raw == built.headers.raw
        assert prepared.content == built.content


async def test_respx_patching_the_client_layer_sees_the_text_too(
    twilio: TwilioSmsSender, clock: ManualClock
) -> None:
    """respx's httpx mocker patches the client's transport lookup, not httpcore: the text
    goes through that lookup, as the client's own requests do."""
    with respx.mock(using="httpx", assert_all_mocked=True) as router:
        route = router.post(MESSAGES_URL).mock(side_effect=accepted)
        result = await twilio.send(message(7, BODIES[0], clock))
    assert route.call_count == 1 and result.provider_id == "SM1"


async def test_the_text_goes_through_the_clients_own_transport_and_frees_it(
    twilio: TwilioSmsSender, clock: ManualClock
) -> None:
    seen: list[httpx.Request] = []
    responses: list[httpx.Response] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        responses.append(accepted(request))
        return responses[-1]

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), timeout=7.0) as own:
        twilio.client = own
        result = await twilio.send(message(7, BODIES[0], clock))
    assert result.provider_id == "SM1" and len(seen) == 1
    assert seen[0].extensions["timeout"] == httpx.Timeout(7.0).as_dict()  # the client's
    assert responses[0].is_closed  # read to the end: the connection is back in the pool


@pytest.mark.parametrize(
    ("fault", "typed"),
    [
        (httpx.ConnectError("connection refused"), RetryableProviderError),
        (httpx.ReadTimeout("timed out"), AmbiguousProviderError),
        (httpx.RemoteProtocolError("peer closed connection"), AmbiguousProviderError),
    ],
)
async def test_transport_faults_are_typed_as_before(
    mock: respx.MockRouter,
    twilio: TwilioSmsSender,
    clock: ManualClock,
    fault: Exception,
    typed: type[Exception],
) -> None:
    twilio.retry.config = type(twilio.retry.config)(max_attempts=1)
    mock.post(MESSAGES_URL).mock(side_effect=fault)
    with pytest.raises(typed) as raised:
        await twilio.send(message(7, BODIES[0], clock))
    assert type(raised.value) is typed
    assert TWILIO_TOKEN not in str(raised.value)
