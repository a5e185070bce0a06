"""The `drip` job's entry: what the drip loop uses, unpacked from the graph."""

from __future__ import annotations

from typing import Any

from app.campaigns import drip as drip_loop
from app.jobs.bootstrap import Context


def drip_deps(ctx: Context) -> drip_loop.DripDeps:
    """What `drip` uses, from the graph."""
    return drip_loop.DripDeps(
        repos=ctx.repos, clock=ctx.clock, settings=ctx.settings,
        delivery=ctx.providers.delivery, holder=ctx.holder,
    )  # fmt: skip


async def run(ctx: Context) -> dict[str, Any]:
    return await drip_loop.run(drip_deps(ctx))
