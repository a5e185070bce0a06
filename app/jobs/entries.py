"""One entry per cron: each hands its domain loop the collaborators that loop names.

The registry (`app/jobs/registry.py`) points at these; `run_job` calls them with the graph
built by `bootstrap`. Nothing below this layer receives the whole graph.
"""

from __future__ import annotations

from typing import Any

from app.appointments import loop as appointments_loop
from app.campaigns import drip as drip_loop
from app.campaigns import manager as manager_loop
from app.guardian import loop as guardian_loop
from app.jobs import growth as growth_loop
from app.jobs.bootstrap import Context
from app.jobs.launcher import default_launcher
from app.jobs.registry import JOBS


async def drip(ctx: Context) -> dict[str, Any]:
    return await drip_loop.run(ctx)


def manager_deps(ctx: Context) -> manager_loop.ManagerDeps:
    """What `campaign_manager` uses, from the graph."""
    return manager_loop.ManagerDeps(
        repos=ctx.repos, clock=ctx.clock, settings=ctx.settings, alerts=ctx.alerts,
        delivery=ctx.providers.delivery,
    )  # fmt: skip


async def campaign_manager(ctx: Context) -> dict[str, Any]:
    return await manager_loop.run(manager_deps(ctx), ctx.rng)


async def growth(ctx: Context) -> dict[str, Any]:
    return await growth_loop.run(ctx)


async def guardian(ctx: Context) -> dict[str, Any]:
    return await guardian_loop.guard(ctx, default_launcher(ctx), JOBS)


async def appointments(ctx: Context) -> dict[str, Any]:
    return await appointments_loop.run(ctx)
