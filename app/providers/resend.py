"""Resend (email) over httpx: `POST https://api.resend.com/emails`, and the body of a
received email: `GET https://api.resend.com/emails/receiving/{id}` (`ResendInbox`).

Never twice: every send carries `Idempotency-Key` = the outbox row's key (Resend keeps it
24 h and answers a repeat with the original response), so a retry after a timeout or a 5xx
is safe and reuses the same key. Errors: see `classify_resend`. Content rules: see content.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from pydantic import BaseModel, ConfigDict, Field, SecretStr

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


class ReceivedEmail(BaseModel):
    """A received email as `GET /emails/receiving/{id}` returns it (docs/notes/
    resend-inbound-and-sdks.md §1); fields we do not read are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    from_: str = Field(default="", alias="from")
    to: list[str] = Field(default_factory=list)
    cc: list[str] = Field(default_factory=list)
    received_for: list[str] = Field(default_factory=list)
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    message_id: str | None = None
    headers: dict[str, Any] = Field(default_factory=dict)


class ResendInbox:
    """Reads received emails. One attempt, no retry loop: the caller answers Resend's
    webhook with a 5xx when this raises, and Resend's own retries (5 s, 5 min, 30 min, …)
    are the retry policy."""

    def __init__(self, api_key: SecretStr, *, client: httpx.AsyncClient, clock: Clock,
                 base_url: str = RESEND_API) -> None:  # fmt: skip
        self.api_key = api_key
        self.client = client
        self.clock = clock
        self.base_url = base_url

    async def fetch(self, email_id: str) -> ReceivedEmail:
        """The received email; raises a ProviderError (classify_resend) on any failure."""
        request = ProviderRequest(method="GET", url=f"{self.base_url}/emails/receiving/{email_id}")
        data = await call_provider(
            self.client, "resend", request, headers=bearer(self.api_key.get_secret_value()),
            classify=classify_resend, now=self.clock.now(),
        )  # fmt: skip
        return ReceivedEmail.model_validate(_lists(data))


def _lists(data: Any) -> Any:
    """`to`/`cc`/`received_for` may come as a string or null: always lists."""
    if not isinstance(data, dict):
        return data
    fixed = dict(data)
    for key in ("to", "cc", "received_for"):
        value = fixed.get(key)
        fixed[key] = (
            [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)]
        )
    if not isinstance(fixed.get("headers"), dict):
        fixed["headers"] = {}
    return fixed
