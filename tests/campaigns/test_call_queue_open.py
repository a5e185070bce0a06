"""The call queue reads what can be a candidate, not the whole waiting queue (issue 19:
manager_begin grew with the history; 7,043 waiting calls by day 28 of a 10,000-lead
simulation; migration 20261209110000). A capped campaign's waiting calls are not read (the
waiting calls are read by campaign, those of campaigns under their cap). The calls are the
same, in the same order: the hottest lead first, then the newest lead, then the call's id,
with leads sharing a score and an arrival (a batch import), leads with two waiting calls, and calls
held back (not yet due, a paused or capped campaign's) among them.

The plan is the one the function runs: its own body planned generic, after ANALYZE
(tests/campaigns/test_history_reads.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import CALLS, add_leads, load, query
from tests.campaigns.test_history_reads import analyze, generic_plan

LEADS = 40


async def _queue(ctx: Context, now: datetime) -> dict[str, int]:
    """40 leads (one batch: one arrival; then three arrivals, and scores shared by many:
    5.0, 0.0 or none) with waiting calls of two open campaigns, of a capped and of a paused
    one, outside any campaign, and not yet due; inserted round the leads so that the calls
    of leads tied in the order interleave by id."""
    open_ = await load(ctx, CALLS)
    recall = await load(ctx, CALLS.replace("slug: calls", "slug: recall"))
    capped = await load(ctx, CALLS.replace("slug: calls", "slug: capped").replace(
        "steps:", "caps: {per_day: {call: 1}}\nsteps:"))  # fmt: skip
    paused = await load(ctx, CALLS.replace("slug: calls", "slug: paused"))
    await add_leads(ctx, LEADS)
    await query(
        ctx,
        "update leads set created_at = %s - interval '1 hour' * (id %% 3),"
        " score = case when id %% 7 = 0 then null when id %% 4 = 0 then 5.0 else 0.0 end"
        " returning id",
        now,
    )  # fmt: skip
    await query(ctx, "update campaigns set status = 'paused' where id = %s returning id", paused)
    await query(  # the capped campaign's one call today: it is capped
        ctx,
        "insert into calls (idempotency_key, lead_id, campaign_id, to_number, status,"
        " placed_at) values ('placed', 1, %s, '+12125550000', 'ended', %s) returning id",
        capped, now - timedelta(hours=1),
    )  # fmt: skip
    for round_ in range(2):
        for lead in range(1, LEADS + 1):
            campaign: int | None = (open_, recall, capped, paused, None)[(lead + round_) % 5]
            if round_ == 1 and lead % 3:
                continue  # a second call for every third lead
            not_before = now + timedelta(hours=1) if lead % 11 == 0 else None
            await query(
                ctx,
                "insert into calls (idempotency_key, lead_id, campaign_id, to_number, status,"
                " not_before) values (%s, %s, %s, '+12125550000', 'queued', %s) returning id",
                f"k{lead}-{round_}", lead, campaign, not_before,
            )  # fmt: skip
    await analyze(ctx, "calls")
    await analyze(ctx, "leads")
    return {"open": open_, "recall": recall}


def _expected(rows: list[dict[str, Any]], limit: int) -> list[int]:
    """The queue's order over every candidate: score (none last), newest lead, call id."""
    ordered = sorted(rows, key=lambda r: (r["score"] is None, -(r["score"] or 0),
                                          -r["created_at"].timestamp(), r["id"]))  # fmt: skip
    return [r["id"] for r in ordered[:limit]]


@pytest.mark.parametrize("blocked_hottest", [False, True])
async def test_the_hottest_calls_of_a_long_queue_are_the_same_and_in_the_same_order(
    ctx: Context, clock: ManualClock, blocked_hottest: bool
) -> None:
    now = clock.now()
    open_ = await _queue(ctx, now)
    if blocked_hottest:  # the hottest leads have no candidate: a capped or paused
        await query(  # campaign's calls, or calls not yet due
            ctx,
            "update leads set score = 9.0 where id not in (select lead_id from calls k"
            " where (k.not_before is null or k.not_before <= %s)"
            " and (k.campaign_id is null or k.campaign_id = any(%s))) returning id",
            now, list(open_.values()),
        )  # fmt: skip
    waiting = await query(
        ctx,
        "select k.id, k.lead_id, l.score, l.created_at,"
        " (k.not_before is null or k.not_before <= %s) due,"
        " (k.campaign_id is null or k.campaign_id = any(%s)) open"
        " from calls k join leads l on l.id = k.lead_id where k.status = 'queued'",
        now, list(open_.values()),
    )  # fmt: skip
    candidates = [w for w in waiting if w["due"] and w["open"]]
    assert (len(waiting), len(candidates)) == (53, 30)
    for limit in range(1, 32):
        queue, _ = await ctx.repos.manager.call_queue(limit, now)
        assert [c.id for c in queue] == _expected(candidates, limit), limit


async def test_the_queue_reads_the_waiting_calls_by_campaign(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now()
    await _queue(ctx, now)
    await query(  # a month's history: 3,000 more leads, each with a capped campaign's call
        ctx,
        "with l as (insert into leads (name, phone, score, created_at)"
        "  select 'Lead ' || g, '+1646555' || lpad(g::text, 4, '0'), 0.0, %s"
        "    from generate_series(1, 3000) g returning id)"
        " insert into calls (idempotency_key, lead_id, campaign_id, to_number, status)"
        " select 'h' || l.id, l.id, c.id, '+12125550000', 'queued' from l, campaigns c"
        "  where c.slug = 'capped' returning id",
        now - timedelta(days=20),
    )  # fmt: skip
    await analyze(ctx, "calls")
    await analyze(ctx, "leads")
    plan = await generic_plan(ctx, "call_queue", 3, now, "score")
    assert "calls_waiting_campaign_idx" in plan, plan  # not the whole waiting queue
