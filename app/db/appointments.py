"""The appointments, digest and status repository (functions in
supabase/schemas/07_appointments.sql).

Contract: one Postgres function per method, one round trip; batches go in as jsonb. A
booking is idempotent per external id; reminders are unique per (appointment, version,
kind, channel); `claim_due` never hands the same row to two concurrent runs.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from app.db.job_runs import RunRequest, call_begin
from app.db.models import Model, RunStart
from app.db.outbox import MessageIn
from app.db.transport import Transport

Kind = Literal["confirmation", "reminder_24h", "reminder_1h", "no_show"]
ReplyAction = Literal["confirm", "reschedule", "cancel"]


class Appointment(Model):
    """An appointment with its lead's contact facts (`internal.appointment_view`)."""

    id: int
    lead_id: int
    starts_at: datetime
    ends_at: datetime
    timezone: str | None = None
    status: str
    source: str
    external_id: str | None = None
    notes: str | None = None
    version: int = 1
    created_at: datetime
    confirmed_at: datetime | None = None
    lead_name: str | None = None
    phone: str | None = None
    email: str | None = None
    state: str | None = None
    lead_timezone: str | None = None
    opted_out: list[str] = Field(default_factory=list)


class BookingIn(Model):
    """A booking as the webhook and the CLI hand it over (already validated)."""

    external_id: str | None = None
    starts_at: datetime
    ends_at: datetime
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    timezone: str | None = None
    lead_timezone: str | None = None
    notes: str | None = None
    source: str = "manual"
    status: Literal["booked", "cancelled"] = "booked"
    event_at: datetime | None = None  # the calendar's time of this event (orders deliveries)


class BookingOutcome(Model):
    outcome: Literal[
        "booked",
        "rescheduled",
        "unchanged",
        "cancelled",
        "unknown",
        "no_lead",
        "duplicate",
        "stale",
    ]
    appointment: Appointment | None = None


class CompleteOutcome(Model):
    outcome: Literal["completed", "refused", "not_found"]
    appointment: Appointment | None = None


class PlannedMessage(Model):
    """One planned send of an appointment version (status 'skipped' records why not)."""

    appointment_id: int
    version: int
    kind: Kind
    channel: Literal["email", "sms"]
    due_at: datetime
    status: Literal["scheduled", "skipped"] = "scheduled"
    reason: str | None = None


class Reminder(Model):
    id: int
    appointment_id: int
    version: int
    kind: Kind
    channel: Literal["email", "sms"]
    due_at: datetime
    status: str


class DueReminder(Model):
    reminder: Reminder
    appointment: Appointment


class NextWork(Model):
    """A tick's first read (`appointments_next`): the versions to plan, and the due
    reminders already claimed — None when there were versions to plan (claim after)."""

    pending: list[Appointment]
    due: list[DueReminder] | None = None


class Settled(Model):
    reminder_id: int
    message_id: int | None = None
    status: Literal["queued", "skipped"]


class ReplyResult(Model):
    appointment: Appointment
    message_id: int


