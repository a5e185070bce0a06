"""Re-applying stored webhook events through the live functions (`nightshift webhooks
replay`, issue 15 item 3): after a bug fix, the events stored in `webhook_events` whose
application did not take can be applied again.

Contract of `replay_event(ctx, event, dry_run=...)`:
- the event's stored payload goes through the SAME code as a live request after its
  verification: Twilio inbound texts through `twilio.apply_inbound` (classified again, so a
  fixed classifier applies), status callbacks through `twilio.apply_status`, Resend events
  through `resend.resend_event` + `webhook_resend_event`, Vapi status-updates through
  `status_fields` + `webhook_vapi_status`, end-of-call reports through
  `call_report.apply_report` (the call and lead, the customer's words classified again, the
  rescue text), opt-outs said on a call (`optOut` tool, transcript) through
  `webhook_vapi_opt_out` with the channels and reason stored, booking deliveries through
  `to_booking` + `appointments_upsert` (ordered by their own `event_at`: an older event than
  the last applied is `stale` and changes nothing);
- it is stored under `replay:<original dedupe key>` (and the report's follow-ups under
  `replay:vapi:<call id>:transcript-opt-out`; the rescue text keeps its one-per-call key):
  the original row stays as it was received, the replay's own row says what the replay did,
  and a second replay of the same event is a duplicate that changes nothing;
- not replayed (outcome `skipped`, with the reason): types nothing applies (`hang`), email
  replies (`email.received`: one `email_replies` row per email, its body re-read from
  Resend), and a stored body the live route would now refuse (a booking that no longer
  validates);
- `dry_run`: nothing is written; the outcome says what would be applied (`would_apply`);
- `ignored`: replayed, and the live function still found nothing to apply it to (stored as
  such under the replay key: a later replay is a duplicate).
Outbox messages a replayed event queues (a HELP answer, a rescue text) are delivered by the
caller, and so are the confirmations of replayed bookings (`Replayed.appointments`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from app.campaigns.call_report import apply_report
from app.db.webhooks import StoredEvent
from app.jobs.bootstrap import Context
from app.jobs.calls import report_deps
from app.providers.vapi_parse import obj, status_fields
from app.webhooks.calendar_hook import to_booking
from app.webhooks.common import Rejected
from app.webhooks.resend import resend_event
from app.webhooks.twilio import apply_inbound, apply_status

PREFIX = "replay:"
Outcome = Literal["applied", "ignored", "duplicate", "skipped", "would_apply"]
_OURS = ("nightshift_scope", "nightshift_reason")  # what the store added to the payload
_VAPI_OPT_OUTS = ("optOut", "transcript")  # webhook_vapi_opt_out's event types
_APPLIED_BOOKINGS = ("booked", "rescheduled", "cancelled")


@dataclass(frozen=True)
class Replayed:
    event_id: int
    outcome: Outcome
    detail: str = ""
    message_ids: list[int] = field(default_factory=list)
    appointments: bool = False  # a booking changed: the caller runs the appointments loop


def replay_key(event: StoredEvent) -> str:
    return PREFIX + event.dedupe_key


def _skip_reason(event: StoredEvent) -> str | None:
    if event.provider == "twilio" and event.event_type.startswith("sms."):
        return None
    if event.provider == "resend" and resend_event(event.payload) is not None:
        return None
    if event.provider == "resend" and event.payload.get("type") == "email.received":
        return "email replies are recorded once per email (email_replies): not replayed"
    if event.provider == "booking":
        return None
    if event.provider == "vapi" and event.event_type in (
        "status-update", "end-of-call-report", *_VAPI_OPT_OUTS
    ):  # fmt: skip
        return None
    return f"{event.provider} {event.event_type} events are not replayed (nothing applies them)"


async def replay_event(ctx: Context, event: StoredEvent, *, dry_run: bool = False) -> Replayed:
    """Apply one stored event again; see the module docstring."""
    reason = _skip_reason(event)
    if reason is not None:
        return Replayed(event.id, "skipped", reason)
    if dry_run:
        return Replayed(event.id, "would_apply", f"{event.provider} {event.event_type}")
    if event.provider == "twilio":
        return await _twilio(ctx, event)
    if event.provider == "resend":
        return await _resend(ctx, event)
    if event.provider == "booking":
        return await _booking(ctx, event)
    if event.event_type == "end-of-call-report":
        return await _report(ctx, event)
    if event.event_type in _VAPI_OPT_OUTS:
        return await _vapi_opt_out(ctx, event)
    return await _vapi_status(ctx, event)


async def _twilio(ctx: Context, event: StoredEvent) -> Replayed:
    params = {k: str(v) for k, v in event.payload.items() if k not in _OURS}
    if event.event_type == "sms.status":
        result = await apply_status(ctx, params, None, PREFIX)
        if result is None or result.duplicate:
            return Replayed(event.id, "duplicate", event.event_type)
        found = result.message_id is not None
        return Replayed(event.id, "applied" if found else "ignored", "no outbox message")
    applied, ids = await apply_inbound(ctx, params, PREFIX)
    return Replayed(event.id, "applied" if applied else "duplicate", event.event_type, ids)


async def _resend(ctx: Context, event: StoredEvent) -> Replayed:
    update = resend_event(event.payload)
    assert update is not None  # _skip_reason checked it
    resent = await ctx.repos.webhooks.apply_resend_event(
        replay_key(event), event.payload, update, ctx.clock.now()
    )
    if resent.duplicate:
        return Replayed(event.id, "duplicate", event.event_type)
    found = resent.message_id is not None or resent.lead_id is not None
    return Replayed(event.id, "applied" if found else "ignored", "no message or lead")


async def _vapi_status(ctx: Context, event: StoredEvent) -> Replayed:
    fields = status_fields(obj(event.payload.get("message")))
    if fields is None or not fields["vapi_call_id"]:
        return Replayed(event.id, "skipped", "a status-update without a call id")
    result = await ctx.repos.webhooks.apply_vapi_status(
        replay_key(event), event.payload, fields, ctx.clock.now()
    )
    return Replayed(event.id, "duplicate" if result.duplicate else "applied", event.event_type)


async def _report(ctx: Context, event: StoredEvent) -> Replayed:
    """The live report path under the replay prefix: the call and lead again, the
    customer's words classified again (a fixed classifier applies), the rescue text (one
    per call whatever happens: its key has no prefix)."""
    applied = await apply_report(
        report_deps(ctx), obj(event.payload.get("message")), event.payload, prefix=PREFIX
    )
    if applied is None:
        return Replayed(event.id, "skipped", "an end-of-call report without a call id")
    if applied.result.duplicate:
        return Replayed(event.id, "duplicate", event.event_type)
    rescue = [applied.due_rescue.id] if applied.due_rescue is not None else []
    return Replayed(event.id, "applied", f"call outcome {applied.result.outcome}", rescue)


def _call_identity(event: StoredEvent, stored: dict[str, Any]) -> dict[str, Any]:
    """The call's identity kept with the event; events stored before it was kept name the
    call (or, without one, the customer's number) in their key `vapi:<id>:...`."""
    identity = obj(stored.get("call"))
    if identity:
        return identity
    named = event.dedupe_key.split(":")[1] if event.dedupe_key.count(":") >= 2 else ""
    if named.startswith("+"):
        return {"vapi_call_id": None, "to_number": named, "lead_id": None}
    return {"vapi_call_id": named or None, "to_number": None, "lead_id": None}


async def _vapi_opt_out(ctx: Context, event: StoredEvent) -> Replayed:
    """An opt-out said on a call, applied again to the channels stored with it (an opt-out
    is never narrowed: a lead who opted back in since is opted out again, as asked)."""
    stored = obj(event.payload.get("message"))
    channels = [str(c) for c in event.payload.get("channels") or ["call"]]
    reason = str(event.payload.get("reason") or stored.get("reason") or "said on the call")
    identity = _call_identity(event, stored)
    result = await ctx.repos.webhooks.apply_vapi_opt_out(
        replay_key(event), event.event_type, stored, identity, channels, reason,
        ctx.clock.now(),
    )  # fmt: skip
    if result.duplicate:
        return Replayed(event.id, "duplicate", event.event_type)
    if result.lead_id is None and not identity.get("to_number"):
        return Replayed(event.id, "ignored", "no lead or number known for this call")
    whom = f"lead {result.lead_id}" if result.lead_id is not None else "the number"
    return Replayed(event.id, "applied", f"{whom} opted out of {', '.join(channels)}")


async def _booking(ctx: Context, event: StoredEvent) -> Replayed:
    """A booking delivery through the route's own validation and `appointments_upsert`."""
    try:
        booking = to_booking(event.payload, ctx.settings)
    except Rejected as exc:
        return Replayed(event.id, "skipped", exc.reason)
    result = await ctx.repos.appointments.upsert(
        booking, ctx.clock.now(), {"dedupe_key": replay_key(event), "payload": event.payload}
    )
    if result.outcome == "duplicate":
        return Replayed(event.id, "duplicate", event.event_type)
    if result.outcome in _APPLIED_BOOKINGS:
        return Replayed(event.id, "applied", f"appointment {result.outcome}", appointments=True)
    return Replayed(event.id, "ignored", f"appointment {result.outcome}")
