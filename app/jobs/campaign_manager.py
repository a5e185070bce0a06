"""The `campaign_manager` job's entry: what the manager uses, unpacked from the graph."""

from __future__ import annotations

from typing import Any

from app.campaigns import manager as manager_loop
from app.jobs.bootstrap import Context


def manager_deps(ctx: Context) -> manager_loop.ManagerDeps:
    """What `campaign_manager` uses, from the graph."""
    return manager_loop.ManagerDeps(
        repos=ctx.repos, clock=ctx.clock, settings=ctx.settings, alerts=ctx.alerts,
        delivery=ctx.providers.delivery,
    )  # fmt: skip


async def run(ctx: Context) -> dict[str, Any]:
    return await manager_loop.run(manager_deps(ctx), ctx.rng)
