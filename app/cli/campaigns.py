"""`nightshift leads ...`, `nightshift campaigns ...` and `nightshift dnc ...` commands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

import phonenumbers
import typer

from app.agents.definition import AgentError, load_agents
from app.campaigns.definition import Campaign, CampaignError, load_campaign_yaml
from app.campaigns.do_not_contact import (
    CHANNEL_OPTIONS,
    CONSENT_OPTIONS,
    DncList,
    do_not_contact,
    import_dnc_list,
    record_consent,
    release_hold,
)
from app.campaigns.import_file import parse_mapping
from app.campaigns.leads_import import ImportReport, import_csv
from app.cli.support import progress_bar, with_context
from app.core.settings import get_settings
from app.db.campaigns import CampaignSaved, CampaignSummary, Resumed
from app.db.consent import Release
from app.db.errors import NotFound
from app.jobs.bootstrap import Context

T = TypeVar("T")

leads_cli = typer.Typer(help="Load and inspect leads.", no_args_is_help=True)
campaigns_cli = typer.Typer(help="Load, list, and resume campaigns.", no_args_is_help=True)
dnc_cli = typer.Typer(help="Do-not-call lists scrubbed at every call claim.", no_args_is_help=True)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # Excel writes a BOM
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"cannot read {path}: {exc}", err=True)
        raise typer.Exit(1) from exc


@leads_cli.command("import")
def import_leads(
    path: Path = typer.Argument(..., help="CSV export (GoHighLevel, HubSpot, Excel, ...)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would be created, merged and rejected; write nothing."
    ),
    country: str = typer.Option(
        "US", "--country", help="Numbers of any other country are rejected (ISO code)."
    ),
    maps: list[str] = typer.Option(
        [], "--map", help="COLUMN=FIELD for a header no alias knows, e.g. 'Best Number=phone'."
    ),
) -> None:
    """Import leads from a CSV export: headers are matched to fields (docs/campaigns.md),
    bad rows are reported by line and column, every merge that differs is reported, the
    rest imported."""
    country = country.upper()
    if country not in phonenumbers.SUPPORTED_REGIONS:
        typer.echo(f"--country {country}: not a country code (two letters, e.g. US)", err=True)
        raise typer.Exit(2)
    try:
        data = path.read_bytes()
        mapping = parse_mapping(maps)
    except OSError as exc:
        typer.echo(f"cannot read {path}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from exc
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc

    async def work(ctx: Context) -> ImportReport:
        with progress_bar("importing", total=data.count(b"\n")) as advance:
            return await import_csv(
                data, ctx.repos.leads, ctx.clock.now(), ctx.repos.outbox,
                country=country, mapping=mapping, dry_run=dry_run, progress=advance,
            )  # fmt: skip

    try:
        report = with_context(work)
    except ValueError as exc:
        typer.echo(f"{path}: {exc}", err=True)
        raise typer.Exit(1) from exc
    for line in report.lines():
        typer.echo(line)
    typer.echo(report.summary())
    if report.imported + report.updated == 0 and report.read > 0 and report.errors:
        raise typer.Exit(1)


@leads_cli.command("dnc")
def dnc(
    address: str = typer.Argument(..., help="The lead's phone (any format) or email."),
    channel: str = typer.Option("all", help="sms, email, calls or all."),
    reason: str = typer.Option("operator", help="Recorded as the suppression's source."),
) -> None:
    """Do not contact this person again on CHANNEL: every lead with this phone or email is
    opted out at once (queued texts and calls included), and the address stays suppressed
    even if it is imported again later."""
    if channel not in CHANNEL_OPTIONS:
        typer.echo(f"--channel must be one of {', '.join(CHANNEL_OPTIONS)}", err=True)
        raise typer.Exit(2)
    channels = CHANNEL_OPTIONS[channel]

    async def work(ctx: Context) -> int:
        return await do_not_contact(ctx.repos.outbox, address, channels, reason, ctx.clock.now())

    matched = _for_address(address, work)
    typer.echo(f"do not contact {address} by {', '.join(channels)}: {matched} lead(s) opted out")


@leads_cli.command("consent")
def consent(
    address: str = typer.Argument(..., help="The lead's phone (any format) or email."),
    channel: str = typer.Option(..., help="sms, email, calls, ai_voice or all."),
    text: str = typer.Option(None, help="The words the person agreed to."),
    url: str = typer.Option(None, help="Where the consent stands (a form, a recording)."),
) -> None:
    """Record consent the person gave you (source: operator, now): `ai_voice` lets
    nightshift's AI assistant call them, `sms` lets campaigns text them."""
    if channel not in CONSENT_OPTIONS:
        typer.echo(f"--channel must be one of {', '.join(CONSENT_OPTIONS)}", err=True)
        raise typer.Exit(2)
    if not (text or url):
        typer.echo("say what they agreed to: --text or --url", err=True)
        raise typer.Exit(2)
    channels = CONSENT_OPTIONS[channel]

    async def work(ctx: Context) -> int:
        return await record_consent(ctx.repos.consent, address, channels, text, url,
                                    ctx.clock.now())  # fmt: skip

    matched = _for_address(address, work)
    _found_or_exit(address, matched)
    typer.echo(f"consent to {', '.join(channels)} recorded for {matched} lead(s)")


