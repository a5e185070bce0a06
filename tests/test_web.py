"""GET /healthz: database reachable and the last run of each job; 503 when the database is down."""

from __future__ import annotations

from datetime import timedelta

import httpx
import psycopg
from psycopg import conninfo, sql

from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.transport import PostgresTransport
from app.jobs import JOBS
from app.jobs.bootstrap import Context, Overrides, bootstrap
from app.jobs.runner import run_job
from app.webhooks import create_app


async def _get(ctx: Context, path: str) -> httpx.Response:
    app = create_app(ctx)
    async with app.router.lifespan_context(app):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        async with client:
            return await client.get(path)


async def test_healthz_reports_database_and_jobs(ctx: Context, clock: ManualClock) -> None:
    await run_job(ctx, "drip")
    response = await _get(ctx, "/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == {"ok": True, "mode": "embedded"}
    assert set(body["jobs"]) == {job.name for job in JOBS}
    assert body["jobs"]["drip"]["status"] == "succeeded"
    assert body["jobs"]["drip"]["late"] is False
    assert body["jobs"]["guardian"] == {"status": "never_run", "late": False}

    clock.advance(timedelta(minutes=11))  # drip: period 5 min + grace 5 min
    assert (await _get(ctx, "/healthz")).json()["jobs"]["drip"]["late"] is True


async def test_healthz_is_503_when_the_database_goes_away(
    settings: Settings, clock: ManualClock, pg_admin_dsn: str, fresh_dsn: str
) -> None:
    pg = await PostgresTransport(fresh_dsn, max_size=1, acquire_timeout=1).open()
    dbname = conninfo.conninfo_to_dict(fresh_dsn)["dbname"]
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:  # the server loses it
        admin.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(dbname)))
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
    async with bootstrap(settings, Overrides(clock=clock, transport=pg)) as ctx:
        response = await _get(ctx, "/healthz")
    await pg.close()
    assert response.status_code == 503
    assert response.json() == {
        "status": "down",
        "database": {"ok": False, "error": "DatabaseUnavailable"},
    }
