"""`nightshift leads ...` and `nightshift campaigns ...` commands."""

from __future__ import annotations

from pathlib import Path

import typer

from app.campaigns.definition import CampaignError, load_campaign_yaml
from app.campaigns.leads_import import ImportReport, import_csv
from app.cli.support import with_context
from app.db.campaigns import CampaignSaved, CampaignSummary, Resumed
from app.db.errors import NotFound
from app.jobs.bootstrap import Context

leads_cli = typer.Typer(help="Load and inspect leads.", no_args_is_help=True)
campaigns_cli = typer.Typer(help="Load, list, and resume campaigns.", no_args_is_help=True)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # Excel writes a BOM
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"cannot read {path}: {exc}", err=True)
        raise typer.Exit(1) from exc


@leads_cli.command("import")
def import_leads(path: Path = typer.Argument(..., help="CSV with name, phone, email, ...")) -> None:
    """Import leads from CSV: bad rows are reported by line and column, the rest imported."""
    text = _read(path)

    async def work(ctx: Context) -> ImportReport:
        return await import_csv(text, ctx.repos.leads, ctx.clock.now())

    try:
        report = with_context(work)
    except ValueError as exc:
        typer.echo(f"{path}: {exc}", err=True)
        raise typer.Exit(1) from exc
    for error in report.errors:
        typer.echo(str(error))
    typer.echo(report.summary())
    if report.imported + report.updated == 0 and report.read > 0 and report.errors:
        raise typer.Exit(1)


@campaigns_cli.command("load")
def load(path: Path = typer.Argument(..., help="Campaign YAML (see examples/).")) -> None:
    """Create or update a campaign; enrolled leads keep their positions."""
    try:
        campaign = load_campaign_yaml(_read(path))
    except CampaignError as exc:
        typer.echo(f"{path}: invalid campaign\n{exc}", err=True)
        raise typer.Exit(1) from exc

    async def work(ctx: Context) -> CampaignSaved:
        return await ctx.repos.campaigns.upsert(campaign.to_row(), ctx.clock.now())

    saved = with_context(work)
    verb = "created" if saved.created else "updated"
    typer.echo(f"{verb} {saved.slug}: {saved.steps} steps, status {saved.status}")


@campaigns_cli.command("list")
def list_campaigns() -> None:
    """Every campaign with its status and active enrollments."""

    async def work(ctx: Context) -> list[CampaignSummary]:
        return await ctx.repos.campaigns.all()

    for c in with_context(work):
        reason = f"  ({c.paused_reason})" if c.paused_reason else ""
        typer.echo(
            f"{c.slug:<24} {c.status:<8} steps={c.steps} active={c.active_enrollments}{reason}"
        )


@campaigns_cli.command("resume")
def resume(slug: str = typer.Argument(..., help="The campaign's slug.")) -> None:
    """Lift a pause (auto-pause is then held off for 7 days unless the rate doubles)."""

    async def work(ctx: Context) -> Resumed:
        return await ctx.repos.manager.resume(slug, ctx.clock.now())

    try:
        resumed = with_context(work)
    except NotFound as exc:
        typer.echo(f"no campaign {slug!r}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"{slug}: {resumed.was} -> {resumed.status}")
