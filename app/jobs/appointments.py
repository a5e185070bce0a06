"""The `appointments` job's entry: what the loop uses, unpacked from the graph (the booking
webhook and the CLI build it here too)."""

from __future__ import annotations

from typing import Any

from app.appointments import loop as appointments_loop
from app.appointments.desk import BookingDesk
from app.appointments.messages import Senders
from app.jobs.bootstrap import Context


def appointment_deps(ctx: Context) -> appointments_loop.AppointmentDeps:
    """What the `appointments` loop uses, from the graph (the entry, the booking webhook and
    the CLI build it here)."""
    providers = ctx.providers
    return appointments_loop.AppointmentDeps(
        repo=ctx.repos.appointments, clock=ctx.clock, settings=ctx.settings,
        delivery=providers.delivery, senders=Senders(providers.email.name, providers.sms.name),
        holder=ctx.holder,
    )  # fmt: skip


async def run(ctx: Context) -> dict[str, Any]:
    return await appointments_loop.run(appointment_deps(ctx))


def booking_desk(ctx: Context) -> BookingDesk:
    """The calendar the AI agents book into (the Vapi booking tools build it here)."""
    s = ctx.settings
    return BookingDesk(
        ctx.repos.webhooks, ctx.clock, s.business_timezone, s.booking_hours, s.appointment_minutes
    )
