"""Job heartbeats (healthchecks.io's model) from `job_runs` and the registry.

A job's reference time is its last success (else its latest start). With `p = period + grace`:
age <= p → up; p < age <= 2p → late; beyond → down. A run still `running` past the job's
timeout is `stalled`; one running within it is up (a long run is not a missing one). A job
that never ran is `new` (no alert). Late → warning; down/stalled → critical + auto-restart
(at most GUARDIAN_MAX_RESTARTS_PER_HOUR, then escalate); up → everything resolved. A latest
run that failed raises its own warning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Sequence
from datetime import datetime, timedelta
from typing import Literal

import structlog

from app.core.schedule import Job
from app.db.models import JobState
from app.guardian.watch import Watch
from app.providers.launcher import JobLauncher

log = structlog.get_logger(__name__)
Health = Literal["new", "up", "late", "down", "stalled"]
SELF = "guardian"  # it is running right now; it cannot restart itself


def classify(job: Job, state: JobState | None, now: datetime) -> Health:
    if state is None:
        return "new"
    if state.status == "running":
        timed_out = now - state.started_at > timedelta(seconds=job.timeout_seconds)
        return "stalled" if timed_out else "up"
    allowed = job.period + job.grace
    age = now - (state.last_success_at or state.started_at)
    if age <= allowed:
        return "up"
    return "late" if age <= 2 * allowed else "down"


def key(job: str, what: str) -> str:
    return f"job.{job}.{what}"


async def check_heartbeats(
    watch: Watch,
    launcher: JobLauncher,
    jobs: Sequence[Job],
    firing: Container[str] | None = None,
    *,
    max_restarts: int,
    read: Sequence[JobState] | None = None,
) -> Counter[str]:
    """Classify every job of `jobs` (the registry), raise/resolve its alerts, restart it
    when down, at most `max_restarts` times an hour (GUARDIAN_MAX_RESTARTS_PER_HOUR).
    `firing`: the run's firing keys (resolve_alert skips the others); `read`: the jobs'
    states as the run read them (`guardian_reads`), else read here."""
    now = watch.clock.now()
    if read is None:
        read = await watch.repos.job_runs.status(now, [j.name for j in jobs])
    states = {s.job: s for s in read}
    counts: Counter[str] = Counter()
    for job in jobs:
        if job.name == SELF:
            continue
        state = states.get(job.name)
        health = classify(job, state, now)
        counts[health] += 1
        await _apply(watch, job, health, state, firing)
        await _failed_run(watch, job, state, firing)
        if health in ("down", "stalled"):
            restarted = await _restart(watch, launcher, job, health, firing, max_restarts)
            counts["restarted" if restarted else "held"] += 1
    return counts


async def _apply(
    watch: Watch, job: Job, health: Health, state: JobState | None, firing: Container[str] | None
) -> None:
    last = (
        f"{state.last_success_at:%Y-%m-%d %H:%M} UTC"
        if state and state.last_success_at
        else "never"
    )
    details = {"job": job.name, "last_success_at": last, "state": health}
    if health in ("up", "new"):
        for what in ("late", "down", "stalled", "restart_limit"):
            await watch.alerts.resolve_alert(key(job.name, what), firing=firing)
        return
    if health == "late":
        await watch.alerts.raise_alert(
            key(job.name, "late"),
            "warning",
            f"{job.name} is late: no successful run since {last}",
            details,
        )
        return
    await watch.alerts.resolve_alert(key(job.name, "late"), firing=firing)
    title = (
        f"{job.name} is stalled: a run is past its {job.timeout_seconds}s timeout"
        if health == "stalled"
        else f"{job.name} is down: no successful run since {last}"
    )
    await watch.alerts.raise_alert(key(job.name, health), "critical", title, details)


async def _failed_run(
    watch: Watch, job: Job, state: JobState | None, firing: Container[str] | None
) -> None:
    if state is not None and state.status in ("failed", "abandoned"):
        error = (state.error or state.status)[:300]
        await watch.alerts.raise_alert(
            key(job.name, "failed"),
            "warning",
            f"{job.name}'s last run {state.status}: {error}",
            {"job": job.name, "run_id": str(state.run_id)},
        )
    elif state is not None and state.status == "succeeded":
        await watch.alerts.resolve_alert(key(job.name, "failed"), firing=firing)


async def _restart(
    watch: Watch,
    launcher: JobLauncher,
    job: Job,
    health: Health,
    firing: Container[str] | None,
    limit: int,
) -> bool:
    now = watch.clock.now()
    decision = await watch.repos.alerts.record_restart(job.name, limit, health, now)
    if not decision.allowed:
        await watch.alerts.raise_alert(
            key(job.name, "restart_limit"),
            "critical",
            f"{job.name} still {health} after {limit} restarts in an hour: "
            "auto-restart stopped, a human must look",
            {"job": job.name, "restarts_last_hour": decision.restarts_last_hour},
            escalate_now=True,
        )
        return False
    try:
        call_id = await launcher.launch(job.name)
    except Exception as exc:  # any launcher failure must not stop the other checks
        log.error("restart failed", job=job.name, error=type(exc).__name__)
        await watch.alerts.raise_alert(
            key(job.name, "restart_failed"),
            "critical",
            f"{job.name} could not be restarted: {type(exc).__name__}",
            {"job": job.name},
        )
        return False
    log.warning("job restarted", job=job.name, health=health, call_id=call_id)
    await watch.alerts.resolve_alert(key(job.name, "restart_failed"), firing=firing)
    return True
