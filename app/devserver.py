"""The local runner behind `nightshift dev`: every registry job on its cron schedule,
in-process, beside the web app on 127.0.0.1 — the same jobs and app Modal runs."""

from __future__ import annotations

import asyncio
import dataclasses
import signal

import structlog
import uvicorn

from app.jobs import JOBS
from app.jobs.bootstrap import Context
from app.jobs.guardian import guardian_tick
from app.jobs.registry import next_fire
from app.jobs.runner import RunOutcome, run_job
from app.webhooks import create_app, ingest

log = structlog.get_logger(__name__)


def with_ingest(ctx: Context) -> Context:
    """The graph whose jobs drain the webhook spool through this process's web routes (the
    same graph otherwise: a copy of the frozen dataclass, nothing patched)."""
    return ctx if ctx.ingest is not None else dataclasses.replace(ctx, ingest=ingest)


async def run_all_once(ctx: Context) -> list[RunOutcome]:
    """Run every registry job once, in registry order; failures are recorded, not raised."""
    ctx = with_ingest(ctx)
    return [await run_job(ctx, job.name, reraise=False) for job in JOBS]


async def _tick(ctx: Context, name: str) -> RunOutcome | None:
    if name == "guardian":  # pages on-call directly when the database is down
        return await guardian_tick(ctx)
    return await run_job(ctx, name, reraise=False)


async def schedule_forever(ctx: Context) -> None:
    """Fire each job at its cron times; a slow job never delays the others."""
    pending: set[asyncio.Task[RunOutcome | None]] = set()
    due = {job.name: next_fire(job, ctx.clock.now()) for job in JOBS}
    while True:
        name = min(due, key=lambda n: due[n])
        delay = (due[name] - ctx.clock.now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(_tick(ctx, name))
        pending.add(task)
        task.add_done_callback(pending.discard)
        due[name] = next_fire(next(j for j in JOBS if j.name == name), due[name])


def _exit_on_sigterm(signum: int, frame: object) -> None:
    # uvicorn re-raises the signal it caught once it has shut down; raising SystemExit here
    # (instead of dying) lets the context close, so the embedded Postgres is stopped too.
    raise SystemExit(0)


async def serve(ctx: Context, host: str, port: int) -> None:
    """The web app and the scheduler until Ctrl-C or SIGTERM; then everything is closed."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    server = uvicorn.Server(
        uvicorn.Config(create_app(ctx), host=host, port=port, log_level="warning")
    )
    scheduler = asyncio.create_task(schedule_forever(with_ingest(ctx)))
    log.info("nightshift dev is up", url=f"http://{host}:{port}/healthz")
    try:
        await server.serve()
    finally:
        scheduler.cancel()
