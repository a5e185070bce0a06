"""The composition root: `bootstrap(settings, overrides)` builds the object graph once.

Contract:
- the database follows settings: DATABASE_URL → PostgresTransport; else SUPABASE_URL +
  SUPABASE_SERVICE_ROLE_KEY → SupabaseTransport; else the embedded Postgres (pgserver),
  started, migrated, and stopped when the graph closes;
- tests, dry runs and the simulator replace parts through `Overrides` (clock, transport,
  provider ports, random generator, sleep); nothing patches a graph after it is built, and
  no library's global state is touched;
- the graph is for the composition's users only (the jobs' entries, the web app, the CLI):
  each job entry and handler hands a domain function the few collaborators it names.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import structlog

from app.agents.versions import VersionDeps, call_assistant
from app.alerts import Alerts
from app.alerts.policy import AlertPolicy
from app.core.clock import Clock, SystemClock
from app.core.settings import Settings, SettingsError, get_settings
from app.db.embedded import start_embedded
from app.db.migrate import migrate
from app.db.repositories import Repositories
from app.db.transport import PostgresTransport, Transport
from app.providers import Providers, build_providers
from app.providers.build import Ports
from app.providers.delivery import AlertHook
from app.providers.retry import Sleep
from app.providers.spool import Apply, Spool
from app.providers.spool_store import build_spool

if TYPE_CHECKING:  # numpy costs the web function's cold start ~0.2 s; only jobs draw
    import numpy as np

    from app.scoring.call_order import CallRanker

log = structlog.get_logger(__name__)
_warned: set[str] = set()


@dataclass(frozen=True)
class Overrides:
    """What a test, a dry run or the simulator replaces; None keeps what settings choose."""

    clock: Clock | None = None
    transport: Transport | None = None
    ports: Ports | None = None
    rng: np.random.Generator | None = None
    sleep: Sleep | None = None
    holder: str | None = None
    spool: Spool | None = None
    ingest: Ingest | None = None
    call_ranker: CallRanker | None = None  # the simulator's oracle order of the call queue


@dataclass(frozen=True)
class Context:
    """The built graph. Only the jobs' entries, the web app and the CLI hold it."""

    settings: Settings
    clock: Clock
    transport: Transport
    repos: Repositories
    holder: str
    providers: Providers
    alerts: Alerts
    rng_factory: Callable[[], np.random.Generator]
    # The webhook spool (app/providers/spool.py) and, when the caller hosts the web app's
    # routes, how to apply a spooled request through them (app.webhooks.drain.ingest; the
    # edges pass it: the jobs layer cannot import the web app). See app/jobs/spool.py.
    spool: Spool | None = None
    ingest: Ingest | None = None
    # replaces the per-call model's order of the call queue (the simulator's oracle)
    call_ranker: CallRanker | None = None

    @cached_property
    def rng(self) -> np.random.Generator:
        """The one random generator of this graph, made on first use (the web app never
        draws, so it never loads numpy)."""
        return self.rng_factory()


# Builds, for a graph, what applies one spooled request (app.webhooks.drain.ingest).
Ingest = Callable[["Context"], Apply]


def mark_dry_run_noticed(providers: list[str]) -> None:
    """The caller told its user about these dry providers already (the CLI's one-line
    notice): `warn_dry_run` does not log them again in this process."""
    _warned.update(providers)


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
    settings: Settings, stack: AsyncExitStack, *, run_migrations: bool, wait: bool = True
) -> Transport:
    mode = settings.database_mode()
    if mode == "supabase":
        from app.db.supabase import SupabaseTransport  # supabase-py: heavy, only when used

        # the web app (which starts without waiting) bounds every call, jobs the way in
        supabase = await SupabaseTransport.from_settings(settings, web=not wait).open()
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
    postgres = await PostgresTransport(
        dsn, max_size=settings.db_pool_max_size,
        acquire_timeout=settings.db_acquire_timeout_seconds,
        connect_timeout=settings.db_connect_timeout_seconds,
    ).open(wait=wait)  # fmt: skip
    stack.push_async_callback(postgres.close)
    return postgres


def alert_hook(alerts: Alerts) -> AlertHook:
    """Provider-layer alerts (e.g. a Resend quota) go to the one alert entry point."""

    async def hook(severity: str, title: str, details: dict[str, Any]) -> None:
        key = f"provider:{details.get('code') or title}"
        await alerts.raise_alert(key, severity, title, details)  # type: ignore[arg-type]

    return hook


def _rng_factory(given: np.random.Generator | None) -> Callable[[], np.random.Generator]:
    def fresh() -> np.random.Generator:
        if given is not None:
            return given
        import numpy as np  # lazily: see the TYPE_CHECKING import

        return np.random.default_rng()

    return fresh


def build_graph(
    settings: Settings, transport: Transport, overrides: Overrides = Overrides()
) -> Context:
    """The graph over an open transport; the caller closes `providers` (see `bootstrap`)."""
    clock = overrides.clock or SystemClock()
    repos = Repositories(transport)
    alerts = Alerts(repos.alerts, clock, AlertPolicy.from_settings(settings))
    rng_factory = _rng_factory(overrides.rng)
    # each call's assistant: the campaign agent's current version, or its candidate's by
    # the version trial's draw (app.agents.versions), recorded on the call's row
    assistants = call_assistant(VersionDeps(repos.agents, rng_factory, clock))
    providers = build_providers(
        settings, repos, clock, sleep=overrides.sleep or asyncio.sleep,
        alert=alert_hook(alerts), ports=overrides.ports, assistants=assistants,
    )  # fmt: skip
    return Context(
        settings=settings,
        clock=clock,
        transport=transport,
        repos=repos,
        holder=overrides.holder or f"{socket.gethostname()}:{os.getpid()}",
        providers=providers,
        alerts=alerts,
        rng_factory=rng_factory,
        spool=overrides.spool or build_spool(settings),
        ingest=overrides.ingest,
        call_ranker=overrides.call_ranker,
    )


@asynccontextmanager
async def bootstrap(
    settings: Settings | None = None,
    overrides: Overrides = Overrides(),
    *,
    run_migrations: bool = False,
    sends: bool = True,
    wait_for_database: bool = True,
) -> AsyncIterator[Context]:
    """Build the graph; everything it opened is closed on exit (embedded server included).
    `sends`: the graph runs jobs or the web app (the CLI's read and import commands pass
    False); then a dry run nobody asked for against a configured database is refused
    (`Settings.dry_run_refusal`, a SettingsError naming NIGHTSHIFT_DRY_RUN) before anything
    is opened. Replaced provider ports (the simulator, tests) are not dry runs.
    `wait_for_database=False` (the web app) opens the pool without waiting for a first
    connection, so the app starts, and spools webhooks, while the database is down."""
    settings = settings or get_settings()
    refusal = settings.dry_run_refusal() if sends and overrides.ports is None else None
    if refusal:
        raise SettingsError(f"refusing to start: {refusal}")
    warn_dry_run(settings)
    async with AsyncExitStack() as stack:
        transport = overrides.transport or await _open_transport(
            settings, stack, run_migrations=run_migrations, wait=wait_for_database
        )
        graph = build_graph(settings, transport, overrides)
        stack.push_async_callback(graph.providers.aclose)
        yield graph
