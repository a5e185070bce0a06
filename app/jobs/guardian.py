"""The guardian's entry: its collaborators built from the graph, and runs that still page
someone when the database is dead.

- `run(ctx)`: the `guardian` job's body;
- `begin(ctx, run)`: the registry's `begin` (app/jobs/runner.py): the runner's start, timed,
  and the body bound to that round trip as its database probe (no db_ping of its own);
- `guardian_deps(ctx)`: what `guard` takes, unpacked from the graph (with
  `alert_dispatch(ctx)` and `direct_line(ctx)` of app/jobs/alerting.py) (the `guardian` entry, the
  `alerts test` command and the tests build them here, one way);
- `run_job` needs the database before the loop body starts (lease, job_runs), and
  `bootstrap` needs it to open at all. These wrappers catch that and send the critical
  `database.unreachable` straight through the providers:
  - `guardian_tick(ctx)`: for an open graph (`nightshift dev`'s scheduler);
  - `run_guardian_scheduled(modal_call_id)`: for Modal's cron function (modal_deploy.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from app.core import logs
from app.core.settings import Settings, get_settings
from app.db.errors import DatabaseError, DatabaseUnavailable
from app.db.job_runs import RunRequest
from app.guardian.loop import GuardianConfig, GuardianDeps, guard, page_database_down
from app.guardian.watch import Watch
from app.jobs.alerting import alert_dispatch, direct_line
from app.jobs.bootstrap import Context, Overrides, bootstrap, build_graph
from app.jobs.launcher import default_launcher
from app.jobs.registry import JOBS
from app.jobs.runner import Begun, RunOutcome, run_job, start


def guardian_deps(ctx: Context) -> GuardianDeps:
    """What `guard` uses, from the graph."""
    return GuardianDeps(
        watch=Watch(ctx.repos, ctx.clock, ctx.alerts),
        config=GuardianConfig.from_settings(ctx.settings),
        client=ctx.providers.client,
        direct=direct_line(ctx),
        dispatch=alert_dispatch(ctx),
        spool=ctx.spool,
    )


async def run(ctx: Context) -> dict[str, Any]:
    """The `guardian` job's body (the registry points here): one tick, local or Modal
    restarts, every registry job watched."""
    return await guard(guardian_deps(ctx), default_launcher(ctx), JOBS)


async def begin(ctx: Context, run_request: RunRequest) -> Begun:
    """The run's start (`start_job_run`), timed: the database just answered, so the body
    takes that round trip as its database probe (`guard`'s `database_ms`) instead of
    making one more (`db_ping`)."""
    started = time.perf_counter()
    run_start = await start(ctx, run_request)
    ms = int((time.perf_counter() - started) * 1000)

    async def body(ctx: Context) -> dict[str, Any]:
        return await guard(guardian_deps(ctx), default_launcher(ctx), JOBS, database_ms=ms)

    return Begun(run_start, body)


async def guardian_tick(ctx: Context, *, modal_call_id: str | None = None) -> RunOutcome | None:
    """One guardian run; None when the database failed and the page went out directly."""
    try:
        return await run_job(ctx, "guardian", modal_call_id=modal_call_id, reraise=False)
    except DatabaseError as exc:
        await page_database_down(direct_line(ctx), exc)
        return None


class _NoDatabase:
    """A transport for a graph whose database is down: every call fails."""

    name = "unavailable"

    async def call(self, function: str, args: Mapping[str, Any] | None = None) -> list[Any]:
        raise DatabaseUnavailable("database unavailable", function=function)

    async def close(self) -> None:
        return None


async def page_without_context(settings: Settings, exc: BaseException) -> None:
    """The direct page when not even a graph over the database could be built: the
    composition root builds one over `_NoDatabase`, and only its provider ports are used."""
    graph = build_graph(settings, _NoDatabase())
    try:
        await page_database_down(direct_line(graph), exc)
    finally:
        await graph.providers.aclose()


def run_guardian_scheduled(
    modal_call_id: str | None, overrides: Overrides = Overrides()
) -> RunOutcome | None:
    """Modal's guardian cron: one run, or the direct page when the database is down.
    `overrides`: what the edge adds (app.modal_entry: the spool drain's `ingest`)."""
    settings = get_settings()
    logs.configure(settings.log_level, json=True)

    async def main() -> RunOutcome | None:
        try:
            async with bootstrap(settings, overrides) as ctx:
                return await guardian_tick(ctx, modal_call_id=modal_call_id)
        except DatabaseUnavailable as exc:
            await page_without_context(settings, exc)
            return None

    return asyncio.run(main())
