"""Re-applying stored webhook events through the live functions (`nightshift webhooks
replay`, issue 15 item 3): after a bug fix, the events stored in `webhook_events` whose
application did not take can be applied again.

Contract of `replay_event(ctx, event, dry_run=...)`:
- the event's stored payload goes through the SAME code as a live request after its
  verification: Twilio inbound texts through `twilio.apply_inbound` (classified again, so a
  fixed classifier applies), status callbacks through `twilio.apply_status`, Resend events
  through `resend.resend_event` + `webhook_resend_event`, Vapi status-updates through
  `status_fields` + `webhook_vapi_status`;
- it is stored under `replay:<original dedupe key>`: the original row stays as it was
  received, the replay's own row says what the replay did, and a second replay of the same
  event is a duplicate that changes nothing;
- not replayed (outcome `skipped`, with the reason): Vapi end-of-call reports (applied once
  per call; a lost one is re-read from Vapi by the reconciler, app/campaigns/
  call_reconcile.py), optOut tool calls and transcript opt-outs (applied before the answer;
  an opt-out is never undone or repeated), booking events and types nothing applies;
- `dry_run`: nothing is written; the outcome says what would be applied (`would_apply`);
- `ignored`: replayed, and the live function still found nothing to apply it to (stored as
  such under the replay key: a later replay is a duplicate).
Outbox messages a replayed event queues (a HELP answer) are delivered by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from app.db.webhooks import StoredEvent
from app.jobs.bootstrap import Context
from app.providers.vapi_parse import obj, status_fields
from app.webhooks.resend import resend_event
from app.webhooks.twilio import apply_inbound, apply_status

PREFIX = "replay:"
Outcome = Literal["applied", "ignored", "duplicate", "skipped", "would_apply"]
_OURS = ("nightshift_scope", "nightshift_reason")  # what the store added to the payload


@dataclass(frozen=True)
class Replayed:
    event_id: int
    outcome: Outcome
    detail: str = ""
    message_ids: list[int] = field(default_factory=list)


def replay_key(event: StoredEvent) -> str:
    return PREFIX + event.dedupe_key


def _skip_reason(event: StoredEvent) -> str | None:
    if event.provider == "twilio" and event.event_type.startswith("sms."):
        return None
    if event.provider == "resend" and resend_event(event.payload) is not None:
        return None
    if event.provider == "vapi" and event.event_type == "status-update":
        return None
    if event.event_type == "end-of-call-report":
        return "end-of-call reports are applied once per call (the reconciler re-reads lost ones)"
    if event.provider == "vapi":
        return f"{event.event_type} is applied before the answer and never repeated"
    return f"{event.provider} {event.event_type} events are not replayed"


async def replay_event(ctx: Context, event: StoredEvent, *, dry_run: bool = False) -> Replayed:
    """Apply one stored event again; see the module docstring."""
    reason = _skip_reason(event)
    if reason is not None:
        return Replayed(event.id, "skipped", reason)
    if dry_run:
        return Replayed(event.id, "would_apply", f"{event.provider} {event.event_type}")
    if event.provider == "twilio":
        params = {k: str(v) for k, v in event.payload.items() if k not in _OURS}
        if event.event_type == "sms.status":
            result = await apply_status(ctx, params, None, PREFIX)
            if result is None or result.duplicate:
                return Replayed(event.id, "duplicate", event.event_type)
            found = result.message_id is not None
            return Replayed(event.id, "applied" if found else "ignored", "no outbox message")
        applied, ids = await apply_inbound(ctx, params, PREFIX)
        return Replayed(event.id, "applied" if applied else "duplicate", event.event_type, ids)
    if event.provider == "resend":
        update = resend_event(event.payload)
        assert update is not None  # _skip_reason checked it
        resent = await ctx.repos.webhooks.apply_resend_event(
            replay_key(event), event.payload, update, ctx.clock.now()
        )
        if resent.duplicate:
            return Replayed(event.id, "duplicate", event.event_type)
        found = resent.message_id is not None or resent.lead_id is not None
        return Replayed(event.id, "applied" if found else "ignored", "no message or lead")
    return await _vapi_status(ctx, event)


async def _vapi_status(ctx: Context, event: StoredEvent) -> Replayed:
    fields = status_fields(obj(event.payload.get("message")))
    if fields is None or not fields["vapi_call_id"]:
        return Replayed(event.id, "skipped", "a status-update without a call id")
    result = await ctx.repos.webhooks.apply_vapi_status(
        replay_key(event), event.payload, fields, ctx.clock.now()
    )
    return Replayed(event.id, "duplicate" if result.duplicate else "applied", event.event_type)
