"""The `appointments` loop body (cron every 5 minutes).

Each tick: (1) plans the messages of every new or rescheduled appointment version
(app/appointments/schedule.py) in one batch; (2) claims the due ones under a lease
(`FOR UPDATE SKIP LOCKED`: two overlapping runs never take the same row), renders them and
queues them in the outbox in one batch — a no-show is marked in that same transaction;
(3) delivers each queued message through the providers. `run` also refreshes the status
page's cached aggregates. Every message is keyed per
appointment version, kind and channel, so nothing is ever sent twice. A text due at a
moment the compliance gate refuses (a late run past the window, an opt-out) is skipped.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog

from app.appointments.messages import Senders, render
from app.appointments.schedule import lead_facts, plan
from app.compliance.gate import evaluate
from app.db.appointments import DueReminder
from app.db.outbox import MessageIn

if TYPE_CHECKING:  # TEMP until the room takes named collaborators
    from app.jobs.bootstrap import Context

log = structlog.get_logger(__name__)
BATCH = 200
LEASE_SECONDS = 300


async def plan_pending(ctx: Context) -> int:
    """Plan every unplanned appointment version; how many planned sends were stored (an
    overlapping run planning the same version stores nothing: the rows are unique)."""
    now, s = ctx.clock.now(), ctx.settings
    pending = await ctx.repos.appointments.to_schedule(now, BATCH)
    if not pending:
        return 0
    grace = timedelta(minutes=s.no_show_grace_minutes)
    plans = [item for a in pending for item in plan(a, now, s.business_timezone, grace)]
    return await ctx.repos.appointments.schedule(plans, {a.id: a.version for a in pending}, now)


def _skip_reason(ctx: Context, due: DueReminder) -> str | None:
    """Why this due send must not go out now, or None."""
    r, a = due.reminder, due.appointment
    if (r.channel == "sms" and not a.phone) or (r.channel == "email" and not a.email):
        return f"no_{'phone' if r.channel == 'sms' else 'email'}"
    if r.channel == "sms":
        verdict = evaluate("sms", lead_facts(a), ctx.clock.now(),
                           default_tz=ctx.settings.business_timezone)  # fmt: skip
        if not verdict.allowed:
            return verdict.reason
    return None


async def send_due(ctx: Context) -> dict[str, int]:
    """Claim, render, queue and deliver the due messages (one batch)."""
    now = ctx.clock.now()
    due = await ctx.repos.appointments.claim_due(ctx.holder, now, BATCH, LEASE_SECONDS)
    senders = Senders(ctx.providers.email.name, ctx.providers.sms.name)
    messages: dict[int, MessageIn] = {}
    skips: dict[int, str] = {}
    for item in due:
        reason = _skip_reason(ctx, item)
        if reason:
            skips[item.reminder.id] = reason
            continue
        r = item.reminder
        messages[r.id] = render(r.kind, r.channel, item.appointment, ctx.settings, senders, now)
    settled = await ctx.repos.appointments.enqueue(messages, skips, now)
    sent = 0
    for row in settled:
        if row.message_id is not None:
            result = await ctx.providers.delivery.deliver_message(row.message_id)
            sent += result.outcome == "sent"
    queued = sum(row.message_id is not None for row in settled)
    return {"claimed": len(due), "queued": queued, "sent": sent, "skipped": len(settled) - queued}


async def tick(ctx: Context) -> dict[str, int]:
    """Plan, then send what is due: the whole loop once."""
    planned = await plan_pending(ctx)
    return {"planned": planned, **await send_due(ctx)}


async def run(ctx: Context) -> dict[str, Any]:
    """The job body: one tick; its counts go to job_runs."""
    counts = await tick(ctx)
    if counts["claimed"] or counts["planned"]:
        log.info("appointments tick", **counts)
    return {"work_items": counts["planned"] + counts["claimed"], **counts}
