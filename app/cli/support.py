"""What every `nightshift` command module shares: run async work inside a context."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer

from app.core import logs
from app.core.settings import SettingsError, get_settings
from app.jobs.bootstrap import Context, bootstrap

T = TypeVar("T")


def with_context(
    work: Callable[[Context], Awaitable[T]], *, migrate: bool = False, sends: bool = False
) -> T:
    """Configure logging, open the context (starting the embedded Postgres if needed),
    run `work`, close everything. A configuration error exits 2 with its message. `sends`:
    `work` runs jobs (see `bootstrap`: a dry run nobody asked for is refused)."""
    try:
        settings = get_settings()
    except SettingsError as exc:  # names variables, never values (app/core/settings.py)
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    logs.configure(settings.log_level)

    async def main() -> T:
        async with bootstrap(settings, run_migrations=migrate, sends=sends) as ctx:
            return await work(ctx)

    try:
        return asyncio.run(main())
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
