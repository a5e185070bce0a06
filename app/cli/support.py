"""What every `nightshift` command module shares: run async work inside a context, say what
to fix in one line, show progress.

Contract:
- a configuration error (`SettingsError`), an unreachable database or a database without
  the schema prints ONE line on stderr naming what to fix and exits 2; `nightshift --debug
  ...` re-raises instead, for the traceback (`explain` gives the line);
- while providers run as dry-run twins, one short notice on stderr (not one warning per
  provider);
- `progress_bar` draws a rich progress bar on stderr when it is a terminal (nothing in a
  pipe or a test), so stdout stays the command's report.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.core import logs
from app.core.settings import Settings, SettingsError, get_settings
from app.db.errors import DatabaseError, DatabaseUnavailable, NotFound
from app.jobs.bootstrap import Context, bootstrap, mark_dry_run_noticed

T = TypeVar("T")
_MISSING_SCHEMA = ("42883", "42P01", "PGRST202")  # undefined function / table
options = {"debug": False}  # set by `nightshift --debug` (app/cli/main.py)


def explain(exc: BaseException) -> str | None:
    """The one line a person needs for an error they can fix, or None (a bug: traceback)."""
    if isinstance(exc, SettingsError):
        lines = [line.strip().rstrip(".") for line in str(exc).splitlines() if line.strip()]
        return "configuration: " + "; ".join(lines)
    if isinstance(exc, DatabaseUnavailable):
        return (
            f"cannot reach the database ({exc}): check DATABASE_URL (or SUPABASE_URL and "
            "SUPABASE_SERVICE_ROLE_KEY) and that the server is up"
        )
    if isinstance(exc, NotFound) and exc.code in _MISSING_SCHEMA:
        return (
            f"the database has no {exc.function or 'function'} ({exc.code}): apply the "
            "migrations (`nightshift migrate`, or `supabase db push` for Supabase)"
        )
    return None


def fail(exc: BaseException) -> None:
    """Exit 2 with the one-line explanation of `exc`, or re-raise it (--debug, or a bug)."""
    line = explain(exc)
    if line is None or options["debug"]:
        raise exc
    typer.echo(f"error: {line} (--debug for the traceback)", err=True)
    raise typer.Exit(2) from exc


def dry_run_notice(settings: Settings, *, echo: bool = True) -> None:
    """One short line while providers have no credentials (instead of a warning each);
    `echo=False`: the command prints its own (`nightshift status`'s banner), none here."""
    dry = settings.dry_run_providers()
    if dry:
        mark_dry_run_noticed(dry)
        if not echo:
            return
        typer.echo(
            f"DRY RUN: no credentials for {', '.join(dry)}: nothing is really sent "
            "(docs/configuration.md)",
            err=True,
        )


def quiet_warnings() -> None:
    """pgserver's platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI): not
    the user's concern."""
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")


def with_context(
    work: Callable[[Context], Awaitable[T]], *, migrate: bool = False, sends: bool = False,
    notice: bool = True,
) -> T:  # fmt: skip
    """Configure logging, open the context (starting the embedded Postgres if needed),
    run `work`, close everything. Errors a person can fix exit 2 with one line (module
    contract). `sends`: `work` runs jobs (see `bootstrap`: a dry run nobody asked for is
    refused). `notice=False`: the command prints the DRY RUN notice itself."""
    settings = settings_or_exit()  # names variables, never values (app/core/settings.py)
    # a one-shot command's report is its output: its INFO lines (embedded server started,
    # migrations applied) are noise; jobs (`sends`) keep the configured level
    quiet = not sends and settings.log_level.upper() == "INFO" and not options["debug"]
    logs.configure("WARNING" if quiet else settings.log_level)
    if not options["debug"]:  # psycopg_pool logs every failed attempt; the error says it once
        logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    dry_run_notice(settings, echo=notice)

    async def main() -> T:
        async with bootstrap(settings, run_migrations=migrate, sends=sends) as ctx:
            return await work(ctx)

    try:
        return asyncio.run(main())
    except (SettingsError, DatabaseError) as exc:
        fail(exc)
        raise  # unreachable


def local_time(at: datetime | str | None, zone: str) -> str:
    """An instant as the business reads it: `2026-12-07 09:30 CST` in BUSINESS_TIMEZONE
    (an ISO string is parsed first; a naive time is taken as UTC; None → "-")."""
    if at is None:
        return "-"
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def settings_or_exit() -> Settings:
    """The settings, or the one-line configuration error (exit 2)."""
    try:
        return get_settings()
    except SettingsError as exc:
        fail(exc)
        raise  # unreachable


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr; yields `advance(done)` (done: items so far)."""
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(
        *columns, TimeElapsedColumn(), console=console, transient=True,
        disable=not console.is_terminal,
    ) as bar:  # fmt: skip
        task = bar.add_task(description, total=total)

        def advance(done: int) -> None:
            bar.update(task, completed=done)

        yield advance
