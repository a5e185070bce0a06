"""What an operator can do from the console, each written to the audit (console_audit:
what, when, from which session) that the lead and campaign pages show.

Contract: every function takes `ActionDeps`, the acting `session` ('bearer' or the first
12 hex of the login session's hash) and the action's own arguments; it raises
`ActionRefused` (with a message for the operator) for an unknown lead, campaign, alert or
appointment, or a request it cannot carry out, and then nothing is audited. The audit
detail never holds an address or a name (an erased lead's audit stays).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from app.campaigns.do_not_contact import CHANNEL_OPTIONS, do_not_contact
from app.core.clock import Clock
from app.db.alerts import AlertRepository
from app.db.appointments import AppointmentRepository
from app.db.campaigns import ManagerRepository
from app.db.console import ConsoleRepository
from app.db.errors import NotFound
from app.db.outbox import OutboxRepository

MAX_SILENCE_HOURS = 24 * 7


class ActionRefused(Exception):
    """The action was not carried out; the message says why."""


@dataclass(frozen=True)
class ActionDeps:
    console: ConsoleRepository
    outbox: OutboxRepository
    alerts: AlertRepository
    appointments: AppointmentRepository
    manager: ManagerRepository
    clock: Clock


async def pause(deps: ActionDeps, slug: str, reason: str, session: str) -> dict[str, Any]:
    try:
        row = await deps.console.pause(slug, reason, deps.clock.now())
    except NotFound as exc:
        raise ActionRefused(f"no campaign {slug!r}") from exc
    await deps.console.audit("pause", session, deps.clock.now(), campaign_id=row["campaign_id"],
                             target=slug, detail={"reason": reason, "was": row["was"]})  # fmt: skip
    return row


async def resume(deps: ActionDeps, slug: str, session: str) -> dict[str, Any]:
    try:
        row = await deps.manager.resume(slug, deps.clock.now())
    except NotFound as exc:
        raise ActionRefused(f"no campaign {slug!r}") from exc
    await deps.console.audit("resume", session, deps.clock.now(), campaign_id=row.campaign_id,
                             target=slug, detail={"was": row.was})  # fmt: skip
    return row.model_dump()


async def dnc(deps: ActionDeps, lead_id: int, option: str, session: str) -> dict[str, Any]:
    """Do-not-contact on `option` (sms, email, calls or all) for the lead's addresses."""
    channels = CHANNEL_OPTIONS.get(option)
    if channels is None:
        raise ActionRefused(f"unknown channel {option!r}: use {', '.join(CHANNEL_OPTIONS)}")
    found = await deps.console.lead(lead_id)
    if found is None:
        raise ActionRefused(f"no lead {lead_id}")
    lead, now = found["lead"], deps.clock.now()
    done: list[str] = []
    by_address = {lead.get("phone"): [c for c in channels if c != "email"],
                  lead.get("email"): [c for c in channels if c == "email"]}  # fmt: skip
    for address, wanted in by_address.items():
        if address and wanted:
            await do_not_contact(deps.outbox, address, wanted, "console", now)
            done += wanted
    if not done:
        raise ActionRefused(f"lead {lead_id} has no address for {option}")
    await deps.console.audit("do_not_contact", session, now, lead_id=lead_id,
                             detail={"channels": done})  # fmt: skip
    return {"lead_id": lead_id, "channels": done}


async def erase(deps: ActionDeps, lead_id: int, session: str) -> dict[str, Any]:
    """PII removed, only hashes of the phone and email kept (09_console.sql)."""
    if not await deps.console.erase(lead_id, session, deps.clock.now()):
        raise ActionRefused(f"no lead {lead_id}")
    return {"lead_id": lead_id, "erased": True}


async def acknowledge(deps: ActionDeps, code: str, session: str) -> dict[str, Any]:
    now = deps.clock.now()
    alert = await deps.alerts.acknowledge(code, f"console:{session}", now)
    if alert is None:
        raise ActionRefused(f"no firing alert {code!r}")
    await deps.console.audit("acknowledge", session, now, target=code,
                             detail={"key": alert.key})  # fmt: skip
    return {"code": code, "acknowledged_at": now.isoformat()}


async def silence(deps: ActionDeps, key: str, hours: int, session: str) -> dict[str, Any]:
    if not 1 <= hours <= MAX_SILENCE_HOURS:
        raise ActionRefused(f"silence for 1 to {MAX_SILENCE_HOURS} hours")
    now = deps.clock.now()
    until = now + timedelta(hours=hours)
    await deps.alerts.silence(key, until, now, reason=f"console:{session}")
    await deps.console.audit("silence", session, now, target=key, detail={"hours": hours})
    return {"key": key, "until": until.isoformat()}


async def cancel_appointment(deps: ActionDeps, appointment_id: int, session: str) -> dict[str, Any]:
    now = deps.clock.now()
    try:
        row = await deps.console.cancel_appointment(appointment_id, now)
    except NotFound as exc:
        raise ActionRefused(f"no appointment {appointment_id}") from exc
    if row["was"] not in ("booked", "confirmed"):
        raise ActionRefused(f"appointment {appointment_id} is {row['was']}: not cancelled")
    await deps.console.audit("cancel_appointment", session, now, lead_id=row["lead_id"],
                             target=str(appointment_id))  # fmt: skip
    return row


async def complete_appointment(
    deps: ActionDeps, appointment_id: int, session: str
) -> dict[str, Any]:
    now = deps.clock.now()
    outcome = await deps.appointments.complete(appointment_id, now)
    if outcome.outcome != "completed" or outcome.appointment is None:
        raise ActionRefused(f"appointment {appointment_id}: {outcome.outcome.replace('_', ' ')}")
    await deps.console.audit("complete_appointment", session, now,
                             lead_id=outcome.appointment.lead_id,
                             target=str(appointment_id))  # fmt: skip
    return {"id": appointment_id, "lead_id": outcome.appointment.lead_id, "status": "completed"}
