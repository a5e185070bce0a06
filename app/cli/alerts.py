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
from app.cli.support import with_context
from app.db.alerts import Severity
from app.jobs.bootstrap import Context
from app.jobs.guardian import alert_dispatch

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
        lines = []
        for item in listed:
            a = item.alert
            flags = "".join(
                [" acked" if a.acknowledged_at else "", " silenced" if item.silenced else ""]
            )
            lines.append(
                f"{a.code}  {a.severity:<8} {a.status:<8} x{a.count:<4} "
                f"{a.last_seen_at:%Y-%m-%d %H:%M}  {a.key}: {a.title}{flags}"
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
    typer.echo(f"silenced {made.key} until {made.until:%Y-%m-%d %H:%M} UTC")


@alerts_cli.command()
def test(
    severity: str = typer.Option("critical", help="info, warning or critical."),
) -> None:
    """Send a test alert through the configured routes (or the dry-run ones), then its
    RESOLVED notification."""
    if severity not in ("info", "warning", "critical"):
        raise typer.BadParameter("severity must be info, warning or critical")
    level = cast(Severity, severity)

    async def work(ctx: Context) -> str:
        key = f"alerts.test.{ctx.clock.now():%Y%m%dT%H%M%S}"
        alert = await ctx.alerts.raise_alert(key, level, "test alert (nightshift alerts test)")
        sent = await flush_alerts(alert_dispatch(ctx), hold=False)
        await ctx.alerts.resolve_alert(key)
        resolved = await flush_alerts(alert_dispatch(ctx), hold=False)
        return (
            f"{key} ({alert.code}): {sent.enqueued} notification(s) "
            f"{dict(sent.outcomes)}, resolved: {resolved.enqueued} {dict(resolved.outcomes)}"
        )

    typer.echo(with_context(work))
