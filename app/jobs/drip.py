"""The `drip` job's entry: what the drip loop uses, unpacked from the graph, and the run's
begin (`begin`: its start and the tick's first call in one round trip)."""

from __future__ import annotations

import dataclasses
from typing import Any

from app.campaigns import drip as drip_loop
from app.db.job_runs import RunRequest
from app.jobs.bootstrap import Context
from app.jobs.runner import Begun, begun_with


def drip_deps(ctx: Context, *, release_orphans: bool = False) -> drip_loop.DripDeps:
    """What `drip` uses, from the graph (`release_orphans`: only under the job's lease)."""
    return drip_loop.DripDeps(
        repos=ctx.repos, clock=ctx.clock, settings=ctx.settings,
        delivery=ctx.providers.delivery, holder=ctx.holder, release_orphans=release_orphans,
    )  # fmt: skip


async def run(ctx: Context) -> dict[str, Any]:
    """One drip tick. It runs under the job's lease (run_job), so no other drip run is
    alive: steps still claimed were claimed by a run that died mid-batch, and are freed
    first (they would otherwise wait DRIP_LEASE_SECONDS), in the run's first call."""
    return await drip_loop.run(drip_deps(ctx, release_orphans=True))


async def begin(ctx: Context, run_request: RunRequest) -> Begun:
    """The registry's `begin` (app/jobs/runner.py): the run's start and the tick's first
    call (drip_begin: the orphan claims freed, the first batch claimed, for a worker named
    here) in one round trip, `drip_run_begin`; the body ticks from that answer. When it was
    not made (skipped, or the call failed) the body is the job's own."""
    deps = drip_deps(ctx, release_orphans=True)
    worker = drip_loop.new_worker(deps.holder)
    s = ctx.settings
    start, first = await ctx.repos.campaigns.run_begin(
        run_request, worker, s.drip_batch_size, s.drip_lease_seconds
    )
    return begun_with(start, first, lambda made: drip_loop.run(
        dataclasses.replace(deps, opened=drip_loop.Opened(worker, made))))  # fmt: skip
