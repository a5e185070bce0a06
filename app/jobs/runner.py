"""The run wrapper every job goes through, on Modal and locally.

Contract of `run_job`:
- single-flight: the job's lease is taken by `start_job_run` (one Postgres function, so it
  works over both transports); an overlapping run is recorded as `skipped` and returns at once;
- a `job_runs` row records start, finish, status, counts, error and the Modal call id;
- every log line of the run carries `job` and `run_id`;
- an exception in the body is recorded (job_runs + system_logs) and re-raised, so Modal
  marks the run failed. The lease lives `timeout + margin`: a crashed run's lease expires and
  the next run proceeds (the crashed one is then marked `abandoned`).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import structlog

from app.jobs import Job, get_job
from app.jobs.bootstrap import Context

log = structlog.get_logger(__name__)


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


def lease_seconds(ctx: Context, job: Job) -> int:
    return job.timeout_seconds + ctx.settings.job_lease_margin_seconds


async def run_job(
    ctx: Context, name: str, *, modal_call_id: str | None = None, reraise: bool = True
) -> RunOutcome:
    """Run one tick of job `name` under its lease; see the module docstring."""
    job = get_job(name)
    run_id = uuid.uuid4()
    started = time.perf_counter()
    with structlog.contextvars.bound_contextvars(job=name, run_id=str(run_id)):
        start = await ctx.repos.job_runs.start(
            name, run_id, ctx.holder, lease_seconds(ctx, job), ctx.clock.now(), modal_call_id
        )
        if start.status == "skipped":
            log.info("run skipped: another run holds the lease", blocked_by=str(start.blocked_by))
            return RunOutcome(name, run_id, "skipped", seconds=time.perf_counter() - started)
        log.info("run started", modal_call_id=modal_call_id)
        try:
            counts = await job.body()(ctx)
        except BaseException as exc:
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
        await ctx.repos.job_runs.finish(run_id, "succeeded", ctx.clock.now(), counts=counts)
        log.info("run succeeded", **counts)
        return RunOutcome(name, run_id, "succeeded", counts, seconds=time.perf_counter() - started)
