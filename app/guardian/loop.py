"""The `guardian` loop body (cron, every 5 minutes).

One run, in order:
1. the database probe (`db_ping` under a timeout, recorded in health_checks); when it fails
   the critical `database.unreachable` is paged straight through the providers and the run
   fails (nothing else can work without the database);
2. pages sent directly while the database was down are recorded, and that alert resolved;
3. job heartbeats: up / late / down / stalled, alerts, auto-restart (heartbeats.py);
4. provider probes (probes.py);
5. new error fingerprints in system_logs (`errors.new.<hash>`);
6. every due notification is sent: this run is the grouping window (`flush_alerts`, no hold);
7. HEARTBEAT_URL is pinged, so an outside monitor notices when the guardian stops.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

import httpx
import structlog

from app.alerts import flush_alerts
from app.alerts.direct import DB_DOWN_KEY, page_directly, record_direct_pages
from app.core.schedule import Job
from app.db.errors import DatabaseError, DatabaseUnavailable
from app.guardian.heartbeats import check_heartbeats
from app.guardian.probes import ProbeResult, probe_providers, record_probe
from app.providers.launcher import JobLauncher

if TYPE_CHECKING:  # TEMP until the room takes named collaborators
    from app.jobs.bootstrap import Context

log = structlog.get_logger(__name__)
ERRORS_PREFIX = "errors.new."


async def guard(ctx: Context, launcher: JobLauncher, jobs: Sequence[Job]) -> dict[str, Any]:
    """One guardian tick; see the module docstring. Returns the run's counts."""
    db = await probe_database(ctx)
    counts: dict[str, Any] = {"database_ms": db.latency_ms}
    if await record_direct_pages(ctx):
        counts["direct_pages_recorded"] = True
    # one read of the firing keys: resolving a key that is not firing costs no round trip
    firing = await ctx.alerts.firing_keys()
    await record_probe(ctx, db, firing)
    await ctx.alerts.resolve_alert(DB_DOWN_KEY, firing=firing)
    counts.update(await check_heartbeats(ctx, launcher, jobs, firing))
    counts["probes"] = await probe_providers(ctx, firing)
    counts["new_error_fingerprints"] = await check_error_fingerprints(ctx, firing)
    report = await flush_alerts(ctx, hold=False)
    counts["alerts_due"], counts["notifications"] = report.due, report.enqueued
    counts["heartbeat_pinged"] = await ping_heartbeat(ctx)
    return counts


async def probe_database(ctx: Context) -> ProbeResult:
    """`db_ping` under the probe timeout. On failure: page directly, then raise
    DatabaseUnavailable (the run cannot go on)."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(ctx.settings.guardian_probe_timeout_seconds):
            await ctx.repos.health.ping()
    except (DatabaseError, TimeoutError) as exc:
        await page_database_down(ctx, exc)
        raise DatabaseUnavailable(f"database probe failed: {type(exc).__name__}") from exc
    return ProbeResult("database", True, int((time.perf_counter() - started) * 1000))


async def page_database_down(ctx: Context, exc: BaseException) -> None:
    """The critical `database.unreachable`, straight through the providers (not stored)."""
    await page_directly(
        ctx.settings,
        ctx.providers,
        ctx.clock,
        DB_DOWN_KEY,
        "database unreachable: every job is stopped",
        {"error": type(exc).__name__},
    )


async def check_error_fingerprints(ctx: Context, firing: Collection[str] | None = None) -> int:
    """Warn about error fingerprints new in the last hour and seen more than the threshold;
    resolve the ones no longer in that set (`firing`: the run's firing keys, else read
    here). Returns how many are firing."""
    found = await ctx.repos.alerts.new_error_fingerprints(
        ctx.clock.now(), min_count=ctx.settings.guardian_error_fingerprint_threshold
    )
    keys = set()
    for item in found:
        key = ERRORS_PREFIX + hashlib.sha256(item.fingerprint.encode()).hexdigest()[:10]
        keys.add(key)
        await ctx.alerts.raise_alert(
            key,
            "warning",
            f"new error, {item.occurrences}x in the last hour: {item.sample[:160]}",
            {"fingerprint": item.fingerprint[:300]},
        )
    for firing_key in firing if firing is not None else await ctx.alerts.firing_keys():
        if firing_key.startswith(ERRORS_PREFIX) and firing_key not in keys:
            await ctx.alerts.resolve_alert(firing_key)
    return len(keys)


async def ping_heartbeat(ctx: Context) -> bool:
    """GET HEARTBEAT_URL (healthchecks.io-compatible). Never raises; the URL is a secret
    (anyone holding it can ping), so it is never logged."""
    url = ctx.settings.heartbeat_url
    if not url:
        return False
    try:
        response = await ctx.providers.client.get(
            url, timeout=ctx.settings.guardian_probe_timeout_seconds
        )
    except httpx.HTTPError as exc:
        log.warning("heartbeat ping failed", error=type(exc).__name__)
        return False
    if not response.is_success:
        log.warning("heartbeat ping refused", status=response.status_code)
    return response.is_success
