"""The webhooks repository: store-and-apply functions for provider events, links, bookings.

Contract (see supabase/schemas/04_webhooks.sql):
- every `apply_*` stores the raw event under its dedupe key and applies it in ONE
  transaction; `duplicate=True` means the key was taken before and nothing changed;
- statuses only move forward (messages and calls), opt-outs apply everywhere they cover.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from app.db.models import Model
from app.db.outbox import MessageIn, OutboxMessage
from app.db.transport import Transport

InboundKind = Literal["stop", "start", "help", "ack", "ambiguous", "reply"]


class InboundResult(Model):
    duplicate: bool
    event_id: int | None = None
    lead_id: int | None = None
    stopped: int = 0
    message_ids: list[int] = Field(default_factory=list)


class StatusResult(Model):
    duplicate: bool
    event_id: int | None = None
    message_id: int | None = None
    status: str | None = None


class ResendResult(Model):
    duplicate: bool
    event_id: int | None = None
    message_id: int | None = None
    lead_id: int | None = None


class EmailReplyResult(Model):
    duplicate: bool
    event_id: int | None = None
    reply_id: int | None = None
    lead_id: int | None = None
    stopped: int = 0
    message_ids: list[int] = Field(default_factory=list)


class CallStatusResult(Model):
    duplicate: bool
    event_id: int | None = None
    call_id: int | None = None
    status: str | None = None


class ReportResult(Model):
    duplicate: bool
    event_id: int | None = None
    call_id: int | None = None
    lead_id: int | None = None
    outcome: str | None = None
    lead_phone: str | None = None
    lead_timezone: str | None = None
    lead_state: str | None = None
    # texts + calls of the last 24 h, read only for an outcome that queues a rescue text
    # (app.campaigns.rescue.RESCUE_OUTCOMES); empty for every other outcome
    recent_attempts: list[datetime] = Field(default_factory=list)


class StuckCall(Model):
    """A call placed with Vapi whose end-of-call report never arrived."""

    id: int
    vapi_call_id: str
    status: str
    placed_at: datetime


class StoredEvent(Model):
    """One row of webhook_events, as `nightshift webhooks replay` reads it."""

    id: int
    provider: str
    dedupe_key: str
    event_type: str
    payload: dict[str, Any]
    status: str
    received_at: datetime


class StuckMessage(Model):
    """A text sent through Twilio whose final status never arrived."""

    id: int
    provider_id: str
    status: str
    lead_id: int | None = None
    sent_at: datetime


class VapiOptOutResult(Model):
    duplicate: bool
    event_id: int | None = None
    lead_id: int | None = None
    stopped: int = 0


class DueRescue(Model):
    message: OutboxMessage
    lead_state: str | None = None
    lead_timezone: str | None = None
    recent_attempts: list[datetime] = Field(default_factory=list)  # texts + calls, last 24 h


class Caller(Model):
    lead_id: int
    name: str | None = None
    status: str
    company: str | None = None
    campaign: str | None = None


class Slot(Model):
    starts_at: datetime
    ends_at: datetime


class BookingResult(Model):
    outcome: Literal["booked", "existing", "taken", "no_lead"]
    appointment_id: int | None = None
    lead_id: int | None = None
    starts_at: datetime | None = None


class UnsubscribeResult(Model):
    already: bool
    lead_id: int | None = None


class WebhookRepository:
    """Typed calls to the webhook functions; one round trip each."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def _one(self, function: str, args: dict[str, Any]) -> dict[str, Any]:
        return (await self.transport.call(function, args))[0]

    async def apply_twilio_inbound(
        self,
        dedupe_key: str,
        kind: InboundKind,
        payload: dict[str, Any],
        from_number: str,
        notify: list[MessageIn],
        now: datetime,
        scope: Sequence[str] = (),
        reason: str | None = None,
    ) -> InboundResult:
        """`scope`: the channels a "stop" covers besides SMS (call, email); `reason`: the
        classifier's, kept with the event (and on the lead when "ambiguous" holds it)."""
        row = await self._one(
            "webhook_twilio_inbound",
            {
                "p_dedupe_key": dedupe_key, "p_kind": kind, "p_payload": payload,
                "p_from": from_number,
                "p_notify": [m.model_dump(mode="json") for m in notify] or None,
                "p_now": now, "p_scope": list(scope) or None, "p_reason": reason,
            },
        )  # fmt: skip
        return InboundResult.model_validate({**row, "message_ids": row["message_ids"] or []})

    async def apply_twilio_status(
        self, dedupe_key: str, payload: dict[str, Any], update: dict[str, Any], now: datetime
    ) -> StatusResult:
        """`update`: outbox_id, message_sid, twilio_status, status, error_code, permanent,
        opt_out (see webhook_twilio_status)."""
        args = {f"p_{k}": v for k, v in update.items()}
        row = await self._one(
            "webhook_twilio_status",
            {"p_dedupe_key": dedupe_key, "p_payload": payload, **args, "p_now": now},
        )
        return StatusResult.model_validate(row)

    async def apply_resend_event(
        self, dedupe_key: str, payload: dict[str, Any], event: dict[str, Any], now: datetime
    ) -> ResendResult:
        """`event`: event_type, email_id, outbox_id, address, status, suppress, click."""
        args = {f"p_{k}": v for k, v in event.items()}
        row = await self._one(
            "webhook_resend_event",
            {"p_dedupe_key": dedupe_key, "p_payload": payload, **args, "p_now": now},
        )
        return ResendResult.model_validate(row)

    async def apply_resend_inbound(
        self, dedupe_key: str, reply: dict[str, Any], payload: dict[str, Any],
        notify: list[MessageIn], now: datetime,
    ) -> EmailReplyResult:  # fmt: skip
        """One received email (supabase/schemas/16_email_replies.sql). `reply`: email_id,
        kind, scope, reason, from_address, subject, body, body_fetched, and the reply
        token's lead_id, enrollment_id, position when the To address carried one."""
        row = await self._one(
            "webhook_resend_inbound",
            {"p_dedupe_key": dedupe_key, "p_reply": reply, "p_payload": payload,
             "p_notify": [m.model_dump(mode="json") for m in notify] or None, "p_now": now},
        )  # fmt: skip
        return EmailReplyResult.model_validate({**row, "message_ids": row["message_ids"] or []})

    async def apply_vapi_status(
        self, dedupe_key: str, payload: dict[str, Any], call: dict[str, Any], now: datetime
    ) -> CallStatusResult:
        row = await self._one(
            "webhook_vapi_status",
            {"p_dedupe_key": dedupe_key, "p_payload": payload, "p_call": call, "p_now": now},
        )
        return CallStatusResult.model_validate(row)

    async def apply_vapi_report(
        self, dedupe_key: str, payload: dict[str, Any], call: dict[str, Any], now: datetime
    ) -> ReportResult:
        row = await self._one(
            "webhook_vapi_report",
            {"p_dedupe_key": dedupe_key, "p_payload": payload, "p_call": call, "p_now": now},
        )
        return ReportResult.model_validate(row)

    async def calls_awaiting_report(
        self, placed_before: datetime, placed_after: datetime, limit: int
    ) -> list[StuckCall]:
        """Calls with no end-of-call report placed in [placed_after, placed_before), least
        recently checked first, at most `limit`."""
        rows = await self.transport.call(
            "calls_awaiting_report",
            {"p_placed_before": placed_before, "p_placed_after": placed_after, "p_limit": limit},
        )
        return [StuckCall.model_validate(row) for row in rows]

    async def call_reconcile_checked(self, call_id: int, reason: str, now: datetime) -> None:
        """Stamp a call the reconciler looked at and left (why, and when)."""
        await self.transport.call(
            "call_reconcile_checked", {"p_id": call_id, "p_reason": reason, "p_now": now}
        )

    async def events_for_replay(
        self, *, since: datetime | None = None, kind: str | None = None,
        event_id: int | None = None, include_processed: bool = False, after_id: int = 0,
        limit: int = 500,
    ) -> list[StoredEvent]:  # fmt: skip
        """Stored events to replay, by id after `after_id` (see webhook_events_for_replay)."""
        rows = await self.transport.call(
            "webhook_events_for_replay",
            {"p_since": since, "p_kind": kind, "p_id": event_id,
             "p_include_processed": include_processed, "p_after_id": after_id,
             "p_limit": limit},
        )  # fmt: skip
        return [StoredEvent.model_validate(row) for row in rows]

    async def count_for_replay(
        self, *, since: datetime | None = None, kind: str | None = None,
        event_id: int | None = None, include_processed: bool = False,
    ) -> int:  # fmt: skip
        rows = await self.transport.call(
            "webhook_events_replay_count",
            {"p_since": since, "p_kind": kind, "p_id": event_id,
             "p_include_processed": include_processed},
        )  # fmt: skip
        return int(rows[0]["webhook_events_replay_count"])

    async def messages_awaiting_status(
        self, sent_before: datetime, sent_after: datetime, limit: int, max_checks: int = 3
    ) -> list[StuckMessage]:
        """Twilio texts still sending/sent, sent in [sent_after, sent_before), asked about
        fewer than `max_checks` times, least recently checked first, at most `limit`."""
        rows = await self.transport.call(
            "messages_awaiting_status",
            {"p_sent_before": sent_before, "p_sent_after": sent_after, "p_limit": limit,
             "p_max_checks": max_checks},
        )  # fmt: skip
        return [StuckMessage.model_validate(row) for row in rows]

    async def message_reconcile_checked(self, message_id: int, reason: str, now: datetime) -> None:
        """Stamp a text the reconciler asked about and left (why, when, how many times)."""
        await self.transport.call(
            "message_reconcile_checked", {"p_id": message_id, "p_reason": reason, "p_now": now}
        )

    async def apply_vapi_opt_out(
        self, dedupe_key: str, event_type: str, payload: dict[str, Any], call: dict[str, Any],
        channels: Sequence[str], reason: str, now: datetime,
    ) -> VapiOptOutResult:  # fmt: skip
        """An opt-out said on a call (`optOut` tool or transcript), applied to `channels`
        (call | email | sms) at once; `call`: vapi_call_id, to_number, lead_id."""
        row = await self._one(
            "webhook_vapi_opt_out",
            {"p_dedupe_key": dedupe_key, "p_event_type": event_type, "p_payload": payload,
             "p_call": call, "p_channels": list(channels), "p_reason": reason, "p_now": now},
        )  # fmt: skip
        return VapiOptOutResult.model_validate(row)

    async def store_only(
        self, provider: str, dedupe_key: str, event_type: str, payload: dict[str, Any],
        now: datetime,
    ) -> bool:  # fmt: skip
        """Store an event that needs no processing; False when it was a duplicate."""
        row = await self._one(
            "webhook_store_only",
            {"p_provider": provider, "p_dedupe_key": dedupe_key, "p_event_type": event_type,
             "p_payload": payload, "p_now": now},
        )  # fmt: skip
        return bool(row["webhook_store_only"])

    async def enqueue_rescue(
        self, lead_id: int, message: dict[str, Any], now: datetime
    ) -> OutboxMessage | None:
        """The rescue text, unless one went to this lead in the last 24 h or SMS is opted out."""
        rows = await self.transport.call(
            "webhook_enqueue_rescue", {"p_lead_id": lead_id, "p_message": message, "p_now": now}
        )
        return OutboxMessage.model_validate(rows[0]) if rows else None

    async def due_rescue_checks(self, now: datetime, limit: int = 100) -> list[DueRescue]:
        """Due rescue texts with what the gate needs to decide again at send time."""
        rows = await self.transport.call(
            "webhook_due_rescue_checks", {"p_now": now, "p_limit": limit}
        )
        return [DueRescue.model_validate(row) for row in rows]

    async def hold_rescue(
        self, message_id: int, not_before: datetime | None, reason: str, now: datetime
    ) -> bool:
        """Hold a queued rescue text until `not_before`, or cancel it (None)."""
        rows = await self.transport.call(
            "webhook_hold_rescue",
            {"p_id": message_id, "p_not_before": not_before, "p_reason": reason, "p_now": now},
        )
        return bool(rows[0]["webhook_hold_rescue"])

    async def caller(self, phone: str) -> Caller | None:
        rows = await self.transport.call("webhook_vapi_caller", {"p_phone": phone})
        return Caller.model_validate(rows[0]) if rows else None

    async def booked_slots(self, start: datetime, end: datetime) -> list[Slot]:
        rows = await self.transport.call("webhook_booked_slots", {"p_from": start, "p_to": end})
        return [Slot.model_validate(row) for row in rows]

    async def book_appointment(self, booking: dict[str, Any], now: datetime) -> BookingResult:
        row = await self._one("webhook_book_appointment", {"p_booking": booking, "p_now": now})
        return BookingResult.model_validate(row)

    async def record_click(self, click: dict[str, Any], now: datetime) -> int | None:
        """The click_events id; None: the link's person was erased and nothing was kept."""
        row = await self._one("webhook_record_click", {"p_click": click, "p_now": now})
        click_id = row["webhook_record_click"]
        return int(click_id) if click_id is not None else None

    async def short_link_click(
        self, key: str | None, call_id: int | None, link: int, click: dict[str, Any],
        record: bool, now: datetime,
    ) -> str | None:  # fmt: skip
        """The URL behind a text's short link (None: no such message, or its lead erased);
        with `record`, the click is counted (webhook_short_link_click)."""
        row = await self._one("webhook_short_link_click", {
            "p_key": key, "p_call_id": call_id, "p_link": link, "p_click": click,
            "p_record": record, "p_now": now,
        })  # fmt: skip
        url = row["webhook_short_link_click"]
        return str(url) if url is not None else None

    async def unsubscribe(
        self, email: str, lead_id: int | None, source: str, now: datetime
    ) -> UnsubscribeResult:
        row = await self._one(
            "webhook_unsubscribe",
            {"p_email": email, "p_lead_id": lead_id, "p_source": source, "p_now": now},
        )
        return UnsubscribeResult.model_validate(row)
