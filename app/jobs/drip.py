"""The `drip` job's entry: what the drip loop uses, unpacked from the graph."""

from __future__ import annotations

from typing import Any

from app.campaigns import drip as drip_loop
from app.jobs.bootstrap import Context


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
