"""The `campaign_manager` job's entry: what the manager uses, unpacked from the graph; then
the reconciler of lost end-of-call reports (app.campaigns.call_reconcile): lead-facing
follow-ups (rescue texts, bookings) are campaign work, and the 600 s timeout leaves room for
a bounded batch of `GET /call/{id}` (the guardian's 240 s tick stays a lean watchdog); then
the reconciler of lost Twilio status callbacks (app.campaigns.message_reconcile), the same
way: a bounded batch of `GET Messages/{sid}`."""

from __future__ import annotations

from typing import Any

from app.campaigns import manager as manager_loop
from app.campaigns.call_reconcile import reconcile_calls
from app.campaigns.message_reconcile import reconcile_messages
from app.jobs.bootstrap import Context
from app.jobs.calls import message_reconcile_deps, reconcile_deps


def manager_deps(ctx: Context) -> manager_loop.ManagerDeps:
    """What `campaign_manager` uses, from the graph."""
    return manager_loop.ManagerDeps(
        repos=ctx.repos, clock=ctx.clock, settings=ctx.settings, alerts=ctx.alerts,
        delivery=ctx.providers.delivery, ranker=ctx.call_ranker,
    )  # fmt: skip


async def run(ctx: Context) -> dict[str, Any]:
    counts = await manager_loop.run(manager_deps(ctx), ctx.rng)
    counts = {**counts, **await reconcile_calls(reconcile_deps(ctx))}
    return {**counts, **await reconcile_messages(message_reconcile_deps(ctx))}
