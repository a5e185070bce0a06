"""The outbox repository: messages and calls written and claimed before a provider is called.

Contract (see supabase/schemas/03_outbox.sql):
- `enqueue_*` writes a queued row; the same idempotency key returns the existing row;
- `claim_*` moves it to sending/placing, re-checking every opt-out, and says why when it
  cannot (`suppressed`, `busy`, `done`, `concurrency`);
- `record_*` stores the provider's answer. A row with `ambiguous_since` set may already
  exist at the provider: the sender must reconcile before sending again.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from app.db.models import Model
from app.db.transport import Transport

ClaimOutcome = Literal[
    "claimed", "reclaimed", "suppressed", "refused", "busy", "done", "concurrency", "window"
]
# The last-moment check's verdict for a claimed row (see `mark_sending`). `refused`: no opt-out,
# but the row may not go (no consent on record, a hold, a do-not-call list covering texts).
SendVerdict = Literal["go", "suppressed", "refused", "window", "done"]


class MessageIn(Model):
    """An intended email or SMS. `payload` holds the content the sender renders from."""

    idempotency_key: str
    channel: Literal["email", "sms"]
    to_address: str
    provider: str
    kind: str = "marketing"
    lead_id: int | None = None
    enrollment_id: int | None = None
    campaign_id: int | None = None
    step_id: int | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class OutboxMessage(Model):
    id: int
    idempotency_key: str
    channel: Literal["email", "sms"]
    kind: str
    provider: str
    provider_id: str | None = None
    to_address: str
    status: str
    attempts: int
    lead_id: int | None = None
    enrollment_id: int | None = None
    campaign_id: int | None = None
    step_id: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    status_history: list[dict[str, Any]] = Field(default_factory=list)
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    ambiguous_since: datetime | None = None


class CallIn(Model):
    """An intended outbound call; `payload` holds variable values and metadata."""

    idempotency_key: str
    to_number: str
    provider: str = "vapi"
    lead_id: int | None = None
    enrollment_id: int | None = None
    campaign_id: int | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class OutboxCall(Model):
    id: int
    idempotency_key: str
    provider: str
    vapi_call_id: str | None = None
    to_number: str
    status: str
    attempts: int
    lead_id: int | None = None
    enrollment_id: int | None = None
    campaign_id: int | None = None
    ended_reason: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    claimed_at: datetime | None = None
    placed_at: datetime | None = None
    ambiguous_since: datetime | None = None


class MessageClaim(Model):
    outcome: ClaimOutcome
    message: OutboxMessage


class CallClaim(Model):
    outcome: ClaimOutcome
    call: OutboxCall


class OutboxRepository:
    """Typed calls to the outbox functions; one round trip each."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def _one(self, function: str, args: dict[str, Any]) -> dict[str, Any]:
        rows = await self.transport.call(function, args)
        return rows[0]

    # --- messages -------------------------------------------------------------------------
    async def enqueue_message(self, message: MessageIn, now: datetime) -> OutboxMessage:
        row = await self._one(
            "enqueue_message", {"p_message": message.model_dump(mode="json"), "p_now": now}
        )
        return OutboxMessage.model_validate(row)

    async def claim_message(
        self, message_id: int, now: datetime, reclaim_after_seconds: int = 600
    ) -> MessageClaim:
        row = await self._one(
            "claim_message",
            {"p_id": message_id, "p_reclaim_after_seconds": reclaim_after_seconds, "p_now": now},
        )
        return MessageClaim.model_validate(row)

    async def claim_messages(
        self, message_ids: list[int], now: datetime, reclaim_after_seconds: int = 600
    ) -> list[MessageClaim]:
        """`claim_message` for a whole batch in one round trip (order kept)."""
        rows = await self.transport.call(
            "claim_messages",
            {"p_ids": message_ids, "p_reclaim_after_seconds": reclaim_after_seconds, "p_now": now},
        )
        return [MessageClaim.model_validate(row) for row in rows]

    async def mark_sending(self, message_ids: list[int], now: datetime) -> dict[int, SendVerdict]:
        """The last-moment check of claimed rows, right before their provider request: each
        id's verdict (`go`, `suppressed`: cancelled, `window`: back to the queue, `done`: not
        ours any more), in one round trip. An id with no row is absent."""
        rows = await self.transport.call("mark_sending", {"p_ids": message_ids, "p_now": now})
        return {int(r["id"]): r["verdict"] for r in rows}

    async def record_messages_sent(self, results: list[dict[str, Any]], now: datetime) -> int:
        """`record_message_sent` for a batch: items {id, provider, provider_id, request}."""
        rows = await self.transport.call(
            "record_messages_sent", {"p_results": results, "p_now": now}
        )
        return int(rows[0]["record_messages_sent"])

    async def record_message_sent(
        self,
        message_id: int,
        provider: str,
        provider_id: str,
        now: datetime,
        request: dict[str, Any] | None = None,
    ) -> OutboxMessage:
        row = await self._one(
            "record_message_sent",
            {
                "p_id": message_id,
                "p_provider": provider,
                "p_provider_id": provider_id,
                "p_request": request,
                "p_now": now,
            },
        )
        return OutboxMessage.model_validate(row)

    async def record_message_failed(
        self,
        message_id: int,
        error_code: str,
        error_message: str,
        now: datetime,
        *,
        retry: bool = False,
        ambiguous: bool = False,
        opt_out: Literal["email", "sms", "call"] | None = None,
    ) -> OutboxMessage:
        """Failed for good, or back to queued (`retry`); `opt_out` also opts the lead out."""
        row = await self._one(
            "record_message_failed",
            {
                "p_id": message_id,
                "p_error_code": error_code,
                "p_error_message": error_message,
                "p_retry": retry,
                "p_ambiguous": ambiguous,
                "p_opt_out": opt_out,
                "p_now": now,
            },
        )
        return OutboxMessage.model_validate(row)

    # --- do-not-contact ---------------------------------------------------------------------
    async def do_not_contact(
        self, items: list[tuple[str, list[str]]], source: str, now: datetime
    ) -> dict[str, int]:
        """Opt each (address, channels) out (see `do_not_contact` in 03_outbox.sql): every
        matching lead, and a suppression of the address. Returns leads matched by address."""
        payload = [{"address": address, "channels": channels} for address, channels in items]
        rows = await self.transport.call(
            "do_not_contact", {"p_items": payload, "p_source": source, "p_now": now}
        )
        return {r["address"]: int(r["leads"]) for r in rows}

    async def import_dnc(
        self,
        phones: list[str],
        source: str,
        list_date: date | None,
        now: datetime,
        scope: Literal["calls", "calls_texts"] = "calls",
    ) -> int:
        """Add E.164 numbers to the do-not-call list every call claim scrubs against;
        `scope` "calls_texts": campaign and rescue texts are refused too."""
        rows = await self.transport.call(
            "dnc_import",
            {"p_phones": phones, "p_source": source, "p_list_date": list_date, "p_now": now,
             "p_scope": scope},
        )  # fmt: skip
        return int(rows[0]["dnc_import"])

    async def set_send_before(self, deadlines: dict[int, datetime], now: datetime) -> int:
        """Stamp each queued message's deadline (payload.send_before: the end of the window
        its gate found), enforced by the last-moment check; returns how many were stamped."""
        if not deadlines:
            return 0
        items = [{"id": i, "send_before": d.isoformat()} for i, d in deadlines.items()]
        rows = await self.transport.call("outbox_send_before", {"p_items": items, "p_now": now})
        return int(rows[0]["outbox_send_before"])

    async def get_message(self, message_id: int) -> OutboxMessage | None:
        rows = await self.transport.call("get_message", {"p_id": message_id})
        return OutboxMessage.model_validate(rows[0]) if rows else None

    # --- calls ----------------------------------------------------------------------------
    async def enqueue_call(self, call: CallIn, now: datetime) -> OutboxCall:
        row = await self._one(
            "enqueue_call", {"p_call": call.model_dump(mode="json"), "p_now": now}
        )
        return OutboxCall.model_validate(row)

    async def claim_call(
        self,
        call_id: int,
        now: datetime,
        max_in_flight: int = 10,
        reclaim_after_seconds: int = 600,
        send_before: datetime | None = None,
    ) -> CallClaim:
        """Claim a call right before placing it; `send_before`: the end of its permitted
        window (outcome `window` once passed; None: no window)."""
        row = await self._one(
            "claim_call",
            {
                "p_id": call_id,
                "p_max_in_flight": max_in_flight,
                "p_reclaim_after_seconds": reclaim_after_seconds,
                "p_now": now,
                "p_send_before": send_before,
            },
        )
        return CallClaim.model_validate(row)

    async def record_call_placed(
        self,
        call_id: int,
        provider: str,
        provider_call_id: str,
        now: datetime,
        request: dict[str, Any] | None = None,
    ) -> OutboxCall:
        row = await self._one(
            "record_call_placed",
            {
                "p_id": call_id,
                "p_provider": provider,
                "p_provider_call_id": provider_call_id,
                "p_request": request,
                "p_now": now,
            },
        )
        return OutboxCall.model_validate(row)

    async def record_call_failed(
        self,
        call_id: int,
        error_code: str,
        error_message: str,
        now: datetime,
        *,
        retry: bool = False,
        ambiguous: bool = False,
    ) -> OutboxCall:
        row = await self._one(
            "record_call_failed",
            {
                "p_id": call_id,
                "p_error_code": error_code,
                "p_error_message": error_message,
                "p_retry": retry,
                "p_ambiguous": ambiguous,
                "p_now": now,
            },
        )
        return OutboxCall.model_validate(row)

    async def get_call(self, call_id: int) -> OutboxCall | None:
        rows = await self.transport.call("get_call", {"p_id": call_id})
        return OutboxCall.model_validate(rows[0]) if rows else None
