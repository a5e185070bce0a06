"""`nightshift`: the command line (typer). Every command has --help."""

from __future__ import annotations

import sys
from typing import Any, TypeVar

import typer

from app import devserver
from app.cli import demo as demo_data
from app.cli import support
from app.cli.agents import agents_cli
from app.cli.alerts import alerts_cli
from app.cli.appointments import appointments_cli, digest_cli
from app.cli.campaigns import campaigns_cli, dnc_cli, leads_cli
from app.cli.db import db_cli
from app.cli.scoring import export_cli, insights_cli, scoring_status_lines
from app.cli.simulate import simulate as simulate_command
from app.cli.status import print_sections, snapshot_json
from app.cli.support import with_context
from app.cli.webhooks import webhooks_cli
from app.core.settings import SettingsError
from app.db.embedded import start_embedded
from app.db.errors import DatabaseError
from app.db.migrate import migrate as apply
from app.jobs import JOBS_BY_NAME
from app.jobs.bootstrap import Context
from app.jobs.runner import run_job
from app.status.data import collect

T = TypeVar("T")

cli = typer.Typer(
    help="nightshift: the always-on back office of outbound sales (drip, calls, guardian).",
    no_args_is_help=True,
    add_completion=False,
)
cli.add_typer(leads_cli, name="leads")
cli.add_typer(campaigns_cli, name="campaigns")
cli.add_typer(dnc_cli, name="dnc")
cli.add_typer(alerts_cli, name="alerts")
cli.add_typer(appointments_cli, name="appointments")
cli.add_typer(digest_cli, name="digest")
cli.add_typer(insights_cli, name="insights")
cli.add_typer(export_cli, name="export")
cli.add_typer(db_cli, name="db")
cli.add_typer(agents_cli, name="agents")
cli.add_typer(webhooks_cli, name="webhooks")
cli.command("simulate")(simulate_command)


@cli.callback()
def _global_options(
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback of an error."),
) -> None:
    """nightshift: the always-on back office of outbound sales (drip, calls, guardian)."""
    support.options["debug"] = debug


@cli.command()
def dev(
    once: bool = typer.Option(False, "--once", help="Run every job once, print a line each, exit."),
    demo: bool = typer.Option(True, "--demo/--no-demo", help="Load the demo leads first."),
    port: int = typer.Option(8000, help="Port of the local web app."),
    host: str = typer.Option("127.0.0.1", help="Interface of the local web app."),
) -> None:
    """Run the whole suite locally: database (embedded unless configured), migrations,
    demo data, every job on its schedule and the web app."""

    async def work(ctx: Context) -> bool:
        if demo:
            for line in await demo_data.seed_demo(ctx):
                typer.echo(line)
        if once:
            outcomes = await devserver.run_all_once(ctx)
            for outcome in outcomes:
                typer.echo(outcome.summary())
            return all(o.status == "succeeded" for o in outcomes)
        await devserver.serve(ctx, host, port)
        return True

    if not with_context(work, migrate=True, sends=True):
        raise typer.Exit(1)


@cli.command()
def migrate() -> None:
    """Apply pending migrations (supabase/migrations) in order; a no-op when up to date."""

    settings = support.settings_or_exit()
    mode = settings.database_mode()
    if mode == "supabase":
        typer.echo(
            "migrate needs a direct Postgres connection: set DATABASE_URL (Supabase: the "
            "project's connection string) or run `supabase db push`.",
            err=True,
        )
        raise typer.Exit(2)
    server = None
    if mode == "embedded":
        server = start_embedded(settings.embedded_pg_dir)
        dsn = server.get_uri()
    else:
        assert settings.database_url is not None
        dsn = settings.database_url.get_secret_value()
    try:
        applied = apply(dsn)
    except DatabaseError as exc:  # unreachable server or a failing migration: one line
        if support.options["debug"]:
            raise
        typer.echo(f"error: {exc} (--debug for the traceback)", err=True)
        raise typer.Exit(2) from exc
    finally:
        if server is not None:
            server.cleanup()
    typer.echo(f"applied: {', '.join(applied)}" if applied else "up to date: nothing to apply")


@cli.command()
def run(job: str = typer.Argument(..., help="Job name from the registry, e.g. drip.")) -> None:
    """Run one job once now, under its lease, and print its summary line."""

    if job not in JOBS_BY_NAME:
        typer.echo(f"unknown job {job!r}; known: {', '.join(JOBS_BY_NAME)}", err=True)
        raise typer.Exit(2)
    outcome = with_context(lambda ctx: run_job(ctx, job, reraise=False), sends=True)
    typer.echo(outcome.summary())
    if outcome.status == "failed":
        raise typer.Exit(1)


@cli.command()
def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Jobs, open alerts, funnel, calls, deliverability, API health, model, appointments,
    and the call queue's top leads with their scoring reasons."""

    async def work(ctx: Context) -> dict[str, Any]:
        snap = await collect(ctx)
        # the call order with each lead's top reasons (the scoring model's "why")
        return {**snap, "call_queue": await scoring_status_lines(ctx)}

    snap = with_context(work, notice=False)  # the snapshot's DRY RUN banner says it once
    if as_json:
        typer.echo(snapshot_json(snap))
        return
    print_sections(snap, zone=support.settings_or_exit().business_timezone)
    typer.echo("Call queue (hottest first, with reasons):")
    for line in snap["call_queue"]:
        typer.echo(f"  {line}")


def main() -> None:
    """Console-script entry point."""
    support.quiet_warnings()
    try:
        cli()
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)
    except (SettingsError, DatabaseError) as exc:  # commands outside with_context (migrate)
        try:
            support.fail(exc)
        except typer.Exit as done:
            sys.exit(done.exit_code)


if __name__ == "__main__":
    main()
