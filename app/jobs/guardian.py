"""Running the guardian so that a dead database still pages someone.

`run_job` needs the database before the loop body starts (lease, job_runs), and
`open_context` needs it to open at all. These wrappers catch that and send the critical
`database.unreachable` straight through the providers:
- `guardian_tick(ctx)`: for an open context (`nightshift dev`'s scheduler);
- `run_guardian_scheduled(modal_call_id)`: for Modal's cron function (replaces
  `run_scheduled("guardian", ...)` in app/modal_entry.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from app.core import logs
from app.core.clock import SystemClock
from app.core.settings import Settings, get_settings
from app.db.errors import DatabaseError, DatabaseUnavailable
from app.db.repositories import Repositories
from app.guardian.loop import page_database_down
from app.jobs.bootstrap import Context, bootstrap
from app.jobs.runner import RunOutcome, run_job
from app.providers import build_providers


async def guardian_tick(ctx: Context, *, modal_call_id: str | None = None) -> RunOutcome | None:
    """One guardian run; None when the database failed and the page went out directly."""
    try:
        return await run_job(ctx, "guardian", modal_call_id=modal_call_id, reraise=False)
    except DatabaseError as exc:
        await page_database_down(ctx, exc)
        return None


class _NoDatabase:
    """A transport for a context whose database is down: every call fails."""

    name = "unavailable"

    async def call(self, function: str, args: Mapping[str, Any] | None = None) -> list[Any]:
        raise DatabaseUnavailable("database unavailable", function=function)

    async def close(self) -> None:
        return None


async def page_without_context(settings: Settings, exc: BaseException) -> None:
    """The direct page when not even a context could be opened."""
    clock = SystemClock()
    transport = _NoDatabase()
    repos = Repositories(transport)
    providers = build_providers(settings, repos, clock)
    ctx = Context(settings, clock, transport, repos, "guardian", "unavailable", providers)
    try:
        await page_database_down(ctx, exc)
    finally:
        await providers.aclose()


def run_guardian_scheduled(modal_call_id: str | None) -> RunOutcome | None:
    """Modal's guardian cron: one run, or the direct page when the database is down."""
    settings = get_settings()
    logs.configure(settings.log_level, json=True)

    async def main() -> RunOutcome | None:
        try:
            async with bootstrap(settings) as ctx:
                return await guardian_tick(ctx, modal_call_id=modal_call_id)
        except DatabaseUnavailable as exc:
            await page_without_context(settings, exc)
            return None

    return asyncio.run(main())
