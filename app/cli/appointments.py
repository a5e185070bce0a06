"""`nightshift appointments ...` and `nightshift digest`.

Registered in app/cli/main.py with one line each: `cli.add_typer(appointments_cli,
name="appointments")` and `cli.add_typer(digest_cli, name="digest")`. Times given on the
command line are local to BUSINESS_TIMEZONE unless they carry an offset.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import typer

from app.appointments.digest import build_digest, recipients, send_digest
from app.appointments.loop import tick
from app.cli.support import local_time, settings_or_exit, with_context
from app.db.appointments import Appointment, BookingIn
from app.jobs.appointments import appointment_deps
from app.jobs.bootstrap import Context
from app.jobs.growth import version_figures

appointments_cli = typer.Typer(help="Appointments: add, list, complete.", no_args_is_help=True)
digest_cli = typer.Typer(help="The operator's daily digest.", invoke_without_command=True)


def parse_when(text: str, zone: str) -> datetime:
    """`2027-03-04 10:00` (local to `zone`) or any ISO 8601 time with an offset."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"not a date/time: {text!r} (e.g. 2027-03-04T10:00)") from exc
    return at if at.tzinfo else at.replace(tzinfo=ZoneInfo(zone))


def describe(a: Appointment, zone: str) -> str:
    """One line, the start in the business time zone (BUSINESS_TIMEZONE)."""
    return (f"#{a.id} {local_time(a.starts_at, zone)} {a.status} v{a.version} "
            f"{a.lead_name or '-'} {a.phone or a.email or ''}").rstrip()  # fmt: skip


@appointments_cli.command("add")
def add(
    starts: str = typer.Argument(..., help="Start, e.g. 2027-03-04T10:00 (business zone)."),
    phone: str = typer.Option(None, help="Lead's phone, E.164."),
    email: str = typer.Option(None, help="Lead's email."),
    name: str = typer.Option(None, help="Lead's name."),
    minutes: int = typer.Option(None, help="Length (default APPOINTMENT_MINUTES)."),
    notes: str = typer.Option(None, help="Free text."),
) -> None:
    """Book an appointment; its confirmation goes out at once. A start in the past is
    refused (it would count as a no-show at once)."""
    if not phone and not email:
        raise typer.BadParameter("give --phone and/or --email")
    settings = settings_or_exit()
    zone = settings.business_timezone
    at = parse_when(starts, zone)
    length = timedelta(minutes=minutes or settings.appointment_minutes)

    async def work(ctx: Context) -> str:
        if at <= ctx.clock.now():
            return ""
        booking = BookingIn(
            starts_at=at, ends_at=at + length, name=name, phone=phone,
            email=email.lower() if email else None, timezone=settings.business_timezone,
            notes=notes, source="cli", external_id=f"cli:{phone or email}:{at.isoformat()}",
        )  # fmt: skip
        result = await ctx.repos.appointments.upsert(booking, ctx.clock.now())
        if result.appointment is None:
            return f"not booked: {result.outcome}"
        await tick(appointment_deps(ctx))
        return f"{result.outcome}: {describe(result.appointment, zone)}"

    line = with_context(work, sends=True)  # the confirmation goes out now
    if not line:
        typer.echo(f"{local_time(at, zone)} is in the past: give a future start", err=True)
        raise typer.Exit(2)
    typer.echo(line)


@appointments_cli.command("complete")
def complete(appointment_id: int = typer.Argument(..., help="Appointment id.")) -> None:
    """Mark an appointment completed (no no-show follow-up will be sent)."""

    async def work(ctx: Context) -> tuple[str, str]:
        result = await ctx.repos.appointments.complete(appointment_id, ctx.clock.now())
        zone = ctx.settings.business_timezone
        shown = describe(result.appointment, zone) if result.appointment else f"#{appointment_id}"
        return result.outcome, shown

    outcome, shown = with_context(work)
    typer.echo(f"{outcome}: {shown}")
    if outcome != "completed":
        raise typer.Exit(1)


@appointments_cli.command("list")
def list_(days: int = typer.Option(7, help="Days ahead (and 1 day back).")) -> None:
    """Appointments from yesterday to `days` ahead."""

    async def work(ctx: Context) -> list[str]:
        now, zone = ctx.clock.now(), ctx.settings.business_timezone
        found = await ctx.repos.appointments.between(
            now - timedelta(days=1), now + timedelta(days=days)
        )
        return [describe(a, zone) for a in found]

    for line in with_context(work):
        typer.echo(line)


@digest_cli.callback()
def digest(
    preview: bool = typer.Option(False, "--preview", help="Print the digest; send nothing."),
    day: str = typer.Option(None, help="Local day, YYYY-MM-DD (default: yesterday)."),
    as_json: bool = typer.Option(False, "--json", help="The numbers as JSON."),
) -> None:
    """Print (with --preview) or send now the digest of one local day."""

    async def work(ctx: Context) -> str:
        repo, settings = ctx.repos.appointments, ctx.settings
        scoring = ctx.repos.scoring
        built = await build_digest(
            repo, ctx.clock.now(), settings, day, scoring=scoring, versions=version_figures(ctx)
        )
        if as_json:
            return json.dumps(built.numbers, indent=2, default=str)
        if preview:
            return built.text
        ids = await send_digest(
            repo, ctx.providers.delivery, built, email_provider=ctx.providers.email.name,
            to=recipients(settings), now=ctx.clock.now(),
        )  # fmt: skip
        return f"digest of {built.day} queued: {len(ids)} email(s)" if ids else "already sent"

    typer.echo(with_context(work, sends=not (preview or as_json)))
