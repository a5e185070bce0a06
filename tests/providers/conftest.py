"""Provider-test fixtures: a fake sleep that moves the ManualClock, deterministic retry jitter,
adapters wired to respx-mocked provider APIs. No network, no real sleeping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import pytest
import respx
from pydantic import SecretStr

from app.core.clock import ManualClock
from app.providers.content import Business
from app.providers.ratelimit import KeyedRateLimiter, RateLimiter
from app.providers.resend import ResendConfig, ResendEmailSender
from app.providers.retry import RetryConfig, RetryPolicy
from app.providers.twilio import TwilioConfig, TwilioSmsSender
from app.providers.vapi import VapiCallPlacer, VapiConfig

RESEND_KEY = "re_TestKey_9f8e7d6c"
TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_TOKEN = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
VAPI_KEY = "8c1d4a9e-2f3b-4c5d-9e8f-7a6b5c4d3e2f"
FROM_NUMBER = "+15005550006"
BASE_URL = "https://acme--nightshift-web.modal.run"
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"


class FakeSleep:
    """Records every wait and advances the clock by it, instead of sleeping."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))


@pytest.fixture
def sleep(clock: ManualClock) -> FakeSleep:
    return FakeSleep(clock)


@pytest.fixture
def retry(clock: ManualClock, sleep: FakeSleep) -> RetryPolicy:
    # rng() = 0 → each backoff is exactly its lower bound d/2: deterministic waits.
    return RetryPolicy(RetryConfig(max_attempts=4), clock=clock, sleep=sleep, rng=lambda: 0.0)


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


BUSINESS = Business("Acme HVAC", "1 Elm St, Dayton, OH 45402")


def resend_config() -> ResendConfig:
    return ResendConfig(SecretStr(RESEND_KEY), "Acme <hi@mail.acme.test>", BUSINESS)


def twilio_config(**overrides: object) -> TwilioConfig:
    values: dict[str, object] = {
        "account_sid": TWILIO_SID,
        "auth_token": SecretStr(TWILIO_TOKEN),
        "from_number": FROM_NUMBER,
        "messaging_service_sid": None,
        "public_base_url": BASE_URL,
    }
    return TwilioConfig(**{**values, **overrides})  # type: ignore[arg-type]


def vapi_config() -> VapiConfig:
    return VapiConfig(SecretStr(VAPI_KEY), "pn_5f1c2d3e", "asst_9a8b7c6d")


@pytest.fixture
def resend(
    client: httpx.AsyncClient, retry: RetryPolicy, clock: ManualClock, sleep: FakeSleep
) -> ResendEmailSender:
    limiter = RateLimiter(10, clock=clock, sleep=sleep)
    return ResendEmailSender(
        resend_config(), client=client, retry=retry, limiter=limiter, clock=clock
    )


@pytest.fixture
def twilio(
    client: httpx.AsyncClient, retry: RetryPolicy, clock: ManualClock, sleep: FakeSleep
) -> TwilioSmsSender:
    limiter = KeyedRateLimiter(1, clock=clock, sleep=sleep)
    return TwilioSmsSender(
        twilio_config(), client=client, retry=retry, limiter=limiter, clock=clock
    )


@pytest.fixture
def vapi(client: httpx.AsyncClient, retry: RetryPolicy, clock: ManualClock) -> VapiCallPlacer:
    return VapiCallPlacer(vapi_config(), client=client, retry=retry, clock=clock)
