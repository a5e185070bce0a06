"""The rescue bridge (the seed's missed-call text-back): after a no-answer, busy or voicemail
outcome, one SMS to the lead with the booking link.

Contract:
- through the campaigns' compliance gate (`app.compliance.gate.evaluate`): opted out
  → nothing; outside the permitted hours or over a state's attempt cap (calls and texts
  of the last 24 h) → queued with `payload.not_before` = the next permitted instant; once
  it has come `deliver_due_rescues` asks the gate again (texts and calls since count) and
  sends it, holds it again, or cancels it; unknown timezone → nothing (the gate flags the
  lead for a human);
- at most one per lead per 24 h however many reports arrive (`webhook_enqueue_rescue`
  checks and inserts under a per-lead lock);
- the end of the permitted window the gate found is stamped on the row (`send_before`)
  before it is sent: a text still waiting in the rate limiter then is refused at the last
  moment (`mark_sending`) and goes back to the queue, so no rescue text reaches a lead
  outside its legal hours;
- sent only through the outbox and `OutboxDelivery`, never directly;
- its booking link is a short link naming the text (`/l/<code>`, app/core/short_links.py):
  a click counts for this message; when the short link would make the text one segment
  longer (a long business name and PUBLIC_BASE_URL) the plain link is sent, uncounted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from app.campaigns.templates import sms_segments, track_text_links
from app.compliance.gate import LeadFacts, evaluate
from app.core.settings import Settings
from app.core.short_links import ShortLink
from app.db.outbox import OutboxMessage
from app.db.webhooks import DueRescue, ReportResult, WebhookRepository
from app.providers.delivery import OutboxDelivery

log = structlog.get_logger(__name__)
RESCUE_OUTCOMES = frozenset({"no_answer", "busy", "voicemail"})


def rescue_text(business_name: str, booking_url: str) -> str:
    return (f"Sorry we missed you! This is {business_name}. Book a time that suits you: "
            f"{booking_url} Reply STOP to opt out.")  # fmt: skip


def tracked(body: str, settings: Settings, call_id: int) -> dict[str, Any]:
    """`body` with its booking link as a short link naming this text, and `links`; the plain
    body when the short link would cost one more segment (a text is paid per segment)."""
    short, links = track_text_links(body, settings, ShortLink("rescue", (call_id,)))
    if sms_segments(short)[1] > sms_segments(body)[1]:
        log.info("rescue link left untracked: a short link would add a segment")
        return {}
    return {"body": short, "links": links}


def send_time(report: ReportResult, now: datetime, default_tz: str) -> datetime | None:
    """When the text may go (now, or the next permitted instant); None: it may not.
    `default_tz`: the zone of a lead whose own is unknown (the business's)."""
    lead = LeadFacts(phone=report.lead_phone, state=report.lead_state,
                     timezone=report.lead_timezone)  # fmt: skip
    decision = evaluate("sms", lead, now, recent_attempts=report.recent_attempts,
                        default_tz=default_tz)  # fmt: skip
    if decision.allowed:
        return now
    log.info("rescue text held", lead_id=report.lead_id, reason=decision.reason)
    return decision.next_at


async def queue_rescue(
    report: ReportResult,
    *,
    repo: WebhookRepository,
    settings: Settings,
    sms_provider: str,
    now: datetime,
) -> OutboxMessage | None:
    """Queue the rescue text for a finished call, if the rules allow one. `settings` gives
    the business's name, booking link and timezone; `sms_provider` names the SMS sender."""
    if report.outcome not in RESCUE_OUTCOMES or report.lead_id is None or not report.lead_phone:
        return None
    when = send_time(report, now, settings.business_timezone)
    if when is None:
        return None
    body = rescue_text(settings.business_name, settings.booking_url)
    payload: dict[str, Any] = {"body": body, "not_before": when.isoformat()}
    if report.call_id is not None:
        payload.update(tracked(body, settings, report.call_id))
    message = {
        "idempotency_key": f"rescue:{report.lead_id}:{report.call_id}",
        "provider": sms_provider,
        "payload": payload,
    }
    return await repo.enqueue_rescue(report.lead_id, message, now)


def is_due(message: OutboxMessage, now: datetime) -> bool:
    not_before = message.payload.get("not_before")
    return not_before is None or datetime.fromisoformat(not_before) <= now


async def deliver_due_rescues(
    repo: WebhookRepository,
    delivery: OutboxDelivery,
    default_tz: str,
    now: datetime,
    checks: list[DueRescue] | None = None,
) -> int:
    """Send every queued rescue text whose time has come and that the gate still allows
    (other contacts may have reached the lead since it was queued: a state cap counts them);
    one it refuses for now is held until the gate's next permitted instant, one it refuses
    for good is cancelled. Returns how many were sent. `checks`: the due rescue checks when
    the caller read them already, moments before (drip's first call when it claimed no
    step: `CampaignRepository.begin`)."""
    allowed: list[int] = []
    deadlines: dict[int, datetime] = {}
    for due in checks if checks is not None else await repo.due_rescue_checks(now):
        lead = LeadFacts(phone=due.message.to_address, state=due.lead_state,
                         timezone=due.lead_timezone)  # fmt: skip
        decision = evaluate("sms", lead, now, recent_attempts=due.recent_attempts,
                            default_tz=default_tz)  # fmt: skip
        if decision.allowed:
            allowed.append(due.message.id)
            if decision.until is not None:
                deadlines[due.message.id] = decision.until
        else:
            await repo.hold_rescue(due.message.id, decision.next_at, decision.reason, now)
    await delivery.outbox.set_send_before(deadlines, now)
    await delivery.deliver_each(allowed)
    return len(allowed)
