"""Rows picked by an order and a limit are picked the same way whatever their physical
order (a total order: a unique column breaks ties). enroll_leads makes hundreds of first
steps due at one instant and a drip batch takes 500: which leads went first used to follow
where their rows lay in the table, which differs from run to run, so two runs of one
simulation seed diverged (`nightshift simulate --leads 10000 --days 8 --seed 7`). The
deliverability guard's "last 200 sends" likewise. Here the rows of the lowest ids are
rewritten to the end of the table (as a row update does once vacuum has freed room
elsewhere) before the read."""

from __future__ import annotations

from app.campaigns import manager
from app.jobs.bootstrap import Context
from app.jobs.campaign_manager import manager_deps
from tests.campaigns.helpers import add_leads, load, query


async def _wave(ctx: Context, n: int) -> list[int]:
    """`n` leads enrolled at once (every first step due at this instant), their enrollment
    ids in order; then the first half's rows moved behind the second half's."""
    await load(ctx)
    await add_leads(ctx, n)
    enrolled = await ctx.repos.campaigns.enroll(ctx.clock.now())
    assert [e.enrolled for e in enrolled] == [n]
    ids = [r["id"] for r in await query(ctx, "select id from enrollments order by id")]
    first_half = ids[: n // 2]
    # a changed indexed column: a new row version (and index entry) at the end of the table,
    # then back to the same due instant
    for shift in ("+ interval '1 second'", "- interval '1 second'"):
        await query(
            ctx,
            f"update enrollments set next_run_at = next_run_at {shift} where id = any(%s)"
            " returning id",
            first_half,
        )
    physical = await query(ctx, "select id from enrollments order by ctid")
    assert [r["id"] for r in physical][: n // 2] == ids[n // 2 :]  # the order is scrambled
    return ids


async def test_a_wave_due_at_one_instant_is_claimed_in_id_order(ctx: Context) -> None:
    ids = await _wave(ctx, 40)
    first = await ctx.repos.campaigns.claim_due("w1", 15, 600, ctx.clock.now())
    second = await ctx.repos.campaigns.claim_due("w2", 15, 600, ctx.clock.now())
    assert [s.enrollment_id for s in first] == ids[:15]
    assert [s.enrollment_id for s in second] == ids[15:30]


async def test_the_deliverability_guard_reads_a_batchs_last_sends_by_id(ctx: Context) -> None:
    """A batch's emails share created_at, so "the last 200 emails" is decided by id: 250
    sent at one instant, 12 hard bounces among the newest 50 (6 % of the newest 200 > 5 %)
    pause the campaign, even with the oldest 50 rows rewritten to the end of the table (read
    by physical order, the "last 200" were the oldest 200: no bounce, no pause)."""
    campaign_id = await load(ctx)
    rows = await query(
        ctx,
        """insert into messages (idempotency_key, campaign_id, channel, provider, to_address,
                                 status, created_at)
           select 'b' || g, %s, 'email', 'resend', 'x' || g || '@example.com',
                  case when g between 201 and 212 then 'bounced' else 'delivered' end, %s
             from generate_series(1, 250) g order by g returning id""",
        campaign_id,
        ctx.clock.now(),
    )
    oldest = sorted(r["id"] for r in rows)[:50]
    for shift in ("+ interval '1 second'", "- interval '1 second'"):
        await query(
            ctx,
            f"update messages set created_at = created_at {shift} where id = any(%s) returning id",
            oldest,
        )
    assert (await manager.run(manager_deps(ctx), ctx.rng))["paused"] == 1
    [c] = await query(ctx, "select paused_reason from campaigns")
    assert "hard_bounce_rate 6.00% over the last 200 sends" in c["paused_reason"]
