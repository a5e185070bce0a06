"""What the Modal functions call: plain functions, so modal_deploy.py stays a thin shell.

On Modal each cron tick is one call: open a context from the secret's environment, run the
job once under its lease (an exception re-raises so Modal marks the run failed), close.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from app.core import logs
from app.core.settings import get_settings
from app.jobs.bootstrap import bootstrap
from app.jobs.runner import RunOutcome, run_job


def run_scheduled(job: str, modal_call_id: str | None) -> RunOutcome:
    """Run `job` once; used by every cron function in modal_deploy.py."""
    settings = get_settings()
    logs.configure(settings.log_level, json=True)

    async def main() -> RunOutcome:
        async with bootstrap(settings) as ctx:
            return await run_job(ctx, job, modal_call_id=modal_call_id)

    return asyncio.run(main())


def web_app() -> FastAPI:
    """The ASGI app for Modal's `web` function; its lifespan opens the context."""
    from app.webhooks import create_app

    logs.configure(get_settings().log_level, json=True)
    return create_app()
