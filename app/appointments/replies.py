"""Replies to an appointment text, routed from the Twilio inbound webhook.

Contract of `handle_reply(repo, now, settings, sms_provider, sender=, body=, sid=)`: a body
of `C` (or CONFIRM/CONFIRMED), `R` (RESCHEDULE) or `X` from a lead with an active appointment
we texted about confirms it, answers with the booking link, or cancels it (freeing the slot
and cancelling its pending messages); the state change and our answer are ONE transaction. It
returns the outbox ids to deliver; anything else (or no such appointment) returns [] and stays
a normal reply.
(`CANCEL` is a carrier opt-out keyword, so it never reaches this handler: we say `X`.)
"""

from __future__ import annotations

from datetime import datetime

import structlog

from app.appointments.messages import reply_text
from app.consent.keywords import normalise
from app.core.settings import Settings
from app.db.appointments import AppointmentRepository, ReplyAction
from app.db.outbox import MessageIn

log = structlog.get_logger(__name__)

ACTIONS: dict[str, ReplyAction] = {
    "C": "confirm", "CONFIRM": "confirm", "CONFIRMED": "confirm",
    "R": "reschedule", "RESCHEDULE": "reschedule",
    "X": "cancel",
}  # fmt: skip


def action_of(body: str) -> ReplyAction | None:
    return ACTIONS.get(normalise(body))


async def handle_reply(
    repo: AppointmentRepository,
    now: datetime,
    settings: Settings,
    sms_provider: str,
    *,
    sender: str,
    body: str,
    sid: str,
) -> list[int]:
    """Apply the C/R/X reply `body` from `sender` (Twilio message `sid`) received at `now`
    (see the module contract); the outbox ids of our answer, written for `sms_provider`
    (the SMS sender's name, real or dry run)."""
    action = action_of(body)
    if action is None:
        return []
    try:
        return await _apply(repo, now, settings, sms_provider, sender, action, sid)
    except Exception as exc:  # the reply is stored already; the webhook still answers 200
        log.error("appointment reply not applied", action=action, error=type(exc).__name__)
        return []


async def _apply(
    repo: AppointmentRepository, now: datetime, settings: Settings, sms_provider: str,
    sender: str, action: ReplyAction, sid: str,
) -> list[int]:  # fmt: skip
    appointment = await repo.for_reply(sender, now)
    if appointment is None:
        return []
    message = MessageIn(
        idempotency_key=f"appt-reply:{sid}", channel="sms", to_address=sender,
        provider=sms_provider, kind="transactional", lead_id=appointment.lead_id,
        payload={"body": reply_text(action, appointment, settings)},
    )  # fmt: skip
    result = await repo.apply_reply(appointment.id, action, message, now)
    log.info("appointment reply applied", appointment_id=appointment.id, action=action)
    return [result.message_id]
