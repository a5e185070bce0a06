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

from app.alerts import flush_alerts
from app.db.failures import Failure
from app.jobs.alerting import alert_dispatch
from app.jobs.bootstrap import Context
from app.providers.spool import Apply, DrainReport, drain

log = structlog.get_logger(__name__)


async def drain_spool(ctx: Context, apply: Apply | None = None) -> dict[str, int]:
    """Drain up to SPOOL_DRAIN_BATCH spooled requests; the non-zero counts."""
    if ctx.spool is None:
        return {}
    try:
        # the usual answer, nothing waits, from one listing (stats lists pending and aside)
        if not await ctx.spool.pending(1):
            return {}
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
        failure = Failure("spool", type(exc).__name__, f"spool drain failed: {exc}"[:500])
        await ctx.repos.failures.record(failure, ctx.clock.now())
        return {"spool_drain_failed": 1}
    await _record_outcomes(ctx, report)
    return report.counts()


async def _record_outcomes(ctx: Context, report: DrainReport) -> None:
    """A drain's outcomes reach system_logs in the failure shape (source `spool`), the input
    of failure learning and of the operator's look:
    - each request set aside: code `set_aside`, the spool id as key, level error;
    - requests applied late (they waited out a database outage): code `applied_late`, one
      warning row per drain with the count;
    - requests still waiting (the database still refuses them): code
      `database_unavailable`, one warning row (written only if system_logs can take it)."""
    now = ctx.clock.now()
    for request, reason in report.aside:
        failure = Failure("spool", "set_aside", reason, key=request.id,
                          context={"path": request.path,
                                   "received_at": request.received_at.isoformat()})  # fmt: skip
        await ctx.repos.failures.record(failure, now)
    if report.applied:
        message = f"{report.applied} spooled request(s) applied after a database outage"
        await ctx.repos.failures.record(
            Failure("spool", "applied_late", message, level="warning",
                    context={"applied": report.applied}), now,
        )  # fmt: skip
    if report.waiting:
        message = f"{report.waiting} spooled request(s) wait: the database still refuses them"
        await ctx.repos.failures.record(
            Failure("spool", "database_unavailable", message, level="warning",
                    context={"waiting": report.waiting}), now,
        )  # fmt: skip


async def drain_forever(
    ctx: Context,
    apply: Apply,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """The web app's drain: at startup, then every SPOOL_DRAIN_INTERVAL_SECONDS until
    cancelled (an empty spool costs one listing: a directory scan, or one Dict call; so does
    each job run's check). An
    alert a drained request raised (a booking promised during the outage and not made:
    app.webhooks.callbacks) is dispatched at once, as a job's is (`run_job`)."""
    while True:
        created_before = ctx.alerts.created
        await drain_spool(ctx, apply)
        if ctx.alerts.created != created_before:
            await _dispatch_alerts(ctx)
        await sleep(ctx.settings.spool_drain_interval_seconds)


async def _dispatch_alerts(ctx: Context) -> None:
    try:
        await flush_alerts(alert_dispatch(ctx), hold=False)
    except Exception as exc:  # the guardian's next flush sends what this one could not
        log.error("alert dispatch after the drain failed", error=type(exc).__name__)
