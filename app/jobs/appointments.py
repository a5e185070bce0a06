"""The `appointments` job's entry: what the loop uses, unpacked from the graph (the booking
webhook and the CLI build it here too), and the run's begin (`begin`: its start and the
tick's first read in one round trip)."""

from __future__ import annotations

from typing import Any

from app.appointments import loop as appointments_loop
from app.appointments.calendar import CalendarDesk
from app.appointments.desk import BookingDesk
from app.appointments.messages import Senders
from app.db.job_runs import RunRequest
from app.jobs.bootstrap import Context
from app.jobs.runner import Begun, begun_with
from app.providers.calendar_build import external_calendar


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


async def begin(ctx: Context, run_request: RunRequest) -> Begun:
    """The registry's `begin` (app/jobs/runner.py): the run's start and the tick's first
    read (`next_work`, with the runner's holder) in one round trip, `appointments_begin`;
    the body ticks from that read. When it was not made (skipped, or the read failed) the
    body is the job's own."""
    deps = appointment_deps(ctx)
    start, work = await ctx.repos.appointments.begin(
        run_request, appointments_loop.BATCH, appointments_loop.LEASE_SECONDS
    )
    return begun_with(start, work, lambda made: appointments_loop.run(deps, made))


def booking_desk(ctx: Context) -> CalendarDesk:
    """The calendar the AI agents book into (the Vapi booking tools build it here): the
    native desk, with the external calendar CALENDAR_PROVIDER chooses in front of it."""
    s = ctx.settings
    desk = BookingDesk(
        ctx.repos.webhooks, ctx.clock, s.business_timezone, s.booking_hours, s.appointment_minutes
    )
    calendar = external_calendar(s, ctx.providers.client, ctx.clock)
    return CalendarDesk(desk, calendar, ctx.repos.agents, ctx.alerts)
