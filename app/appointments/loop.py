"""The `appointments` loop body (cron every 5 minutes).

Each tick: (1) plans the messages of every new or rescheduled appointment version
(app/appointments/schedule.py) in one batch; (2) claims the due ones under a lease
(`FOR UPDATE SKIP LOCKED`: two overlapping runs never take the same row), renders them and
queues them in the outbox in one batch — a no-show is marked in that same transaction;
(3) delivers each queued message through the providers. A tick with nothing to plan reads
and claims in one round trip (`appointments_next`). Every message is keyed per
appointment version, kind and channel, so nothing is ever sent twice. A text due at a
moment the compliance gate refuses (a late run past the window, an opt-out) is skipped.
Every function takes `AppointmentDeps`, the loop's collaborators, built by its caller (the
job entry, the booking webhook, the CLI).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from app.appointments.messages import Senders, render
from app.appointments.schedule import lead_facts, plan
from app.compliance.gate import evaluate
from app.core.clock import Clock
from app.core.settings import Settings
from app.db.appointments import Appointment, AppointmentRepository, DueReminder, NextWork
from app.db.outbox import MessageIn
from app.providers.delivery import OutboxDelivery

log = structlog.get_logger(__name__)
BATCH = 200
LEASE_SECONDS = 300


@dataclass(frozen=True)
class AppointmentDeps:
    """What the loop uses: the appointments repository, the clock, settings (business zone,
    no-show grace, the words of the messages), the outbox delivery, the provider names the
    outbox rows are written for, and `holder`, the lease owner of the rows it claims."""

    repo: AppointmentRepository
    clock: Clock
    settings: Settings
    delivery: OutboxDelivery
    senders: Senders
    holder: str


async def plan_pending(deps: AppointmentDeps, pending: list[Appointment] | None = None) -> int:
    """Plan every unplanned appointment version (`pending`: as the tick read them, else read
    here); how many planned sends were stored (an overlapping run planning the same version
    stores nothing: the rows are unique)."""
    now, s = deps.clock.now(), deps.settings
    if pending is None:
        pending = await deps.repo.to_schedule(now, BATCH)
    if not pending:
        return 0
    grace = timedelta(minutes=s.no_show_grace_minutes)
    plans = [item for a in pending for item in plan(a, now, s.business_timezone, grace)]
    return await deps.repo.schedule(plans, {a.id: a.version for a in pending}, now)


def _skip_reason(deps: AppointmentDeps, due: DueReminder) -> str | None:
    """Why this due send must not go out now, or None."""
    r, a = due.reminder, due.appointment
    if (r.channel == "sms" and not a.phone) or (r.channel == "email" and not a.email):
        return f"no_{'phone' if r.channel == 'sms' else 'email'}"
    if r.channel == "sms":
        verdict = evaluate("sms", lead_facts(a), deps.clock.now(),
                           default_tz=deps.settings.business_timezone)  # fmt: skip
        if not verdict.allowed:
            return verdict.reason
    return None


async def send_due(deps: AppointmentDeps, due: list[DueReminder] | None = None) -> dict[str, int]:
    """Claim (unless the tick has: `due`), render, queue and deliver the due messages (one
    batch)."""
    now = deps.clock.now()
    if due is None:
        due = await deps.repo.claim_due(deps.holder, now, BATCH, LEASE_SECONDS)
    messages: dict[int, MessageIn] = {}
    skips: dict[int, str] = {}
    for item in due:
        reason = _skip_reason(deps, item)
        if reason:
            skips[item.reminder.id] = reason
            continue
        r = item.reminder
        messages[r.id] = render(
            r.kind, r.channel, item.appointment, deps.settings, deps.senders, now
        )
    settled = await deps.repo.enqueue(messages, skips, now)
    sent = 0
    for row in settled:
        if row.message_id is not None:
            result = await deps.delivery.deliver_message(row.message_id)
            sent += result.outcome == "sent"
    queued = sum(row.message_id is not None for row in settled)
    return {"claimed": len(due), "queued": queued, "sent": sent, "skipped": len(settled) - queued}


async def tick(deps: AppointmentDeps, work: NextWork | None = None) -> dict[str, int]:
    """Plan, then send what is due: the whole loop once. A quiet tick (nothing to plan)
    reads and claims in one round trip (`next_work`); `work`: that read as the run's start
    made it (`AppointmentRepository.begin`), else made here."""
    if work is None:
        work = await deps.repo.next_work(deps.holder, deps.clock.now(), BATCH, LEASE_SECONDS)
    planned = await plan_pending(deps, work.pending) if work.pending else 0
    return {"planned": planned, **await send_due(deps, work.due)}


async def run(deps: AppointmentDeps, work: NextWork | None = None) -> dict[str, Any]:
    """The job body: one tick (`work`: as `tick` takes it); its counts go to job_runs."""
    counts = await tick(deps, work)
    if counts["claimed"] or counts["planned"]:
        log.info("appointments tick", **counts)
    return {"work_items": counts["planned"] + counts["claimed"], **counts}
