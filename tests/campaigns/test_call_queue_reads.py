"""What the call queue reads for its candidates (migration 20261207120000): each campaign's
definition sent once (not once per waiting call), the batch's 24 h attempts in one query,
and the lead's snapshot columns; the calls, their order and what the gate sees unchanged."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import CALLS, add_leads, load, query


async def _call(
    ctx: Context, lead_id: int, key: str, campaign: int | None, *, status: str = "queued",
    claimed: datetime | None = None, placed: datetime | None = None,
) -> None:  # fmt: skip
    await query(
        ctx,
        "insert into calls (idempotency_key, lead_id, campaign_id, to_number, status,"
        " claimed_at, placed_at) values (%s, %s, %s, '+12125550000', %s, %s, %s) returning id",
        key, lead_id, campaign, status, claimed, placed,
    )  # fmt: skip


async def test_each_campaign_is_sent_once_and_every_call_carries_it(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now()
    calls = await load(ctx, CALLS)
    recall = await load(ctx, CALLS.replace("slug: calls", "slug: recall"))
    await add_leads(ctx, 6)
    await query(ctx, "update leads set score = 90 - id returning id")  # lead 1 hottest
    for lead_id, campaign in ((1, calls), (2, recall), (3, calls), (4, None), (5, recall),
                              (6, calls)):  # fmt: skip
        await _call(ctx, lead_id, f"k{lead_id}", campaign)

    raw = await query(ctx, "select call from call_queue(10, %s)", now)
    full = [r["call"]["campaign"] for r in raw if r["call"]["campaign"]]
    assert sorted(c["slug"] for c in full if "definition" in c) == ["calls", "recall"]
    assert all(set(c) == {"id"} for c in full if "definition" not in c)

    queue, in_flight = await ctx.repos.manager.call_queue(10, now)
    assert in_flight == 0
    assert [(c.lead.id, c.campaign.slug if c.campaign else None) for c in queue] == [
        (1, "calls"), (2, "recall"), (3, "calls"), (4, None), (5, "recall"), (6, "calls")
    ]  # fmt: skip
    stored = {
        r["id"]: r["definition"]
        for r in await query(ctx, "select id, definition from campaigns")
    }  # fmt: skip
    for call in queue:
        if call.campaign is not None:
            assert call.campaign.definition == stored[call.campaign.id]
    assert queue[0].campaign is queue[2].campaign  # one snapshot, validated once
    lead = queue[0].lead  # the lead's snapshot columns
    assert (lead.phone, lead.email, lead.status) == ("+12125550000", "lead0@example.com", "new")


async def test_each_calls_attempts_are_the_single_lead_rule(
    ctx: Context, clock: ManualClock
) -> None:
    """The batch's attempts (one internal.leads_recent_attempts call) give each waiting call
    what the gate read per call before (internal.lead_recent_attempts): two calls of one
    lead both carry the lead's attempts, a lead without any an empty list."""
    now = clock.now()
    h = timedelta(hours=1)
    calls = await load(ctx, CALLS)
    recall = await load(ctx, CALLS.replace("slug: calls", "slug: recall"))
    await add_leads(ctx, 3)
    await _call(ctx, 1, "a-ended", None, status="ended", claimed=now - 5 * h, placed=now - 5 * h)
    await _call(ctx, 1, "a-old", None, status="ended", claimed=now - 30 * h, placed=now - 30 * h)
    await _call(ctx, 3, "c-ended", None, status="ended", claimed=now - 2 * h, placed=now - 2 * h)
    await _call(ctx, 1, "a-calls", calls)
    await _call(ctx, 1, "a-recall", recall)
    await _call(ctx, 2, "b-calls", calls)
    await _call(ctx, 3, "c-recall", recall)

    queue, _ = await ctx.repos.manager.call_queue(10, now)
    assert sorted(c.lead.id for c in queue) == [1, 1, 2, 3]
    for call in queue:
        [single] = await query(
            ctx, "select internal.lead_recent_attempts(%s, %s) v", call.lead.id, now
        )  # fmt: skip
        assert [t.isoformat() for t in call.recent_attempts] == [
            datetime.fromisoformat(t).isoformat() for t in single["v"]
        ], call.lead.id
    by_lead = {c.lead.id: len(c.recent_attempts) for c in queue}
    assert by_lead == {1: 1, 2: 0, 3: 1}
