"""The `guardian` loop body (cron, every 5 minutes).

One run, in order:
1. the database probe (`db_ping` under a timeout); when it fails the critical
   `database.unreachable` is paged straight through the providers and the run fails
   (nothing else can work without the database). A run whose start was itself timed
   (`database_ms`: the runner's start_job_run, app/jobs/guardian.py `begin`) takes that
   round trip as the probe instead of making another one: the database just answered; an
   answer slower than the probe's timeout fails as a probe that timed out;
2. pages sent directly while the database was down are recorded, and that alert resolved;
   then, in one round trip (`guardian_reads`), the probe is recorded in health_checks and
   what the checks below read is read (firing alerts, job states, callback gaps, new error
   fingerprints, and the flush's reads: what is due, what waits to be delivered);
3. job heartbeats: up / late / down / stalled, alerts, auto-restart (heartbeats.py);
4. provider probes (probes.py); the public web endpoint and providers whose callbacks went
   silent while we sent through them (signals.py); and the webhook spool (`check_spool`: a
   request waiting longer than SPOOL_ALERT_AFTER_SECONDS, or one refused for good);
5. new error fingerprints in system_logs (`errors.new.<hash>`);
6. every due notification is sent: this run is the grouping window (`flush_alerts`, no hold),
   from the run's first read when none of its checks changed an alert (no second round trip:
   a quiet run is guardian_reads, after db_ping when the start was not timed), else read
   again after the checks' writes. As
   with the firing keys, a change made elsewhere while the run checks is sent by the next run;
7. HEARTBEAT_URL is pinged, so an outside monitor notices when the guardian stops.

`guard(deps, launcher, jobs)` takes what the run uses, as `GuardianDeps` (built by the jobs
layer, app/jobs/guardian.py): the checks' shared collaborators (`Watch`), the guardian's
settings (`GuardianConfig`), the HTTP client of the probes and the heartbeat ping, the direct
pager (database down) and the alert dispatch (the flush).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog

from app.alerts import AlertDispatch, flush_alerts, flush_params
from app.alerts.direct import DB_DOWN_KEY, DirectLine, page_directly, record_direct_pages
from app.core.schedule import Job
from app.core.settings import Settings
from app.db.alerts import Fingerprint
from app.db.errors import DatabaseError, DatabaseUnavailable
from app.db.repositories import HealthRepository
from app.guardian.heartbeats import check_heartbeats
from app.guardian.probes import (
    HttpProbe,
    ProbeResult,
    check_spool,
    http_probes,
    judge_probe,
    probe_providers,
)
from app.guardian.signals import WebProbe, callback_window, check_callbacks, probe_web, web_probe
from app.guardian.watch import Watch
from app.providers.launcher import JobLauncher
from app.providers.spool import Spool

log = structlog.get_logger(__name__)
ERRORS_PREFIX = "errors.new."


@dataclass(frozen=True)
class GuardianConfig:
    """The guardian's settings (GUARDIAN_*, HEARTBEAT_URL) and the provider probes they
    enable. The URL and the probes carry secrets: they stay out of the repr."""

    probe_timeout_seconds: float
    probe_failures: int
    max_restarts_per_hour: int
    error_fingerprint_threshold: int
    heartbeat_url: str | None = field(default=None, repr=False)
    probes: tuple[HttpProbe, ...] = field(default=(), repr=False)
    spool_alert_after_seconds: int = 300
    web: WebProbe | None = None  # PUBLIC_BASE_URL/healthz (app/guardian/signals.py)
    callback_silence_hours: float = 3.0

    @classmethod
    def from_settings(cls, settings: Settings) -> GuardianConfig:
        return cls(
            probe_timeout_seconds=settings.guardian_probe_timeout_seconds,
            probe_failures=settings.guardian_probe_failures,
            max_restarts_per_hour=settings.guardian_max_restarts_per_hour,
            error_fingerprint_threshold=settings.guardian_error_fingerprint_threshold,
            heartbeat_url=settings.heartbeat_url,
            probes=tuple(http_probes(settings)),
            spool_alert_after_seconds=settings.spool_alert_after_seconds,
            web=web_probe(settings.public_base_url),
            callback_silence_hours=settings.guardian_callback_silence_hours,
        )


@dataclass(frozen=True)
class GuardianDeps:
    """What one guardian run uses; see the module docstring."""

    watch: Watch
    config: GuardianConfig
    client: httpx.AsyncClient
    direct: DirectLine
    dispatch: AlertDispatch
    spool: Spool | None = None  # the webhook spool the guardian watches (check_spool)


async def guard(
    deps: GuardianDeps,
    launcher: JobLauncher,
    jobs: Sequence[Job],
    *,
    database_ms: int | None = None,
) -> dict[str, Any]:
    """One guardian tick over the registry `jobs`; see the module docstring (`database_ms`:
    the ms of the run's own start, taken as the database probe; None: probe with db_ping).
    Returns the run's counts."""
    watch, config = deps.watch, deps.config
    seconds = config.probe_timeout_seconds
    if database_ms is None:
        db = await probe_database(watch.repos.health, deps.direct, seconds)
    else:
        db = await database_answered(deps.direct, database_ms, seconds)
    counts: dict[str, Any] = {"database_ms": db.latency_ms}
    if await record_direct_pages(watch.repos.alerts, watch.clock, memory=deps.direct.memory):
        counts["direct_pages_recorded"] = True
    # the run's reads in one round trip; with the firing keys, resolving a key that is not
    # firing costs none; with the flush's reads, a run that changes no alert flushes from them
    now, changes = watch.clock.now(), watch.alerts.changes
    reads = await watch.repos.alerts.guardian_reads(
        now, [j.name for j in jobs], callback_window(now, config.callback_silence_hours),
        min_count=config.error_fingerprint_threshold, database_ms=db.latency_ms,
        flush=flush_params(deps.dispatch.policy, hold=False),
    )  # fmt: skip
    firing = reads.firing
    await judge_probe(watch, db, reads.database, firing, failures=config.probe_failures)
    await watch.alerts.resolve_alert(DB_DOWN_KEY, firing=firing)
    counts.update(
        await check_heartbeats(
            watch, launcher, jobs, firing, max_restarts=config.max_restarts_per_hour,
            read=reads.jobs,
        )
    )  # fmt: skip
    counts["probes"] = await probe_providers(
        watch,
        deps.client,
        config.probes,
        firing,
        seconds=config.probe_timeout_seconds,
        failures=config.probe_failures,
    )
    counts["web"] = await probe_web(
        watch, deps.client, config.web, firing,
        seconds=config.probe_timeout_seconds, failures=config.probe_failures,
    )  # fmt: skip
    counts["silent_callbacks"] = await check_callbacks(
        watch, firing, silence_hours=config.callback_silence_hours, read=reads.gaps
    )
    counts["spool_pending"] = await check_spool(
        watch, deps.spool, firing, after=config.spool_alert_after_seconds
    )
    counts["new_error_fingerprints"] = await check_error_fingerprints(
        watch, firing, min_count=config.error_fingerprint_threshold, read=reads.fingerprints
    )
    unchanged = watch.alerts.changes == changes
    report = await flush_alerts(deps.dispatch, hold=False, read=reads.flush if unchanged else None)
    counts["alerts_due"], counts["notifications"] = report.due, report.enqueued
    counts["heartbeat_pinged"] = await ping_heartbeat(
        deps.client, config.heartbeat_url, config.probe_timeout_seconds
    )
    return counts


async def probe_database(
    health: HealthRepository, direct: DirectLine, seconds: float
) -> ProbeResult:
    """`db_ping` under a timeout of `seconds`. On failure: page directly through `direct`, then
    raise DatabaseUnavailable (the run cannot go on)."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(seconds):
            await health.ping()
    except (DatabaseError, TimeoutError) as exc:
        await page_database_down(direct, exc)
        raise DatabaseUnavailable(f"database probe failed: {type(exc).__name__}") from exc
    return ProbeResult("database", True, int((time.perf_counter() - started) * 1000))


async def database_answered(direct: DirectLine, ms: int, seconds: float) -> ProbeResult:
    """The probe's verdict on a round trip the run already made in `ms`: as `probe_database`'s
    when its ping answered in `ms`; slower than `seconds`, as when its ping timed out (page
    directly, raise DatabaseUnavailable)."""
    if ms > seconds * 1000:
        exc = TimeoutError(f"the database answered in {ms} ms")
        await page_database_down(direct, exc)
        raise DatabaseUnavailable("database probe failed: TimeoutError") from exc
    return ProbeResult("database", True, ms)


async def page_database_down(direct: DirectLine, exc: BaseException) -> None:
    """The critical `database.unreachable`, straight through the providers (not stored)."""
    await page_directly(
        direct,
        DB_DOWN_KEY,
        "database unreachable: every job is stopped",
        {"error": type(exc).__name__},
    )


async def check_error_fingerprints(
    watch: Watch,
    firing: Collection[str] | None = None,
    *,
    min_count: int,
    read: Sequence[Fingerprint] | None = None,
) -> int:
    """Warn about error fingerprints new in the last hour and seen more than `min_count`
    times (GUARDIAN_ERROR_FINGERPRINT_THRESHOLD); resolve the ones no longer in that set
    (`firing`: the run's firing keys, else read here; `read`: the fingerprints as the run
    read them, else read here). Returns how many are firing."""
    found = read
    if found is None:
        found = await watch.repos.alerts.new_error_fingerprints(
            watch.clock.now(), min_count=min_count
        )
    keys = set()
    for item in found:
        key = ERRORS_PREFIX + hashlib.sha256(item.fingerprint.encode()).hexdigest()[:10]
        keys.add(key)
        await watch.alerts.raise_alert(
            key,
            "warning",
            f"new error, {item.occurrences}x in the last hour: {item.sample[:160]}",
            {"fingerprint": item.fingerprint[:300]},
        )
    for firing_key in firing if firing is not None else await watch.alerts.firing_keys():
        if firing_key.startswith(ERRORS_PREFIX) and firing_key not in keys:
            await watch.alerts.resolve_alert(firing_key)
    return len(keys)


async def ping_heartbeat(client: httpx.AsyncClient, url: str | None, seconds: float) -> bool:
    """GET `url` (HEARTBEAT_URL, healthchecks.io-compatible) under a timeout of `seconds`; False
    when unset. Never raises; the URL is a secret (anyone holding it can ping), so it is
    never logged."""
    if not url:
        return False
    try:
        response = await client.get(url, timeout=seconds)
    except httpx.HTTPError as exc:
        log.warning("heartbeat ping failed", error=type(exc).__name__)
        return False
    if not response.is_success:
        log.warning("heartbeat ping refused", status=response.status_code)
    return response.is_success
