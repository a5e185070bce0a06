"""Composition of the provider layer: real adapters or dry-run twins, chosen from settings.

`build_providers(settings, repos, clock)` returns `Providers`: the three ports, the one
`OutboxDelivery` that the jobs use, and `aclose()` for the shared httpx client. A provider
listed by `settings.dry_run_providers()` runs as its dry-run twin; a disabled feature gets a
`DisabledSender`; everything else is the real adapter. Retry waits, rate limiters and the
delivery layer all read time from the same injected clock.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
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
from app.providers.ports import CallPlacer, EmailSender, SmsSender
from app.providers.ratelimit import KeyedRateLimiter, RateLimiter
from app.providers.resend import ResendConfig, ResendEmailSender
from app.providers.retry import RetryConfig, RetryPolicy, Sleep
from app.providers.twilio import TwilioConfig, TwilioSmsSender
from app.providers.vapi import VapiCallPlacer, VapiConfig

DEV_FROM = "nightshift (dry run) <dry-run@localhost>"


@dataclass
class Providers:
    email: EmailSender
    sms: SmsSender
    calls: CallPlacer
    delivery: OutboxDelivery
    client: httpx.AsyncClient
    # channels whose sender has no rate limit (dry runs, disabled, the simulator's)
    unthrottled: frozenset[str] = frozenset()

    def sends_at_once(self, channel: str) -> bool:
        """No rate limit holds `channel`'s sends back: a row claimed is sent at once."""
        return channel in self.unthrottled

    async def aclose(self) -> None:
        await self.client.aclose()


@dataclass(frozen=True)
class Ports:
    """Adapters that replace the ones settings would choose; None keeps the chosen one."""

    email: EmailSender | None = None
    sms: SmsSender | None = None
    calls: CallPlacer | None = None


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
) -> Providers:
    """The provider layer for one process (limiters are shared by all its coroutines).
    `alert` receives the provider-level alerts (e.g. a Resend quota); default: logged.
    `ports` replaces the adapters settings would choose (the simulator's, a test's fakes);
    they are wrapped in the same `OutboxDelivery` as real ones."""
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
    email: EmailSender
    sms: SmsSender
    calls: CallPlacer
    match _mode(settings, "resend"):
        case "real":
            limiter = RateLimiter(settings.resend_rate_per_second, clock=clock, sleep=sleep)
            email = ResendEmailSender(resend_config(settings), limiter=limiter, **common)
        case "dryrun":
            email = DryRunEmailSender(resend_config(settings))
        case _:
            email = DisabledSender("email")
    match _mode(settings, "twilio"):
        case "real":
            per_sender = KeyedRateLimiter(
                settings.twilio_rate_per_second_per_sender, clock=clock, sleep=sleep
            )
            sms = TwilioSmsSender(twilio_config(settings), limiter=per_sender, **common)
        case "dryrun":
            sms = DryRunSmsSender(twilio_config(settings))
        case _:
            sms = DisabledSender("sms")
    match _mode(settings, "vapi"):
        case "real":
            calls = VapiCallPlacer(
                vapi_config(settings), max_concurrent=settings.vapi_max_concurrent_calls, **common
            )
        case "dryrun":
            calls = DryRunCallPlacer(vapi_config(settings))
        case _:
            calls = DisabledSender("calls")
    if ports is not None:
        email, sms, calls = ports.email or email, ports.sms or sms, ports.calls or calls
    delivery = OutboxDelivery(
        repos.outbox, email=email, sms=sms, calls=calls, clock=clock,
        max_calls_in_flight=settings.vapi_max_concurrent_calls,
        **({"alert": alert} if alert is not None else {}),
    )  # fmt: skip
    unthrottled = frozenset(
        channel
        for channel, provider in (("email", "resend"), ("sms", "twilio"))
        if _mode(settings, provider) != "real"
    )
    return Providers(email, sms, calls, delivery, client, unthrottled)
