"""Composition of the provider layer: real adapters or dry-run twins, chosen from settings.

`build_providers(settings, repos, clock)` returns `Providers`: the three ports, the one
`OutboxDelivery` that the jobs use, and `aclose()` for the shared httpx client. A provider
listed by `settings.dry_run_providers()` runs as its dry-run twin; a disabled feature gets a
`DisabledSender`; everything else is the real adapter. Retry waits, rate limiters and the
delivery layer all read time from the same injected clock.

Each message channel has one limiter, handed both to its sender and to the delivery (which
sizes its claims by it): a real adapter's comes from settings (`RESEND_RATE_PER_SECOND`,
`TWILIO_RATE_PER_SECOND_PER_SENDER`); a dry-run twin or a disabled feature reaches no
provider, so its limiter never waits (`unlimited`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.core.clock import Clock
from app.core.settings import Settings
from app.db.repositories import Repositories
from app.providers.content import Business
from app.providers.delivery import AlertHook, OutboxDelivery
from app.providers.dryrun import (
    DisabledSender,
    DryRunCallPlacer,
    DryRunEmailSender,
    DryRunSmsSender,
)
from app.providers.ports import CallPlacer, CallRequest, EmailSender, SmsSender
from app.providers.ratelimit import KeyedRateLimiter, Pace, RateLimiter, unlimited
from app.providers.resend import ResendConfig, ResendEmailSender
from app.providers.retry import RetryConfig, RetryPolicy, Sleep
from app.providers.twilio import TwilioConfig, TwilioSmsSender
from app.providers.vapi import AssistantLookup, VapiCallPlacer, VapiConfig

DEV_FROM = "nightshift (dry run) <dry-run@localhost>"


@dataclass
class Providers:
    email: EmailSender
    sms: SmsSender
    calls: CallPlacer
    delivery: OutboxDelivery
    client: httpx.AsyncClient

    async def aclose(self) -> None:
        await self.client.aclose()


@dataclass(frozen=True)
class Ports:
    """Adapters that replace the ones settings would choose; None keeps the chosen one.
    `limiters`, by channel (`email`, `sms`): the limiter that paces a replacement sender; a
    replacement without one reaches no rate-limited provider (its limiter never waits)."""

    email: EmailSender | None = None
    sms: SmsSender | None = None
    calls: CallPlacer | None = None
    limiters: Mapping[str, Pace] = field(default_factory=dict)

    def pace(self, channel: str, clock: Clock) -> Pace:
        return self.limiters.get(channel) or unlimited(clock)


def resend_config(settings: Settings) -> ResendConfig:
    business = Business(settings.business_name, settings.business_postal_address)
    return ResendConfig(settings.resend_api_key, settings.email_from or DEV_FROM, business)


def twilio_config(settings: Settings) -> TwilioConfig:
    return TwilioConfig(
        account_sid=settings.twilio_account_sid or "AC_DRY_RUN",
        auth_token=settings.twilio_auth_token,
        from_number=settings.twilio_from_number,
        messaging_service_sid=settings.twilio_messaging_service_sid,
        public_base_url=settings.public_base_url,
    )


def vapi_config(settings: Settings) -> VapiConfig:
    return VapiConfig(
        settings.vapi_api_key,
        settings.vapi_phone_number_id or "dry-run-phone-number",
        settings.vapi_assistant_id or "dry-run-assistant",
    )


def _mode(settings: Settings, provider: str) -> str:
    if provider not in settings.provider_requirements():
        return "disabled"
    return "dryrun" if provider in settings.dry_run_providers() else "real"


def build_providers(
    settings: Settings,
    repos: Repositories,
    clock: Clock,
    *,
    client: httpx.AsyncClient | None = None,
    sleep: Sleep = asyncio.sleep,
    alert: AlertHook | None = None,
    ports: Ports | None = None,
    assistants: AssistantLookup | None = None,
) -> Providers:
    """The provider layer for one process (limiters are shared by all its coroutines).
    `alert` receives the provider-level alerts (e.g. a Resend quota); default: logged.
    `ports` replaces the adapters settings would choose (the simulator's, a test's fakes);
    they are wrapped in the same `OutboxDelivery` as real ones, paced by `ports.limiters`.
    `assistants` chooses each call's Vapi assistant (the jobs pass the version trials'
    chooser, app.agents.versions); default: the campaign agent's current version."""
    client = client or httpx.AsyncClient(timeout=httpx.Timeout(settings.provider_timeout_seconds))
    retry = RetryPolicy(
        RetryConfig(
            max_attempts=settings.provider_retry_max_attempts,
            max_total=settings.provider_retry_max_seconds,
        ),
        clock=clock,
        sleep=sleep,
    )
    common: dict[str, Any] = {"client": client, "retry": retry, "clock": clock}
    email, email_pace = _email(settings, common, sleep)
    sms, sms_pace = _sms(settings, common, sleep)
    calls = _calls(settings, common, assistants or _current_agent(repos))
    if ports is not None:
        if ports.email is not None:
            email, email_pace = ports.email, ports.pace("email", clock)
        if ports.sms is not None:
            sms, sms_pace = ports.sms, ports.pace("sms", clock)
        calls = ports.calls or calls
    delivery = OutboxDelivery(
        repos.outbox, email=email, sms=sms, calls=calls, clock=clock,
        limiters={"email": email_pace, "sms": sms_pace},
        max_calls_in_flight=settings.vapi_max_concurrent_calls,
        alert=alert, failures=repos.failures,
    )  # fmt: skip
    return Providers(email, sms, calls, delivery, client)


def _email(settings: Settings, common: dict[str, Any], sleep: Sleep) -> tuple[EmailSender, Pace]:
    """The email sender and the limiter that paces it."""
    clock = common["clock"]
    match _mode(settings, "resend"):
        case "real":
            limiter = RateLimiter(settings.resend_rate_per_second, clock=clock, sleep=sleep)
            return ResendEmailSender(resend_config(settings), limiter=limiter, **common), limiter
        case "dryrun":
            return DryRunEmailSender(resend_config(settings)), unlimited(clock)
        case _:
            return DisabledSender("email"), unlimited(clock)


def _sms(settings: Settings, common: dict[str, Any], sleep: Sleep) -> tuple[SmsSender, Pace]:
    """The SMS sender and the limiter that paces it (per sender number)."""
    clock = common["clock"]
    match _mode(settings, "twilio"):
        case "real":
            rate = settings.twilio_rate_per_second_per_sender
            per_sender = KeyedRateLimiter(rate, clock=clock, sleep=sleep)
            return TwilioSmsSender(
                twilio_config(settings), limiter=per_sender, **common
            ), per_sender
        case "dryrun":
            return DryRunSmsSender(twilio_config(settings)), unlimited(clock)
        case _:
            return DisabledSender("sms"), unlimited(clock)


def _current_agent(repos: Repositories) -> AssistantLookup:
    async def lookup(request: CallRequest) -> str | None:
        return await repos.agents.vapi_id(request.assistant, None)

    return lookup


def _calls(settings: Settings, common: dict[str, Any], agents: AssistantLookup) -> CallPlacer:
    """The call placer; `agents` resolves a campaign's agent to its pushed Vapi id."""
    match _mode(settings, "vapi"):
        case "real":
            return VapiCallPlacer(
                vapi_config(settings), max_concurrent=settings.vapi_max_concurrent_calls,
                assistants=agents, **common,
            )  # fmt: skip
        case "dryrun":
            return DryRunCallPlacer(vapi_config(settings), agents)
        case _:
            return DisabledSender("calls")