@leads_cli.command("release")
def release(
    address: str = typer.Argument(..., help="The held lead's phone (any format) or email."),
    by: str = typer.Option("operator", help="Who decided (recorded with the release)."),
    note: str = typer.Option(None, help="Why: recorded with the release."),
) -> None:
    """Lift a hold after review: the lead's words (shown by `nightshift status`) were not an
    opt-out. Its paused enrollments run again; the release is recorded. When the words WERE
    an opt-out, use `nightshift leads dnc` instead."""

    async def work(ctx: Context) -> list[Release]:
        return await release_hold(ctx.repos.consent, address, by, note, ctx.clock.now())

    released = _for_address(address, work)
    _found_or_exit(address, released)
    for r in released:
        if r.released:
            typer.echo(f"lead #{r.lead_id} released (was held: {r.held_reason}); "
                       f"{r.enrollments} enrollment(s) active again")  # fmt: skip
        else:
            typer.echo(f"lead #{r.lead_id} was not held: nothing to release")


@dnc_cli.command("import")
def dnc_import(
    path: Path = typer.Argument(..., help="The list: one number a line, or a CSV export."),
    source: str = typer.Option(..., help='Where the list comes from, e.g. "FTC registry".'),
    list_date: str = typer.Option(
        None, "--date", help="The list's own date, YYYY-MM-DD (default: today)."
    ),
    scope: str = typer.Option(
        "calls", help="calls (the registry), or calls_texts: campaign and rescue texts too."
    ),
) -> None:
    """Import a do-not-call list (the national registry's download, an internal list): its
    numbers are never called (with --scope calls_texts, never texted for a campaign or a
    rescue either). Lines that hold no US number are listed and skipped."""
    if scope not in ("calls", "calls_texts"):
        typer.echo("--scope must be calls or calls_texts", err=True)
        raise typer.Exit(2)
    text = _read(path)
    try:
        day = date.fromisoformat(list_date) if list_date else date.today()
    except ValueError as exc:
        typer.echo(f"--date {list_date!r}: use YYYY-MM-DD", err=True)
        raise typer.Exit(2) from exc

    async def work(ctx: Context) -> tuple[int, DncList]:
        return await import_dnc_list(
            ctx.repos.outbox, text, source, day, ctx.clock.now(),
            "calls_texts" if scope == "calls_texts" else "calls",
        )  # fmt: skip

    stored, parsed = with_context(work)
    for line, problem in parsed.errors:
        typer.echo(f"line {line}: skipped {problem}")
    typer.echo(
        f"do-not-call list {source!r} of {day} ({scope}): {stored} number(s), "
        f"{len(parsed.errors)} line(s) skipped"
    )
    if not stored and parsed.errors:
        raise typer.Exit(1)


@campaigns_cli.command("load")
def load(path: Path = typer.Argument(..., help="Campaign YAML (see examples/).")) -> None:
    """Create or update a campaign; enrolled leads keep their positions."""
    try:
        campaign = load_campaign_yaml(_read(path))
    except CampaignError as exc:
        typer.echo(f"{path}: invalid campaign\n{exc}", err=True)
        raise typer.Exit(1) from exc
    problem = _unknown_assistant(campaign)
    if problem:
        typer.echo(f"{path}: invalid campaign\n{problem}", err=True)
        raise typer.Exit(1)

    async def work(ctx: Context) -> CampaignSaved:
        return await ctx.repos.campaigns.upsert(campaign.to_row(), ctx.clock.now())

    saved = with_context(work)
    verb = "created" if saved.created else "updated"
    typer.echo(f"{verb} {saved.slug}: {saved.steps} steps, status {saved.status}")


def _unknown_assistant(campaign: Campaign) -> str | None:
    """Why the campaign's `assistant:` names no agent of AGENTS_DIR, or None when it does (or
    names none). Checked here because the campaigns layer may not import the agents layer."""
    if campaign.assistant is None:
        return None
    try:
        known = load_agents(Path(get_settings().agents_dir))
    except AgentError as exc:
        return f"assistant: {campaign.assistant!r} cannot be checked: {exc}"
    if campaign.assistant in known:
        return None
    return f"assistant: no agent {campaign.assistant!r} (known: {', '.join(known) or 'none'})"


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


def _for_address(address: str, work: Callable[[Context], Awaitable[T]]) -> T:
    """Run `work` for the person at ADDRESS; an address that is neither a phone nor an email
    (the domain's ValueError) exits 2 naming it."""
    try:
        return with_context(work)
    except ValueError as exc:
        typer.echo(f"{address}: {exc}", err=True)
        raise typer.Exit(2) from exc


def _found_or_exit(address: str, matched: object) -> None:
    """Exit 1 when no lead has this phone or email (`matched` is a count or a list)."""
    if not matched:
        typer.echo(f"{address}: no lead has this phone or email", err=True)
        raise typer.Exit(1)
