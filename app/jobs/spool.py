"""The drain of the webhook spool, run by the web app (at startup, then every
SPOOL_DRAIN_INTERVAL_SECONDS: `drain_forever`), at the start of every job (`run_job`) and so in
the guardian's run too.

`drain_spool(ctx, apply)` applies what waits in `ctx.spool` (app/providers/spool.py) through
`apply`, else through the graph's `ingest` (the web app's routes, given by the edges that
host them: app.modal_entry, the dev server, the tests). A graph without either (a CLI
command) applies nothing and reports what waits. It never raises: a spool or database
failure is logged and the job goes on (the next run drains again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from app.db.failures import Failure
from app.jobs.bootstrap import Context
from app.providers.spool import Apply, DrainReport, drain

log = structlog.get_logger(__name__)


async def drain_spool(ctx: Context, apply: Apply | None = None) -> dict[str, int]:
    """Drain up to SPOOL_DRAIN_BATCH spooled requests; the non-zero counts."""
    if ctx.spool is None:
        return {}
    try:
        stats = await ctx.spool.stats()
        if stats.pending == 0:
            return {}
        apply = apply or (ctx.ingest(ctx) if ctx.ingest is not None else None)
        if apply is None:
            log.warning("spooled webhooks wait for a drain", pending=stats.pending)
            return {"spool_pending": stats.pending}
        report = await drain(ctx.spool, apply, limit=ctx.settings.spool_drain_batch)
    except Exception as exc:
        log.error("spool drain failed", error=type(exc).__name__, detail=str(exc)[:200])
        return {"spool_drain_failed": 1}
    await _record_refusals(ctx, report)
    return report.counts()


async def _record_refusals(ctx: Context, report: DrainReport) -> None:
    """Each request set aside reaches system_logs (source `spool`, code `set_aside`, the
    spool id as key): the input of failure learning and of the operator's look."""
    for request, reason in report.aside:
        failure = Failure("spool", "set_aside", reason, key=request.id,
                          context={"path": request.path,
                                   "received_at": request.received_at.isoformat()})  # fmt: skip
        await ctx.repos.failures.record(failure, ctx.clock.now())


async def drain_forever(
    ctx: Context,
    apply: Apply,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """The web app's drain: at startup, then every SPOOL_DRAIN_INTERVAL_SECONDS until
    cancelled (an empty spool costs one listing: a directory scan, or one Dict call)."""
    while True:
        await drain_spool(ctx, apply)
        await sleep(ctx.settings.spool_drain_interval_seconds)