class AppointmentRepository:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def upsert(
        self, booking: BookingIn, now: datetime, event: dict[str, Any] | None = None
    ) -> BookingOutcome:
        """Book, reschedule or cancel (appointments_upsert in 07_appointments.sql); `event` =
        {dedupe_key, payload} of a webhook delivery makes a replay of it a no-op ('duplicate')."""
        payload = booking.model_dump(mode="json", exclude_none=True)
        rows = await self.transport.call(
            "appointments_upsert", {"p_booking": payload, "p_now": now, "p_event": event}
        )
        return BookingOutcome.model_validate(rows[0])

    async def reschedule(
        self, appointment_id: int, starts_at: datetime, ends_at: datetime, now: datetime
    ) -> Appointment | None:
        args = {"p_id": appointment_id, "p_starts_at": starts_at, "p_ends_at": ends_at}
        rows = await self.transport.call("appointment_reschedule", {**args, "p_now": now})
        return await self.get(appointment_id) if rows and rows[0].get("id") else None

    async def complete(self, appointment_id: int, now: datetime) -> CompleteOutcome:
        rows = await self.transport.call(
            "appointment_complete", {"p_id": appointment_id, "p_now": now}
        )
        return CompleteOutcome.model_validate(rows[0])

    async def get(self, appointment_id: int) -> Appointment | None:
        rows = await self.transport.call("appointment_get", {"p_id": appointment_id})
        value = rows[0]["appointment_get"] if rows else None
        return Appointment.model_validate(value) if value else None

    async def between(self, start: datetime, end: datetime, limit: int = 100) -> list[Appointment]:
        rows = await self.transport.call(
            "appointments_list", {"p_from": start, "p_to": end, "p_limit": limit}
        )
        return [Appointment.model_validate(r["appointments_list"]) for r in rows]

    async def to_schedule(self, now: datetime, limit: int = 200) -> list[Appointment]:
        rows = await self.transport.call(
            "appointments_to_schedule", {"p_limit": limit, "p_now": now}
        )
        return [Appointment.model_validate(r["appointments_to_schedule"]) for r in rows]

    async def schedule(
        self, plans: list[PlannedMessage], versions: dict[int, int], now: datetime
    ) -> int:
        """Store the plans and mark each appointment's version planned (one transaction)."""
        items = [p.model_dump(mode="json") for p in plans]
        done = [{"id": k, "version": v} for k, v in versions.items()]
        plan = {"items": items, "appointments": done}  # an object: empty lists stay jsonb
        rows = await self.transport.call("appointments_schedule", {"p_plan": plan, "p_now": now})
        return int(rows[0]["appointments_schedule"])

    async def claim_due(
        self, holder: str, now: datetime, limit: int = 200, lease_seconds: int = 300
    ) -> list[DueReminder]:
        args = {"p_holder": holder, "p_limit": limit, "p_lease_seconds": lease_seconds}
        rows = await self.transport.call("appointments_claim_due", {**args, "p_now": now})
        return [DueReminder.model_validate(r) for r in rows]

    async def next_work(
        self, holder: str, now: datetime, limit: int = 200, lease_seconds: int = 300
    ) -> NextWork:
        """`to_schedule`, and when it finds nothing `claim_due` too, in one round trip."""
        args = {"p_holder": holder, "p_limit": limit, "p_lease_seconds": lease_seconds}
        rows = await self.transport.call("appointments_next", {**args, "p_now": now})
        return NextWork.model_validate(rows[0]["appointments_next"])

    async def begin(
        self, run: RunRequest, limit: int = 200, lease_seconds: int = 300
    ) -> tuple[RunStart, NextWork | None]:
        """Start `run` (start_job_run) and, when it got the job's lease, make `next_work`
        with the run's holder, in one round trip (`appointments_begin`). The work is None
        when the run was skipped or the read failed (read it again with `next_work`)."""
        args = {"p_limit": limit, "p_claim_seconds": lease_seconds}
        start, read = await call_begin(self.transport, "appointments_begin", run, args)
        return start, None if read is None else NextWork.model_validate(read)

    async def enqueue(
        self, messages: dict[int, MessageIn], skips: dict[int, str], now: datetime
    ) -> list[Settled]:
        """Queue the rendered messages (reminder id → message) and record the skips."""
        items: list[dict[str, Any]] = [
            {"reminder_id": rid, "message": m.model_dump(mode="json")}
            for rid, m in messages.items()
        ]
        items += [{"reminder_id": rid, "skip": why} for rid, why in skips.items()]
        if not items:
            return []
        rows = await self.transport.call("appointments_enqueue", {"p_items": items, "p_now": now})
        return [Settled.model_validate(r) for r in rows]

    async def for_reply(self, phone: str, now: datetime) -> Appointment | None:
        rows = await self.transport.call("appointment_for_reply", {"p_phone": phone, "p_now": now})
        return Appointment.model_validate(rows[0]["appointment_for_reply"]) if rows else None

    async def apply_reply(
        self, appointment_id: int, action: ReplyAction, message: MessageIn, now: datetime
    ) -> ReplyResult:
        args = {"p_id": appointment_id, "p_action": action}
        payload = {"p_message": message.model_dump(mode="json"), "p_now": now}
        rows = await self.transport.call("appointment_apply_reply", {**args, **payload})
        return ReplyResult.model_validate(rows[0])

    # --- digest and status ----------------------------------------------------------------
    async def digest_numbers(
        self, start: datetime, end: datetime, now: datetime, hot_limit: int = 10
    ) -> dict[str, Any]:
        args = {"p_from": start, "p_to": end, "p_hot_limit": hot_limit, "p_now": now}
        rows = await self.transport.call("digest_numbers", args)
        result: dict[str, Any] = rows[0]["digest_numbers"]
        return result

    async def digest_sent(self, day: date) -> bool:
        rows = await self.transport.call("digest_sent", {"p_day": day})
        return bool(rows[0]["digest_sent"])

    async def digest_record(self, day: date, messages: list[MessageIn], now: datetime) -> list[int]:
        """Queue the day's digest emails unless that day's digest exists; their ids."""
        payload = [m.model_dump(mode="json") for m in messages]
        rows = await self.transport.call(
            "digest_record", {"p_day": day, "p_messages": payload, "p_now": now}
        )
        return list(rows[0]["message_ids"] or [])

    async def status_snapshot(
        self, timezone: str, now: datetime, max_age_seconds: int = 600
    ) -> dict[str, Any]:
        """Every status section; the window aggregates come from the cache when younger
        than `max_age_seconds`, else they are recomputed (and cached) in the same call."""
        args = {"p_tz": timezone, "p_max_age_seconds": max_age_seconds, "p_now": now}
        rows = await self.transport.call("status_snapshot", args)
        result: dict[str, Any] = rows[0]["status_snapshot"]
        return result

    async def status_refresh(self, timezone: str, now: datetime) -> None:
        """Cache the status page's window aggregates: the closed hours kept up to date (the
        stale and newly closed ones summed), then summed with the open hour's rows."""
        await self.transport.call("status_refresh", {"p_tz": timezone, "p_now": now})

    async def session_open(
        self, id_hash: str, token_tag: str, expires_at: datetime, now: datetime
    ) -> None:
        """Record a status-page session (only the hash of its cookie)."""
        args = {"p_id_hash": id_hash, "p_token_tag": token_tag, "p_expires_at": expires_at}
        await self.transport.call("status_session_open", {**args, "p_now": now})

    async def session_valid(self, id_hash: str, token_tag: str, now: datetime) -> bool:
        args = {"p_id_hash": id_hash, "p_token_tag": token_tag, "p_now": now}
        rows = await self.transport.call("status_session_valid", args)
        return bool(rows and rows[0]["status_session_valid"])

    async def session_revoke(self, id_hash: str, now: datetime) -> None:
        await self.transport.call("status_session_revoke", {"p_id_hash": id_hash, "p_now": now})
