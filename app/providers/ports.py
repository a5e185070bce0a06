"""The provider ports: what the rest of nightshift may ask of Resend, Twilio and Vapi.

Contract:
- every message/call carries its outbox row's id and idempotency key;
- `send`/`place` return only once the provider accepted (or, after an ambiguous failure,
  once reconciliation proved it already had); otherwise they raise a `ProviderError`;
- SMS and calls have no provider idempotency key: `ambiguous_since` (from the outbox row)
  tells the adapter to look up what the provider created since then before sending;
- `request` in a result is what was (or, for a dry run, would have been) sent, secrets excluded;
- `check` (the delivery's last-moment check, `SendCheck`) is awaited after the adapter's rate
  limiter let the request go and right before each request that could create the message or
  call; when it answers False nothing is sent and the adapter raises `SendCancelled`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from app.providers.errors import SendCancelled

EmailKind = Literal["marketing", "transactional", "alert"]
# The delivery's last-moment check of one outbox row: True = it may go now.
SendCheck = Callable[[], Awaitable[bool]]


async def go_or_cancel(check: SendCheck | None, outbox_id: int) -> None:
    """Run the last-moment check (if any); raise `SendCancelled` when the row may not go."""
    if check is not None and not await check():
        raise SendCancelled(outbox_id)


class _Port(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EmailAttachment(_Port):
    """A file attached to an email (Resend's `attachments` item): content is base64."""

    filename: str
    content: str
    content_type: str | None = None


class EmailMessage(_Port):
    outbox_id: int
    idempotency_key: str = Field(min_length=1, max_length=256)  # Resend: 1-256 chars
    to: str
    subject: str
    html: str
    text: str | None = None  # derived from html when absent
    kind: EmailKind = "marketing"
    unsubscribe_url: str | None = None  # required for marketing email
    reply_to: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    attachments: list[EmailAttachment] = Field(default_factory=list)


class SmsMessage(_Port):
    outbox_id: int
    idempotency_key: str
    to: str
    body: str = Field(min_length=1, max_length=1600)  # Twilio: Body <= 1,600 chars
    claimed_at: datetime
    ambiguous_since: datetime | None = None


class CallRequest(_Port):
    outbox_id: int
    idempotency_key: str
    to: str
    claimed_at: datetime
    customer_name: str | None = None
    assistant: str | None = None  # the campaign's agent name (sarah, john); None: the default
    variable_values: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    ambiguous_since: datetime | None = None


@dataclass(frozen=True)
class ProviderRequest:
    """One HTTP request to a provider, without credentials (they are added when sending)."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    json: dict[str, Any] | None = None
    form: dict[str, str] | None = None

    def record(self) -> dict[str, Any]:
        """The request as stored for a dry run: exactly what would go over the wire."""
        body: dict[str, Any] = {"method": self.method, "url": self.url, "headers": self.headers}
        body["json" if self.json is not None else "form"] = (
            self.json if self.json is not None else self.form
        )
        return body


@dataclass(frozen=True)
class SendResult:
    provider: str
    provider_id: str
    status: str
    reconciled: bool = False  # found at the provider after an ambiguous failure
    request: dict[str, Any] | None = None


@dataclass(frozen=True)
class CallResult:
    provider: str
    call_id: str
    status: str
    reconciled: bool = False
    request: dict[str, Any] | None = None


class EmailSender(Protocol):
    name: str

    async def send(self, message: EmailMessage, check: SendCheck | None = None) -> SendResult: ...


class SmsSender(Protocol):
    name: str

    async def send(self, message: SmsMessage, check: SendCheck | None = None) -> SendResult: ...

    async def find_sent(self, message: SmsMessage, since: datetime) -> SendResult | None:
        """The message the provider created for this outbox row since `since`, if any."""
        ...

    async def fetch_message(self, provider_id: str) -> dict[str, Any] | None:
        """The message as the provider has it now (Twilio's Message resource), None when it
        does not know it; the reconciler of lost status callbacks reads it."""
        ...


class CallPlacer(Protocol):
    name: str

    async def place(self, request: CallRequest, check: SendCheck | None = None) -> CallResult: ...

    async def find_placed(self, request: CallRequest, since: datetime) -> CallResult | None:
        """The call the provider created for this outbox row since `since`, if any."""
        ...

    async def fetch_call(self, call_id: str) -> dict[str, Any] | None:
        """The provider's record of one call (Vapi's `Call`); None when it does not know it
        (a dry-run or disabled placer knows none: nothing to reconcile)."""
        ...
