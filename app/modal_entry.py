"""What the Modal functions call: plain functions, so modal_deploy.py stays a thin shell.

On Modal each cron tick is one call: open a context from the secret's environment, run the
job once under its lease (an exception re-raises so Modal marks the run failed), close.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from app.core import logs
from app.core.settings import get_settings
from app.jobs.bootstrap import Context, Overrides, bootstrap
from app.jobs.guardian import run_guardian_scheduled
from app.jobs.runner import RunOutcome, run_job
from app.providers.spool import Apply


def run_scheduled(job: str, modal_call_id: str | None) -> RunOutcome:
    """Run `job` once; used by every cron function in modal_deploy.py."""
    settings = get_settings()
    logs.configure(settings.log_level, json=True)

    async def main() -> RunOutcome:
        async with bootstrap(settings, Overrides(ingest=webhook_ingest)) as ctx:
            return await run_job(ctx, job, modal_call_id=modal_call_id)

    return asyncio.run(main())


def run_guardian(modal_call_id: str | None) -> RunOutcome | None:
    """Modal's guardian cron: app/jobs/guardian.py's run (it pages directly when the
    database is down), able to drain the webhook spool like every job."""
    return run_guardian_scheduled(modal_call_id, Overrides(ingest=webhook_ingest))


def webhook_ingest(ctx: Context) -> Apply:
    """The web app's routes for the spool drain (app/jobs/spool.py), imported only when the
    spool holds something: a cron does not load FastAPI otherwise."""
    from app.webhooks import ingest

    return ingest(ctx)


def web_app() -> FastAPI:
    """The ASGI app for Modal's `web` function; its lifespan opens the context."""
    from app.webhooks import create_app

    logs.configure(get_settings().log_level, json=True)
    return create_app()
