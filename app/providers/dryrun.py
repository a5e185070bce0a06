"""Dry-run twins of the three adapters, used when a provider's credentials are absent
outside production (`Settings.dry_run_providers()`).

Each twin builds exactly the request the real adapter would send (same builder, content
rules included, credentials excluded), logs it, and returns it in the result with provider
`dryrun`; the delivery layer stores it in the outbox row (`payload.request`). Nothing leaves
the process. `DisabledSender` refuses every send of a feature switched off in settings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from app.providers.errors import PermanentProviderError
from app.providers.ports import (
    CallRequest,
    CallResult,
    EmailMessage,
    SendCheck,
    SendResult,
    SmsMessage,
    go_or_cancel,
)
from app.providers.resend import ResendConfig, build_email_request
from app.providers.twilio import TwilioConfig, build_sms_request
from app.providers.vapi import (
    AssistantLookup,
    VapiConfig,
    build_call_request,
    resolve_assistant,
)

log = structlog.get_logger(__name__)
DRYRUN = "dryrun"


class DryRunEmailSender:
    name = DRYRUN

    def __init__(self, config: ResendConfig) -> None:
        self.config = config

    async def send(self, message: EmailMessage, check: SendCheck | None = None) -> SendResult:
        request = build_email_request(message, self.config)
        await go_or_cancel(check, message.outbox_id)
        log.info("DRY RUN email", outbox_id=message.outbox_id, to=message.to,
                 subject=message.subject)  # fmt: skip
        return SendResult(DRYRUN, f"dryrun-{message.idempotency_key}", "sent",
                          request=request.record())  # fmt: skip


class DryRunSmsSender:
    name = DRYRUN

    def __init__(self, config: TwilioConfig) -> None:
        self.config = config

    async def send(self, message: SmsMessage, check: SendCheck | None = None) -> SendResult:
        request = build_sms_request(message, self.config)
        await go_or_cancel(check, message.outbox_id)
        log.info("DRY RUN sms", outbox_id=message.outbox_id, to=message.to, body=message.body)
        return SendResult(DRYRUN, f"dryrun-{message.idempotency_key}", "sent",
                          request=request.record())  # fmt: skip

    async def find_sent(self, message: SmsMessage, since: datetime) -> SendResult | None:
        return None  # a dry run never reaches a provider

    async def fetch_message(self, provider_id: str) -> dict[str, Any] | None:
        return None  # a dry run sent nothing: nothing to reconcile


class DryRunCallPlacer:
    name = DRYRUN

    def __init__(self, config: VapiConfig, assistants: AssistantLookup | None = None) -> None:
        self.config = config
        self.assistants = assistants

    async def place(self, request: CallRequest, check: SendCheck | None = None) -> CallResult:
        assistant_id = await resolve_assistant(request, self.assistants)
        http_request = build_call_request(request, self.config, assistant_id)
        await go_or_cancel(check, request.outbox_id)
        log.info("DRY RUN call", outbox_id=request.outbox_id, to=request.to,
                 variables=request.variable_values)  # fmt: skip
        return CallResult(DRYRUN, f"dryrun-{request.idempotency_key}", "ended",
                          request=http_request.record())  # fmt: skip

    async def find_placed(self, request: CallRequest, since: datetime) -> CallResult | None:
        return None

    async def fetch_call(self, call_id: str) -> dict[str, Any] | None:
        return None  # a dry run placed no real call: nothing to reconcile


class DisabledSender:
    """Every port, refusing: the feature is switched off (EMAIL/SMS/CALLS_ENABLED=false)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _refuse(self) -> PermanentProviderError:
        return PermanentProviderError(self.name, "feature disabled in settings", code="disabled")

    async def send(
        self, message: EmailMessage | SmsMessage, check: SendCheck | None = None
    ) -> SendResult:
        raise self._refuse()

    async def find_sent(self, message: SmsMessage, since: datetime) -> SendResult | None:
        return None

    async def fetch_message(self, provider_id: str) -> dict[str, Any] | None:
        return None

    async def place(self, request: CallRequest, check: SendCheck | None = None) -> CallResult:
        raise self._refuse()

    async def find_placed(self, request: CallRequest, since: datetime) -> CallResult | None:
        return None

    async def fetch_call(self, call_id: str) -> dict[str, Any] | None:
        return None  # a dry run placed no real call: nothing to reconcile
