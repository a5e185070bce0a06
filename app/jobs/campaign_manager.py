"""The `campaign_manager` job's entry: what the manager uses, unpacked from the graph; then
the reconciler of lost end-of-call reports (app.campaigns.call_reconcile): lead-facing
follow-ups (rescue texts, bookings) are campaign work, and the 600 s timeout leaves room for
a bounded batch of `GET /call/{id}` (the guardian's 240 s tick stays a lean watchdog); then
the reconciler of lost Twilio status callbacks (app.campaigns.message_reconcile), the same
way: a bounded batch of `GET Messages/{sid}`. The run's begin (`begin`) makes its start and
the manager's opening in one round trip."""

from __future__ import annotations

import dataclasses
from typing import Any

from app.campaigns import manager as manager_loop
from app.campaigns.call_reconcile import reconcile_calls
from app.campaigns.message_reconcile import reconcile_messages
from app.db.job_runs import RunRequest
from app.jobs.bootstrap import Context
from app.jobs.calls import message_reconcile_deps, reconcile_deps
from app.jobs.runner import Begun, begun_with


def manager_deps(ctx: Context) -> manager_loop.ManagerDeps:
    """What `campaign_manager` uses, from the graph."""
    return manager_loop.ManagerDeps(
        repos=ctx.repos, clock=ctx.clock, settings=ctx.settings, alerts=ctx.alerts,
        delivery=ctx.providers.delivery, ranker=ctx.call_ranker,
    )  # fmt: skip


async def run(ctx: Context) -> dict[str, Any]:
    return await _tick(ctx, manager_deps(ctx))


async def _tick(ctx: Context, deps: manager_loop.ManagerDeps) -> dict[str, Any]:
    counts = await manager_loop.run(deps, ctx.rng)
    counts = {**counts, **await reconcile_calls(reconcile_deps(ctx))}
    return {**counts, **await reconcile_messages(message_reconcile_deps(ctx))}


async def begin(ctx: Context, run_request: RunRequest) -> Begun:
    """The registry's `begin` (app/jobs/runner.py): the run's start and the manager's opening
    (manager_begin) in one round trip, `manager_run_begin`; the body goes on from it. When it
    was not made (skipped, or the opening failed and was undone) the body is the job's own."""
    deps = manager_deps(ctx)
    start, opened = await ctx.repos.manager.run_begin(run_request, *manager_loop.begin_args(deps))
    return begun_with(start, opened,
                      lambda made: _tick(ctx, dataclasses.replace(deps, opened=made)))  # fmt: skip
