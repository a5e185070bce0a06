"""What the drip claim reads for a batch (supabase/migrations/20261207112000_drip_claim_reads):
the leads' recent attempts in one query, and the sends today only where a campaign caps them."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.campaigns import drip
from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.jobs.drip import drip_deps
from tests.campaigns.helpers import CAMPAIGN, add_leads, load, query
from tests.consented import consented_lead


async def _message(
    ctx: Context, lead_id: int, key: str, *, channel: str = "sms", kind: str = "marketing",
    status: str = "sent", claimed: datetime | None = None, sent: datetime | None = None,
) -> None:  # fmt: skip
    await query(
        ctx,
        "insert into messages (idempotency_key, lead_id, channel, kind, provider, to_address,"
        " status, claimed_at, sent_at) values (%s, %s, %s, %s, 'twilio', '+12125550000',"
        " %s, %s, %s) returning id",
        key, lead_id, channel, kind, status, claimed, sent,
    )  # fmt: skip


async def _call(
    ctx: Context, lead_id: int, key: str, *, status: str = "ended",
    claimed: datetime | None = None, placed: datetime | None = None,
) -> None:  # fmt: skip
    await query(
        ctx,
        "insert into calls (idempotency_key, lead_id, to_number, status, claimed_at, placed_at)"
        " values (%s, %s, '+12125550000', %s, %s, %s) returning id",
        key, lead_id, status, claimed, placed,
    )  # fmt: skip


async def test_the_batch_recent_attempts_are_the_single_lead_rule(
    ctx: Context, clock: ManualClock
) -> None:
    """internal.leads_recent_attempts (the claim's, one query for the batch) gives each lead
    what internal.lead_recent_attempts (single-row callers) gives it: the same rule in two
    bodies, held together here over every case the rule names."""
    now = clock.now()
    h = timedelta(hours=1)
    await add_leads(ctx, 3)
    a, b, c = (r["id"] for r in await query(ctx, "select id from leads order by id"))
    await _message(ctx, a, "sent", claimed=now - 3 * h, sent=now - 2 * h)  # counted at sent_at
    await _message(ctx, a, "claimed", kind="rescue", status="sending", claimed=now - 5 * h)
    await _message(ctx, a, "transactional", kind="transactional", claimed=now - h, sent=now - h)
    await _message(ctx, a, "cancelled", status="cancelled", claimed=now - h)
    await _message(ctx, a, "queued", status="queued")  # never claimed: not an attempt
    await _message(ctx, a, "email", channel="email", claimed=now - h, sent=now - h)
    await _message(ctx, a, "old", claimed=now - 26 * h, sent=now - 25 * h)
    await _message(ctx, a, "future", claimed=now + h)  # after p_now: not yet
    await _call(ctx, a, "placed", claimed=now - 30 * h, placed=now - 4 * h)  # placed today
    await _call(ctx, a, "claimed-call", status="placing", claimed=now - 6 * h)
    await _call(ctx, a, "cancelled-call", status="cancelled", claimed=now - h)
    await _call(ctx, c, "c-call", claimed=now - 7 * h, placed=now - 7 * h)
    batch = await query(
        ctx,
        "select lead_id, attempts from internal.leads_recent_attempts(%s, %s)",
        [a, b, c], now,
    )  # fmt: skip
    got = {r["lead_id"]: r["attempts"] for r in batch}
    for lead in (a, b, c):
        [single] = await query(
            ctx, "select internal.lead_recent_attempts(%s, %s) v", lead, now
        )  # fmt: skip
        assert got.get(lead, []) == single["v"], lead
    assert len(got[a]) == 4 and b not in got and len(got[c]) == 1


async def test_a_daily_cap_counts_the_sends_of_earlier_runs_today(
    ctx: Context, clock: ManualClock
) -> None:
    """`caps.per_day.sms: 2`: two texts in a first run, then two more leads enrolled the same
    day are deferred to tomorrow by the claim's count of today's sends (not by the batch's
    own count, which starts at 0 in the second run)."""
    await load(
        ctx,
        CAMPAIGN.replace(
            "caps: {new_per_day: 1000}", "caps: {new_per_day: 1000, per_day: {sms: 2}}"
        ),
    )
    await add_leads(ctx, 2)
    await ctx.repos.campaigns.enroll(clock.now())
    assert await drip.run(drip_deps(ctx)) == {"advance": 2}
    clock.advance(timedelta(minutes=30))
    later = [consented_lead(name=f"Later {i}", phone=f"+1212666{i:04d}") for i in range(2)]
    await ctx.repos.leads.upsert(later, clock.now())
    await ctx.repos.campaigns.enroll(clock.now())
    assert await drip.run(drip_deps(ctx)) == {"reschedule:daily_cap": 2}
    deferred = await query(ctx, "select next_run_at from enrollments where current_step = 0")
    assert len(deferred) == 2
    assert all(r["next_run_at"].date() > clock.now().date() for r in deferred)


async def test_a_cap_on_another_channel_leaves_texts_uncounted(
    ctx: Context, clock: ManualClock
) -> None:
    """A campaign capping only its emails sends every text however many went out today."""
    await load(
        ctx,
        CAMPAIGN.replace(
            "caps: {new_per_day: 1000}", "caps: {new_per_day: 1000, per_day: {email: 1}}"
        ),
    )
    await add_leads(ctx, 2)
    await ctx.repos.campaigns.enroll(clock.now())
    assert await drip.run(drip_deps(ctx)) == {"advance": 2}
    later = [consented_lead(name=f"Later {i}", phone=f"+1212666{i:04d}") for i in range(3)]
    await ctx.repos.leads.upsert(later, clock.now())
    await ctx.repos.campaigns.enroll(clock.now())
    assert await drip.run(drip_deps(ctx)) == {"advance": 3}
