"""`nightshift alerts ...`: list, acknowledge, silence and test the on-call alerts.

Registered in app/cli/main.py as `cli.add_typer(alerts_cli, name="alerts")`.
"""

from __future__ import annotations

import getpass
import re
from datetime import timedelta
from typing import cast

import typer

from app.alerts import flush_alerts
from app.cli.support import local_time, settings_or_exit, with_context
from app.core.settings import Settings
from app.db.alerts import Severity
from app.jobs.alerting import alert_dispatch
from app.jobs.bootstrap import Context

alerts_cli = typer.Typer(help="On-call alerts: list, ack, silence, test.", no_args_is_help=True)
_DURATION = re.compile(r"(\d+)\s*([dhms])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str) -> timedelta:
    """`2h`, `30m`, `1h30m`, `1d`, `90s` → timedelta; BadParameter otherwise."""
    compact = text.replace(" ", "").lower()
    parts = _DURATION.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise typer.BadParameter(f"not a duration: {text!r} (use e.g. 2h, 30m, 1h30m, 1d)")
    delta = timedelta()
    for number, unit in parts:
        delta += timedelta(**{_UNITS[unit]: int(number)})
    return delta


@alerts_cli.command("list")
def list_(all_: bool = typer.Option(False, "--all", help="Include resolved alerts.")) -> None:
    """Firing alerts (and recent resolved ones with --all), newest first."""

    async def work(ctx: Context) -> list[str]:
        listed = await ctx.repos.alerts.list_alerts(ctx.clock.now(), include_resolved=all_)
        zone = ctx.settings.business_timezone
        lines = []
        for item in listed:
            a = item.alert
            flags = "".join(
                [" acked" if a.acknowledged_at else "", " silenced" if item.silenced else ""]
            )
            lines.append(
                f"{a.code}  {a.severity:<8} {a.status:<8} x{a.count:<4} "
                f"{local_time(a.last_seen_at, zone)}  {a.key}: {a.title}{flags}"
            )
        return lines

    lines = with_context(work)
    typer.echo("\n".join(lines) if lines else "no alerts")


@alerts_cli.command()
def ack(
    code: str = typer.Argument(..., help="The alert's code, as in the SMS (ACK <code>)."),
    by: str = typer.Option(None, help="Who acknowledges (default: the local user)."),
) -> None:
    """Acknowledge a firing alert: its repeats and escalation stop."""
    who = by or getpass.getuser()
    alert = with_context(lambda ctx: ctx.alerts.acknowledge(code, who))
    if alert is None:
        typer.echo(f"no firing alert with code {code.upper()}", err=True)
        raise typer.Exit(1)
    typer.echo(f"acknowledged {alert.code}: {alert.key}")


@alerts_cli.command("silence")
def silence_(
    key: str = typer.Argument(..., help="Alert key, or a prefix ending in * (job.drip.*)."),
    for_: str = typer.Option("2h", "--for", help="How long: 2h, 30m, 1d."),
    reason: str = typer.Option(None, help="Why (maintenance window, ...)."),
) -> None:
    """Silence an alert key: still recorded, not sent, until the silence ends."""
    duration = parse_duration(for_)
    made = with_context(lambda ctx: ctx.alerts.silence(key, duration, reason))
    zone = settings_or_exit().business_timezone
    typer.echo(f"silenced {made.key} until {local_time(made.until, zone)}")


@alerts_cli.command()
def test(
    severity: str = typer.Option("critical", help="info, warning or critical."),
) -> None:
    """Send a test alert through the configured routes, then its RESOLVED notification.
    Exits 1 when no on-call recipient is configured; with providers in dry run it says
    what it would send (nothing is sent)."""
    if severity not in ("info", "warning", "critical"):
        raise typer.BadParameter("severity must be info, warning or critical")
    if severity == "info":
        typer.echo("info alerts are recorded, never sent: test warning or critical", err=True)
        raise typer.Exit(1)
    level = cast(Severity, severity)

    async def work(ctx: Context) -> str:
        targets = recipients(ctx.settings, level)
        if not targets:
            return ""
        key = f"alerts.test.{ctx.clock.now():%Y%m%dT%H%M%S}"
        alert = await ctx.alerts.raise_alert(key, level, "test alert (nightshift alerts test)")
        sent = await flush_alerts(alert_dispatch(ctx), hold=False)
        await ctx.alerts.resolve_alert(key)
        resolved = await flush_alerts(alert_dispatch(ctx), hold=False)
        dry = sorted({p for p in ctx.settings.dry_run_providers() if p in ("twilio", "resend")})
        to = ", ".join(targets)
        if dry:
            return (
                f"DRY RUN ({', '.join(dry)} without credentials): would send {key} "
                f"({alert.code}) to {to}, then its RESOLVED notice; nothing was sent"
            )
        failed = sum(n for k, n in (sent.outcomes + resolved.outcomes).items() if k != "sent")
        verdict = f", {failed} not delivered: see `nightshift alerts list`" if failed else ""
        return (
            f"sent {key} ({alert.code}) to {to}: {sent.enqueued} notification(s), "
            f"resolved: {resolved.enqueued}{verdict}"
        )

    line = with_context(work)
    if not line:
        typer.echo(
            f"no on-call recipient for {severity} alerts: set ONCALL_PHONES (sms) and/or "
            "ONCALL_EMAILS (email) and ALERT_ROUTES_* (docs/runbook.md)",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(line)


def recipients(settings: Settings, severity: Severity) -> list[str]:
    """Who a `severity` alert reaches: the routes' channels times the on-call lists."""
    if severity == "info":
        return []  # recorded, never sent (docs/runbook.md)
    routes = (
        settings.alert_routes_critical
        if severity == "critical"
        else (settings.alert_routes_warning)
    )
    phones = settings.oncall_phones if "sms" in routes else []
    return [*phones, *(settings.oncall_emails if "email" in routes else [])]
