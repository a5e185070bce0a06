"""The call queue drops a capped campaign's waiting calls before reading their leads (issue
19: 1,598 such calls on day 3 of a 10,000-lead simulation, each joined to its lead every 15
minutes; migration 20261207101200). The rows are the same: a call outside any campaign (a
rescue, a retry) still waits beside the uncapped campaign's, hottest lead first."""

from __future__ import annotations

from datetime import timedelta

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import CALLS, add_leads, load, query


async def test_a_capped_campaigns_calls_wait_and_the_others_keep_their_order(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now()
    capped = await load(ctx, CALLS.replace("steps:", "caps: {per_day: {call: 1}}\nsteps:"))
    recall = await load(ctx, CALLS.replace("slug: calls", "slug: recall"))
    await add_leads(ctx, 5)
    await query(ctx, "update leads set score = 90 - id returning id")  # lead 1 hottest
    rows = ((1, capped, now - timedelta(hours=2)), (2, capped, None), (3, None, None),
            (4, recall, None), (5, None, None))  # fmt: skip
    for lead_id, campaign, placed in rows:
        await query(
            ctx,
            "insert into calls (idempotency_key, lead_id, campaign_id, to_number, status, "
            "placed_at) values (%s, %s, %s, '+12125550000', %s, %s) returning id",
            f"k{lead_id}", lead_id, campaign, "ended" if placed else "queued", placed,
        )  # fmt: skip

    queue, _ = await ctx.repos.manager.call_queue(10, now)
    assert [(c.lead.id, c.campaign.slug if c.campaign else None) for c in queue] == [
        (3, None), (4, "recall"), (5, None)
    ]  # fmt: skip
    queue, _ = await ctx.repos.manager.call_queue(10, now + timedelta(days=1))
    assert [c.lead.id for c in queue] == [2, 3, 4, 5]  # a new day: the cap's slot is back
