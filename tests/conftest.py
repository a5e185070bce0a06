"""Test fixtures: a real Postgres, migrated once into a template, one fresh copy per test.

Postgres is TEST_DATABASE_URL when set, else an embedded server (pgserver) started once per
session in a temporary directory. `CREATE DATABASE ... TEMPLATE` copies the migrated schema
in milliseconds, so every test gets its own clean database (procrastinate's approach).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg import conninfo, sql

from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.migrate import migrate
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context, Overrides, bootstrap
from app.providers.spool import DirectorySpool
from tests.spooled import MakeGraph, graphs

TEMPLATE = "nightshift_test_template"
START = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    """DSN of a database on the server we may create databases on."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    from app.db.embedded import start_embedded

    # Not under pytest's basetemp: pytest prunes old basetemp folders, which would pull the
    # data directory from under a server another (concurrent) test run still uses.
    data_dir = tempfile.mkdtemp(prefix="nightshift-test-pg-")
    server = start_embedded(data_dir)
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


def _admin(dsn: str, statement: sql.Composable) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement)


def dsn_for(base: str, dbname: str) -> str:
    return conninfo.make_conninfo(base, dbname=dbname)


@pytest.fixture(scope="session")
def template_dsn(pg_admin_dsn: str) -> str:
    """A template database with every migration applied, built once per session."""
    _admin(pg_admin_dsn, sql.SQL("drop database if exists {}").format(sql.Identifier(TEMPLATE)))
    _admin(pg_admin_dsn, sql.SQL("create database {}").format(sql.Identifier(TEMPLATE)))
    dsn = dsn_for(pg_admin_dsn, TEMPLATE)
    migrate(dsn)
    return dsn


@pytest.fixture
def fresh_dsn(pg_admin_dsn: str) -> Iterator[str]:
    """An empty database (no migrations) for migration tests."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    _admin(pg_admin_dsn, sql.SQL("create database {}").format(sql.Identifier(name)))
    yield dsn_for(pg_admin_dsn, name)
    _admin(pg_admin_dsn, sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


@pytest.fixture
def database_dsn(pg_admin_dsn: str, template_dsn: str) -> Iterator[str]:
    """A fresh, fully migrated database for one test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    _admin(
        pg_admin_dsn,
        sql.SQL("create database {} template {}").format(
            sql.Identifier(name), sql.Identifier(TEMPLATE)
        ),
    )
    yield dsn_for(pg_admin_dsn, name)
    _admin(pg_admin_dsn, sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


@pytest.fixture
async def transport(database_dsn: str) -> AsyncIterator[PostgresTransport]:
    pg = await PostgresTransport(database_dsn, max_size=4).open()
    yield pg
    await pg.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def make_settings(**values: Any) -> Settings:
    """Settings from the given values only: no .env file, no developer environment leaks."""
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings() -> Settings:
    return make_settings(nightshift_env="development")


@pytest.fixture
async def ctx(
    settings: Settings, clock: ManualClock, transport: PostgresTransport, tmp_path: Any
) -> AsyncIterator[Context]:
    # the webhook spool in the test's own directory, never the checkout's .nightshift/
    spool = DirectorySpool(tmp_path / "spool")
    overrides = Overrides(clock=clock, transport=transport, spool=spool)
    async with bootstrap(settings, overrides) as context:
        yield context


Rebuild = Callable[..., Awaitable[Context]]


@pytest.fixture
async def graph(ctx: Context) -> AsyncIterator[MakeGraph]:
    """`await graph(transport)`: a job's graph over `transport` that drains the spool through
    the web app's routes, Twilio's signing token set (tests/spooled.py)."""
    async with graphs(ctx) as make:
        yield make


@pytest.fixture
async def rebuild(ctx: Context) -> AsyncIterator[Rebuild]:
    """`await rebuild(**values)` (or `rebuild(settings)`): a new graph on the same database
    and clock with other settings, as a redeploy with them would build it (the built graph
    is never patched)."""
    async with AsyncExitStack() as stack:

        async def make(settings: Settings | None = None, **values: Any) -> Context:
            new = settings or ctx.settings.model_copy(update=values)
            overrides = Overrides(
                clock=ctx.clock, transport=ctx.transport, rng=ctx.rng, spool=ctx.spool
            )
            return await stack.enter_async_context(bootstrap(new, overrides))

        yield make
