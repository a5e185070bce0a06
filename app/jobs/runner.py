"""The run wrapper every job goes through, on Modal and locally.

Contract of `run_job`:
- single-flight: the job's lease is taken by `start_job_run` (one Postgres function, so it
  works over both transports); an overlapping run is recorded as `skipped` and returns at once;
- a `job_runs` row records start, finish, status, counts, error and the Modal call id;
- every log line of the run carries `job` and `run_id`;
- the body starts after the webhook spool is drained (app/jobs/spool.py; its counts join
  the run's);
- a job may declare a begin function (registry `begin`: `Begin`): it starts the run
  (`start`, or a Postgres function that calls start_job_run) and makes the body's first
  read in the same round trip, and returns the body bound to that read (`Begun`). The runner
  uses it only when the webhook spool is empty (checked before the start), so the read is
  still made after any spooled request was applied; otherwise the run starts, drains and
  reads as any other;
- an exception in the body is recorded (job_runs + system_logs) and re-raised, so Modal
  marks the run failed;
- the lease is short (JOB_LEASE_SECONDS, 90 s) and renewed every JOB_HEARTBEAT_SECONDS while
  the body runs: a crashed or killed run stops renewing, its lease expires within one lease,
  and the next run proceeds (the crashed one is then marked `abandoned`). A renewal that
  finds the lease taken is recorded as a failure (`lease_lost`);
- an alert the run created is dispatched at its end (`flush_alerts`, no grouping hold), not
  at the next guardian run; a failed dispatch is logged and never fails the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

import structlog

from app.alerts import flush_alerts
from app.core.schedule import JobBody
from app.db.failures import Failure
from app.db.job_runs import RunRequest
from app.db.models import RunStart
from app.jobs import Job, get_job
from app.jobs.alerting import alert_dispatch
from app.jobs.bootstrap import Context
from app.jobs.spool import drain_spool

log = structlog.get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RunOutcome:
    job: str
    run_id: UUID
    status: str  # succeeded | failed | skipped
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for `nightshift dev --once` and `nightshift run`."""
        counts = " ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        tail = f" error={self.error}" if self.error else ""
        return f"{self.job:<17} {self.status:<9} {self.seconds:6.2f}s {counts}{tail}".rstrip()


Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Begun:
    """A run's start as a job's begin function made it: `start`, and `body`, the job's body
    bound to the first read made with the start (None: the job's own body, which reads)."""

    start: RunStart
    body: JobBody | None = None


def begun_with(
    start: RunStart, read: T | None, body: Callable[[T], Awaitable[dict[str, Any]]]
) -> Begun:
    """A begin function's result: the job's `body` bound to the first `read` made with the
    start, or the job's own body when the read was not made (None: skipped, or it failed)."""
    if read is None:
        return Begun(start)
    made = read

    async def bound(_: Context) -> dict[str, Any]:
        return await body(made)

    return Begun(start, bound)


# A job's begin function (registry `begin`, e.g. app.jobs.appointments:begin): starts the
# run `RunRequest` describes and, when it got the lease, makes the body's first read.
Begin = Callable[[Context, RunRequest], Awaitable[Begun]]


async def start(ctx: Context, run: RunRequest) -> RunStart:
    """The runner's own start: take the job's lease and record the run (`start_job_run`)."""
    return await ctx.repos.job_runs.start(
        run.job, run.run_id, run.holder, run.lease_seconds, run.now, run.modal_call_id
    )


async def _spool_empty(ctx: Context) -> bool:
    """Whether no spooled webhook waits; False when the spool cannot be read (the drain
    after the start then records why)."""
    if ctx.spool is None:
        return True
    try:
        return not await ctx.spool.pending(1)
    except Exception:
        return False


async def _begin(ctx: Context, job: Job, run: RunRequest) -> tuple[Begun, bool]:
    """The run's start: the job's begin function when it declares one and the spool is
    empty, else `start`. True when the spool was found empty (nothing to drain)."""
    begin = job.beginner()
    if begin is None or not await _spool_empty(ctx):
        return Begun(await start(ctx, run)), False
    begun: Begun = await begin(ctx, run)
    return begun, True


