"""Resend (email) over httpx: `POST https://api.resend.com/emails`.

Never twice: every send carries `Idempotency-Key` = the outbox row's key (Resend keeps it
24 h and answers a repeat with the original response), so a retry after a timeout or a 5xx
is safe and reuses the same key. Errors: see `classify_resend`. Content rules: see content.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import structlog
from pydantic import SecretStr

from app.core.clock import Clock
from app.providers.content import Business, prepare_email
from app.providers.errors import IdempotencyConflictError, classify_resend
from app.providers.http import bearer, call_provider
from app.providers.ports import (
    EmailMessage,
    ProviderRequest,
    SendCheck,
    SendResult,
    go_or_cancel,
)
from app.providers.ratelimit import RateLimiter
from app.providers.retry import RetryPolicy

log = structlog.get_logger(__name__)
RESEND_API = "https://api.resend.com"


@dataclass(frozen=True)
class ResendConfig:
    api_key: SecretStr | None
    from_address: str
    business: Business
    base_url: str = RESEND_API


def build_email_request(message: EmailMessage, config: ResendConfig) -> ProviderRequest:
    """The exact request for one email (content rules applied), credentials excluded."""
    prepared = prepare_email(message, config.business)
    body: dict[str, object] = {
        "from": config.from_address,
        "to": [message.to],
        "subject": message.subject,
        "html": prepared.html,
        "text": prepared.text,
    }
    if prepared.headers:
        body["headers"] = prepared.headers
    if message.reply_to:
        body["reply_to"] = message.reply_to
    if message.attachments:
        body["attachments"] = [a.model_dump(exclude_none=True) for a in message.attachments]
    tags = {"outbox_id": str(message.outbox_id), "kind": message.kind, **message.tags}
    body["tags"] = [{"name": k, "value": v} for k, v in tags.items()]
    return ProviderRequest(
        method="POST",
        url=f"{config.base_url}/emails",
        headers={"Idempotency-Key": message.idempotency_key},
        json=body,
    )


class ResendEmailSender:
    """EmailSender for Resend. Rate-limited per process, retried by the one policy."""

    name = "resend"

    def __init__(
        self,
        config: ResendConfig,
        *,
        client: httpx.AsyncClient,
        retry: RetryPolicy,
        limiter: RateLimiter,
        clock: Clock,
    ) -> None:
        if config.api_key is None:
            raise ValueError("ResendEmailSender needs an API key (use the dry-run twin)")
        self.config = config
        self.client = client
        self.retry = retry
        self.limiter = limiter
        self.clock = clock

    async def send(self, message: EmailMessage, check: SendCheck | None = None) -> SendResult:
        """Send the email; `check` runs after the limiter's wait, before each POST."""
        request = build_email_request(message, self.config)
        assert self.config.api_key is not None
        auth = bearer(self.config.api_key.get_secret_value())

        async def attempt() -> SendResult:
            await self.limiter.acquire()
            await go_or_cancel(check, message.outbox_id)
            try:
                data = await call_provider(
                    self.client, "resend", request, headers=auth,
                    classify=classify_resend, now=self.clock.now(),
                )  # fmt: skip
            except IdempotencyConflictError:
                # 409 invalid_idempotent_request: same key, different body — a bug upstream.
                log.error("resend idempotency key reused with a different body",
                          outbox_id=message.outbox_id)  # fmt: skip
                raise
            return SendResult(provider="resend", provider_id=str(data["id"]), status="sent")

        return await self.retry.run(attempt, what=f"resend email outbox={message.outbox_id}")
