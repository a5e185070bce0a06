"""One end-of-call report, applied once: the live webhook (app.webhooks.vapi) and the
reconciler of lost reports (app.campaigns.call_reconcile) both come through `apply_report`.

Contract:
- the report is stored and applied by `webhook_vapi_report` under
  `vapi:<call id>:end-of-call-report` (the one dedupe key: a report the reconciler applied
  makes a late real one a duplicate, and the other way round); a booked outcome moves the
  lead to booked and applies the booking stop rules there;
- only the first application has follow-ups: the customer's words go through the revocation
  classifier (an opt-out said on the call), then the rescue text is queued (app.campaigns.
  rescue); a failing follow-up is logged, never raised (the report is stored);
- the caller delivers `AppliedReport.due_rescue` (the web handler after its reply, a job at
  once); a rescue held for later is sent by the drip's `deliver_due_rescues`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from app.campaigns.rescue import is_due, queue_rescue
from app.consent.revocation import Channel, classify
from app.core.clock import Clock
from app.core.settings import Settings
from app.db.outbox import OutboxMessage
from app.db.webhooks import ReportResult, WebhookRepository
from app.providers.vapi_parse import call_identity, obj, report_fields, text

log = structlog.get_logger(__name__)
_SPEAKERS = ("user:", "customer:")


@dataclass(frozen=True)
class ReportDeps:
    """What applying a report uses: the webhook repository, the clock, the business settings
    (name, booking link, timezone) and the SMS sender's name."""

    webhooks: WebhookRepository
    clock: Clock
    settings: Settings
    sms_provider: str


@dataclass(frozen=True)
class AppliedReport:
    result: ReportResult
    due_rescue: OutboxMessage | None = None  # queued and due now: the caller delivers it


def report_key(vapi_call_id: str) -> str:
    return f"vapi:{vapi_call_id}:end-of-call-report"


async def apply_report(
    deps: ReportDeps, message: dict[str, Any], payload: dict[str, Any], *, prefix: str = ""
) -> AppliedReport | None:
    """Apply one end-of-call-report `message` (`payload` is what is stored); None when it
    names no call. `prefix` goes before every dedupe key (a replay: `replay:`)."""
    fields = report_fields(message)
    if not fields["vapi_call_id"]:
        log.warning("end-of-call-report without a call id: ignored")
        return None
    now = deps.clock.now()
    result = await deps.webhooks.apply_vapi_report(
        prefix + report_key(fields["vapi_call_id"]), payload, fields, now
    )
    if result.duplicate:
        return AppliedReport(result)
    try:
        await apply_transcript(deps.webhooks, message, now, prefix=prefix)
    except Exception as exc:
        log.error("transcript opt-out not applied", call_id=fields["vapi_call_id"],
                  error=type(exc).__name__)  # fmt: skip
    return AppliedReport(result, await _rescue(deps, result, now))


async def _rescue(deps: ReportDeps, report: ReportResult, now: datetime) -> OutboxMessage | None:
    try:
        rescue = await queue_rescue(
            report, repo=deps.webhooks, settings=deps.settings,
            sms_provider=deps.sms_provider, now=now,
        )  # fmt: skip
    except Exception as exc:
        log.error("rescue text not queued", call_id=report.call_id, error=type(exc).__name__)
        return None
    return rescue if rescue is not None and is_due(rescue, now) else None


def customer_lines(message: dict[str, Any]) -> list[str]:
    """What the customer said, line by line (never the assistant's words)."""
    for source in (obj(message.get("artifact")).get("messages"), message.get("messages")):
        if isinstance(source, list) and source:
            return [str(m["message"]) for m in map(obj, source)
                    if m.get("role") == "user" and isinstance(m.get("message"), str)]  # fmt: skip
    transcript = text(obj(message.get("artifact")).get("transcript")) or text(
        message.get("transcript")
    )
    lines = []
    for line in (transcript or "").splitlines():
        head, _, rest = line.partition(":")
        if f"{head.strip().lower()}:" in _SPEAKERS:
            lines.append(rest.strip())
    return lines


def transcript_revocation(message: dict[str, Any]) -> tuple[tuple[Channel, ...], str] | None:
    """The channels the customer's own words revoke (always calls), and the reason; None when
    nothing they said is an opt-out."""
    channels: set[Channel] = set()
    reasons = []
    for line in customer_lines(message):
        verdict = classify(line, "call")
        if verdict.kind == "opt_out":
            channels |= {"call", *verdict.scope}
            reasons.append(f"{verdict.reason} ({line[:120]!r})")
    return (tuple(sorted(channels)), "; ".join(reasons)[:500]) if channels else None


async def apply_transcript(
    repo: WebhookRepository, message: dict[str, Any], now: datetime, *, prefix: str = ""
) -> None:
    """The end-of-call fallback: a revocation in the customer's words opts the lead out
    (stored under `<prefix>vapi:<call id>:transcript-opt-out`, with the call's identity)."""
    found = transcript_revocation(message)
    identity = call_identity(message)
    if found is None or not identity["vapi_call_id"]:
        return
    channels, reason = found
    await repo.apply_vapi_opt_out(
        f"{prefix}vapi:{identity['vapi_call_id']}:transcript-opt-out", "transcript",
        {"reason": reason, "call": identity}, identity, channels, reason, now,
    )  # fmt: skip
    log.info("opt-out heard in a call transcript", call_id=identity["vapi_call_id"],
             channels=list(channels))  # fmt: skip
