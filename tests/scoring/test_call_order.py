"""The call queue's order: the per-call model's chance with a random live-control share, an
outside (oracle) order, and the per-call model trained on calls as of when they were placed."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from app.campaigns import drip, manager
from app.core.clock import ManualClock
from app.db.campaigns import LeadSnapshot, QueuedCall
from app.jobs.bootstrap import Context
from app.jobs.campaign_manager import manager_deps
from app.jobs.drip import drip_deps
from app.scoring.call_order import queue_scores, rank_queue
from app.scoring.leads import current_model, per_call_model
from tests.campaigns.helpers import add_leads, load, query
from tests.conftest import Rebuild, make_settings
from tests.scoring import helpers as h

DAY, MINUTE = timedelta(days=1), timedelta(minutes=1)
CALLS = """
slug: calls
name: Calls
call_timing: asap
window: {start: "08:00", end: "21:00"}
steps:
  - channel: call
"""


def _queue(n: int) -> list[QueuedCall]:
    return [
        QueuedCall(
            id=100 + i, lead=LeadSnapshot(id=i, status="contacted", phone=f"+1212555{i:04d}")
        )
        for i in range(n)
    ]


def test_the_model_orders_and_a_share_of_slots_is_random() -> None:
    calls, scores = _queue(200), [i / 200 for i in range(200)]
    ordered = rank_queue(calls, scores, np.random.default_rng(3), 0.0)
    assert [r.call.id for r in ordered] == [100 + i for i in reversed(range(200))]
    assert {r.picked for r in ordered} == {"score"}
    mixed = rank_queue(calls, scores, np.random.default_rng(3), 0.1)
    random_slots = sum(r.picked == "random" for r in mixed)
    assert 8 <= random_slots <= 40  # ~10 % of 200
    assert sorted(r.call.id for r in mixed) == sorted(c.id for c in calls)  # each call once
    again = rank_queue(calls, scores, np.random.default_rng(3), 0.1)
    assert [r.call.id for r in again] == [r.call.id for r in mixed]  # the generator decides
    everything = rank_queue(calls, scores, np.random.default_rng(3), 1.0)
    assert {r.picked for r in everything} == {"random"}


def test_an_outside_order_replaces_the_model_but_keeps_its_scores() -> None:
    calls = _queue(3)
    ordered = rank_queue(calls, [0.9, 0.5, 0.1], np.random.default_rng(1), 0.0, [0.1, 0.2, 0.3])
    assert [(r.call.id, r.score, r.picked) for r in ordered] == [
        (102, 0.1, "oracle"), (101, 0.5, "oracle"), (100, 0.9, "oracle")
    ]  # fmt: skip


async def test_the_per_call_model_learns_from_calls_as_placed(
    ctx: Context, clock: ManualClock
) -> None:
    """Referral leads book on the call they answer; web leads never do. The per-call model
    trained on the placed calls ranks a referral lead's next call first."""
    now = clock.now()
    for n in range(240):
        source = "referral" if n % 3 == 0 else "web"
        lead = await h.lead(ctx, n, now - 9 * DAY, source=source)
        placed = now - timedelta(days=8) + n * 30 * MINUTE
        booked = source == "referral" and n % 2 == 0
        await h.call(ctx, lead, "booked" if booked else "no_answer", placed + 3 * MINUTE,
                     state_started=placed)  # fmt: skip
    s = make_settings(nightshift_env="development", scoring_horizon_days=1)
    model = await per_call_model(ctx.repos.scoring, now, s)
    assert model is not None and model["metrics"]["calls"] == 240
    assert model["metrics"]["bookings"] == 40
    stored = await current_model(ctx.repos.scoring, now, s)
    assert "per_call" in stored.model and stored.metrics["per_call"]["calls"] == 240
    referral = await h.lead(ctx, 900, now - DAY, source="referral")
    web = await h.lead(ctx, 901, now - DAY, source="web")
    calls = [
        QueuedCall(id=1, lead=LeadSnapshot(id=web, status="contacted")),
        QueuedCall(id=2, lead=LeadSnapshot(id=referral, status="contacted")),
    ]
    scores = await queue_scores(ctx.repos.scoring, stored, calls, now)
    assert scores[1] > 2 * scores[0]


async def test_the_daily_call_cap_is_applied_in_the_queues_order(
    ctx: Context, rebuild: Rebuild
) -> None:
    """A campaign capped at 2 calls a day: the drip queues every call step, and the two
    calls placed are the two the queue ranks first (here, with no model yet, the hottest
    leads); the third waits for tomorrow's slots."""
    await load(ctx, CALLS.replace("steps:", "caps: {per_day: {call: 2}}\nsteps:"))
    await add_leads(ctx, 3)
    await query(ctx, "update leads set score = id * 10 returning id")
    ctx = await rebuild(vapi_max_concurrent_calls=5)
    assert (await manager.run(manager_deps(ctx), ctx.rng))["enrolled"] == 3
    assert await drip.run(drip_deps(ctx)) == {"advance:call_queued": 3}  # none held back
    counts = await manager.run(manager_deps(ctx), ctx.rng)
    assert (counts["calls_placed"], counts["calls_waiting"]) == (2, 1)
    rows = await query(
        ctx, "select lead_id, queue_order from calls where placed_at is not null order by lead_id"
    )
    assert [(r["lead_id"], r["queue_order"]) for r in rows] == [(2, "score"), (3, "score")]
    again = await manager.run(manager_deps(ctx), ctx.rng)
    assert again["calls_placed"] == 0  # the cap holds for the rest of the day


async def test_a_campaign_at_its_daily_cap_does_not_hold_back_the_others(
    ctx: Context, clock: ManualClock
) -> None:
    """Speed-to-lead (cap 1 call a day) has placed its call today and still has the hottest
    leads waiting; the recall campaign's colder lead is waiting too. The queue's candidates
    are the recall call, not the capped campaign's (read first, they took every candidate
    place and the recall calls waited all day: issue 17's ~15 % fewer calls)."""
    now = clock.now()
    capped = await load(ctx, CALLS.replace("steps:", "caps: {per_day: {call: 1}}\nsteps:"))
    recall = await load(ctx, CALLS.replace("slug: calls", "slug: recall"))
    await add_leads(ctx, 4)
    await query(ctx, "update leads set score = 90 - id returning id")  # lead 1 hottest
    for lead_id, campaign, placed in ((1, capped, now - 2 * MINUTE * 60), (2, capped, None),
                                      (3, capped, None), (4, recall, None)):  # fmt: skip
        await query(
            ctx,
            "insert into calls (idempotency_key, lead_id, campaign_id, to_number, status, "
            "placed_at) values (%s, %s, %s, '+12125550000', %s, %s) returning id",
            f"k{lead_id}", lead_id, campaign, "ended" if placed else "queued", placed,
        )  # fmt: skip
    queue, _ = await ctx.repos.manager.call_queue(1, now)
    assert [c.lead.id for c in queue] == [4]
    clock.advance(DAY)  # a new day: the capped campaign's hottest lead comes first again
    queue, _ = await ctx.repos.manager.call_queue(1, clock.now())
    assert [c.lead.id for c in queue] == [2]