def lease_seconds(ctx: Context, job: Job) -> int:
    """How long a run's lease lives after its last heartbeat (`job`: every job alike)."""
    return ctx.settings.job_lease_seconds


async def keep_lease(ctx: Context, job: Job, run_id: UUID, sleep: Sleep) -> None:
    """Renew the lease every JOB_HEARTBEAT_SECONDS until cancelled. A renewal that fails (the
    database blinked) is tried again at the next beat, two more before the lease runs out;
    one that finds the lease taken records `lease_lost` and stops."""
    while True:
        await sleep(ctx.settings.job_heartbeat_seconds)
        try:
            held = await ctx.repos.job_runs.renew(
                job.name, run_id, lease_seconds(ctx, job), ctx.clock.now()
            )
        except Exception as exc:
            log.warning("lease renewal failed", error=type(exc).__name__)
            continue
        if not held:
            log.error("lease lost: another run may have taken over")
            failure = Failure(f"job:{job.name}", "lease_lost", "lease lost before the run finished",
                              key=str(run_id))  # fmt: skip
            await ctx.repos.failures.record(failure, ctx.clock.now())
            return


async def _dispatch_alerts(ctx: Context, created_before: int) -> int:
    """Flush at once when this run created an alert; the notifications enqueued."""
    if ctx.alerts.created == created_before:
        return 0
    try:
        return (await flush_alerts(alert_dispatch(ctx), hold=False)).enqueued
    except Exception as exc:  # the guardian's next flush sends what this one could not
        log.error("alert dispatch failed", error=type(exc).__name__)
        return 0


async def run_job(
    ctx: Context,
    name: str,
    *,
    modal_call_id: str | None = None,
    reraise: bool = True,
    heartbeat_sleep: Sleep = asyncio.sleep,
) -> RunOutcome:
    """Run one tick of job `name` under its lease; see the module docstring.
    `heartbeat_sleep`: what the lease keeper waits with (tests drive it)."""
    job = get_job(name)
    run_id = uuid.uuid4()
    started = time.perf_counter()
    with structlog.contextvars.bound_contextvars(job=name, run_id=str(run_id)):
        run = RunRequest(
            name, run_id, ctx.holder, lease_seconds(ctx, job), ctx.clock.now(), modal_call_id
        )
        begun, spool_empty = await _begin(ctx, job, run)
        start = begun.start
        if start.status == "skipped":
            log.info("run skipped: another run holds the lease", blocked_by=str(start.blocked_by))
            return RunOutcome(name, run_id, "skipped", seconds=time.perf_counter() - started)
        log.info("run started", modal_call_id=modal_call_id)
        created_before = ctx.alerts.created
        keeper = asyncio.create_task(keep_lease(ctx, job, run_id, heartbeat_sleep))
        try:
            # spooled webhooks first (a STOP parked during an outage before drip sends)
            drained = {} if spool_empty else await drain_spool(ctx)
            counts = {**drained, **await (begun.body or job.body())(ctx)}
        except BaseException as exc:
            await _stop(keeper)
            await _dispatch_alerts(ctx, created_before)
            error = f"{type(exc).__name__}: {exc}"
            log.exception("run failed")
            await ctx.repos.job_runs.finish(run_id, "failed", ctx.clock.now(), error=error)
            # Ctrl-C, cancellation and exit always propagate: `reraise=False` only turns
            # an ordinary failure into an outcome (the dev scheduler, `nightshift run`)
            if reraise or not isinstance(exc, Exception):
                raise
            return RunOutcome(
                name, run_id, "failed", error=error, seconds=time.perf_counter() - started
            )
        await _stop(keeper)
        if dispatched := await _dispatch_alerts(ctx, created_before):
            counts = {**counts, "alert_notifications": dispatched}
        await ctx.repos.job_runs.finish(run_id, "succeeded", ctx.clock.now(), counts=counts)
        log.info("run succeeded", **counts)
        return RunOutcome(name, run_id, "succeeded", counts, seconds=time.perf_counter() - started)


async def _stop(keeper: asyncio.Task[None]) -> None:
    keeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await keeper
