"""The composition root: builds the object graph (settings, clock, database, repositories)
for jobs, the web app and the CLI, choosing real or fake adapters in one place.

Database choice follows settings: DATABASE_URL → PostgresTransport; else SUPABASE_URL +
SUPABASE_SERVICE_ROLE_KEY → SupabaseTransport; else the embedded Postgres (pgserver),
started, migrated, and stopped when the context closes.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import structlog

from app.core.clock import Clock, SystemClock
from app.core.settings import Settings, get_settings
from app.db.embedded import start_embedded
from app.db.migrate import migrate
from app.db.repositories import Repositories
from app.db.transport import PostgresTransport, Transport
from app.providers import Providers, build_providers
from app.providers.delivery import AlertHook

log = structlog.get_logger(__name__)
_warned: set[str] = set()


@dataclass
class Context:
    settings: Settings
    clock: Clock
    transport: Transport
    repos: Repositories
    holder: str
    database_mode: str
    providers: Providers


def warn_dry_run(settings: Settings) -> list[str]:
    """One loud warning per provider (per process) that runs as its dry-run twin."""
    providers = settings.dry_run_providers()
    for provider in providers:
        if provider not in _warned:
            _warned.add(provider)
            log.warning(
                "DRY RUN: provider credentials missing, nothing will really be sent",
                provider=provider,
                needs=settings.provider_requirements()[provider],
            )
    return providers


async def _open_transport(
    settings: Settings, stack: AsyncExitStack, *, run_migrations: bool
) -> Transport:
    mode = settings.database_mode()
    if mode == "supabase":
        from app.db.supabase import SupabaseTransport  # supabase-py: only when used

        assert settings.supabase_url and settings.supabase_service_role_key
        key = settings.supabase_service_role_key.get_secret_value()
        supabase = await SupabaseTransport(settings.supabase_url, key).open()
        stack.push_async_callback(supabase.close)
        return supabase
    if mode == "postgres":
        assert settings.database_url is not None
        dsn = settings.database_url.get_secret_value()
    else:
        server = start_embedded(settings.embedded_pg_dir)
        stack.callback(server.cleanup)
        dsn = server.get_uri()
        run_migrations = True  # the embedded database is always brought up to date
    if run_migrations:
        applied = migrate(dsn)
        if applied:
            log.info("migrations applied", versions=applied)
    postgres = await PostgresTransport(dsn, max_size=settings.db_pool_max_size).open()
    stack.push_async_callback(postgres.close)
    return postgres


@asynccontextmanager
async def open_context(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    transport: Transport | None = None,
    run_migrations: bool = False,
) -> AsyncIterator[Context]:
    """Build the context; everything it opened is closed on exit (embedded server included)."""
    settings = settings or get_settings()
    warn_dry_run(settings)
    async with AsyncExitStack() as stack:
        if transport is None:
            transport = await _open_transport(settings, stack, run_migrations=run_migrations)
        clock = clock or SystemClock()
        repos = Repositories(transport)
        providers = build_providers(settings, repos, clock)
        stack.push_async_callback(providers.aclose)
        context = Context(
            settings=settings,
            clock=clock,
            transport=transport,
            repos=repos,
            holder=f"{socket.gethostname()}:{os.getpid()}",
            database_mode=settings.database_mode(),
            providers=providers,
        )
        providers.delivery.alert = _alert_hook(context)
        yield context


def _alert_hook(context: Context) -> AlertHook:
    """Provider-layer alerts (e.g. a Resend quota) go to the one alert entry point."""

    async def hook(severity: str, title: str, details: dict[str, Any]) -> None:
        from app.alerts import raise_alert

        key = f"provider:{details.get('code') or title}"
        await raise_alert(context, key, severity, title, details)  # type: ignore[arg-type]

    return hook
