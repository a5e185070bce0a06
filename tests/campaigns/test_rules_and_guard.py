"""Stop rules across channels and campaigns, opt-out between claim and send, and the
deliverability guard's auto-pause, resume and cool-off."""

from __future__ import annotations

from datetime import timedelta

from app.campaigns import drip, manager
from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.jobs.campaign_manager import manager_deps
from app.jobs.drip import drip_deps
from tests.campaigns.helpers import CAMPAIGN, add_leads, load, query
from tests.consented import consented_lead

SECOND = CAMPAIGN.replace("slug: tune-up", "slug: second").replace(
    "name: Tune-up recall", "name: Second"
)


async def test_opt_out_between_claim_and_send_stops_the_send(ctx: Context) -> None:
    await load(ctx)
    await add_leads(ctx, 2)
    await ctx.repos.campaigns.enroll(ctx.clock.now())
    claimed = await ctx.repos.campaigns.claim_due("w1", 10, 600, ctx.clock.now())
    assert len(claimed) == 2
    # the STOP webhook lands now, after the claim read the lead
    await query(ctx, "update leads set sms_opted_out_at = now() where id = 1 returning id")
    deps = drip_deps(ctx)
    settling = await drip.deliver_planned(deps, "w1", drip.plan_batch(deps, claimed))
    await settling.done()
    counts = settling.counts
    assert counts == {"advance": 1, "stop:opted_out:sms": 1}
    rows = {
        r["lead_id"]: r
        for r in await query(ctx, "select lead_id, status, provider_id from messages")
    }
    assert rows[1]["status"] == "cancelled" and rows[1]["provider_id"] is None
    assert rows[2]["status"] == "dry_run"
    [e1] = await query(ctx, "select status, stopped_reason from enrollments where lead_id = 1")
    assert (e1["status"], e1["stopped_reason"]) == ("stopped", "opted_out:sms")


async def test_opted_out_lead_is_settled_in_the_claim(ctx: Context) -> None:
    await load(ctx)
    await add_leads(ctx, 1)
    await ctx.repos.campaigns.enroll(ctx.clock.now())
    await query(ctx, "update leads set sms_opted_out_at = now() returning id")
    assert await ctx.repos.campaigns.claim_due("w1", 10, 600, ctx.clock.now()) == []
    [e] = await query(ctx, "select status, stopped_reason from enrollments")
    assert (e["status"], e["stopped_reason"]) == ("stopped", "opted_out:sms")


async def test_reply_stops_every_campaign_and_booking_respects_the_rule(ctx: Context) -> None:
    await load(ctx)
    keep_on_booking = SECOND.replace(
        "caps: {new_per_day: 1000}", "caps: {new_per_day: 1000}\nstop: {on_booking: false}"
    )
    await load(ctx, keep_on_booking)
    await add_leads(ctx, 2, company="Acme")
    await ctx.repos.campaigns.enroll(ctx.clock.now())
    assert await ctx.repos.campaigns.apply_stop_rules(1, "booking", ctx.clock.now()) == 1
    assert await ctx.repos.campaigns.apply_stop_rules(2, "reply", ctx.clock.now()) == 2
    rows = await query(
        ctx,
        "select lead_id, c.slug, e.status from enrollments e"
        " join campaigns c on c.id = e.campaign_id order by 1, 2",
    )
    assert [(r["lead_id"], r["slug"], r["status"]) for r in rows] == [
        (1, "second", "active"), (1, "tune-up", "stopped"),
        (2, "second", "stopped"), (2, "tune-up", "stopped"),
    ]  # fmt: skip


async def test_company_wide_stop_on_one_reply(ctx: Context) -> None:
    await load(
        ctx,
        CAMPAIGN.replace(
            "caps: {new_per_day: 1000}", "caps: {new_per_day: 1000}\nstop: {company_on_reply: true}"
        ),
    )
    await add_leads(ctx, 3, company="Acme Dental")
    await query(ctx, "update leads set company = 'Other' where id = 3 returning id")
    await ctx.repos.campaigns.enroll(ctx.clock.now())
    assert await ctx.repos.campaigns.apply_stop_rules(1, "reply", ctx.clock.now()) == 2
    [active] = await query(ctx, "select lead_id from enrollments where status = 'active'")
    assert active["lead_id"] == 3


async def _bounces(ctx: Context, campaign_id: int, bounced: int, total: int, tag: str) -> None:
    await query(
        ctx,
        """insert into messages (idempotency_key, campaign_id, channel, provider, to_address,
                                 status, created_at)
           select %s || g, %s, 'email', 'resend', 'x' || g || '@example.com',
                  case when g <= %s then 'bounced' else 'delivered' end,
                  now() - interval '1 minute' * g
             from generate_series(1, %s) g returning id""",
        tag,
        campaign_id,
        bounced,
        total,
    )


async def test_auto_pause_resume_and_cool_off(ctx: Context, clock: ManualClock) -> None:
    campaign_id = await load(ctx)
    await _bounces(ctx, campaign_id, 6, 100, "a")  # 6 % > 5 %
    counts = await manager.run(manager_deps(ctx), ctx.rng)
    assert counts["paused"] == 1
    [c] = await query(ctx, "select status, paused_reason from campaigns")
    assert c["status"] == "paused" and "hard_bounce_rate 6.00%" in c["paused_reason"]
    [alert] = await query(ctx, "select key, severity from alerts")
    assert (alert["key"], alert["severity"]) == ("campaign_paused:tune-up", "warning")

    resumed = await ctx.repos.manager.resume("tune-up", clock.now())
    assert (resumed.was, resumed.status) == ("paused", "active")
    assert (await manager.run(manager_deps(ctx), ctx.rng))["paused"] == 0  # cool-off: 6 % < 2 x 5 %
    await _bounces(ctx, campaign_id, 12, 100, "b")  # the last 200: 18 of 200 = 9 %
    assert (await manager.run(manager_deps(ctx), ctx.rng))["paused"] == 0
    await _bounces(ctx, campaign_id, 25, 100, "c")  # last 200: 37 of 200 = 18.5 % > 10 %
    assert (await manager.run(manager_deps(ctx), ctx.rng))["paused"] == 1
    await ctx.repos.manager.resume("tune-up", clock.now())
    clock.advance(timedelta(days=8))  # cool-off over: back to the plain 5 %
    assert (await manager.run(manager_deps(ctx), ctx.rng))["paused"] == 1


async def test_small_samples_never_pause(ctx: Context) -> None:
    campaign_id = await load(ctx)
    await _bounces(ctx, campaign_id, 5, 10, "a")  # 50 % but only 10 sends
    assert (await manager.run(manager_deps(ctx), ctx.rng))["paused"] == 0


async def test_state_cap_counts_attempts_when_made_not_when_queued(ctx: Context) -> None:
    """FL: 3 contacts per 24 h. A call queued 30 h ago but placed 1 h ago is a contact of
    the last 24 h; with two texts sent today, a fourth contact must wait."""
    await load(ctx, CAMPAIGN.replace("slug: tune-up", "slug: fl"))
    await ctx.repos.leads.upsert(
        [consented_lead(name="Flo", phone="+13055550111", state="FL")], ctx.clock.now()
    )
    clock = ctx.clock
    assert isinstance(clock, ManualClock)
    # 10:00 in Florida (inside every window); the history is dated from the test's clock,
    # not the wall clock (which made this test pass or fail by the hour it ran at)
    clock.set(clock.now().replace(hour=15, minute=0))
    await query(
        ctx,
        """insert into messages (idempotency_key, lead_id, channel, provider, to_address, status,
                                 created_at, claimed_at, sent_at)
           select 'old-' || g, 1, 'sms', 'twilio', '+13055550111', 'delivered',
                  %s::timestamptz - interval '2 hours', %s::timestamptz - interval '2 hours',
                  %s::timestamptz - interval '2 hours'
             from generate_series(1, 2) g returning id""",
        clock.now(),
        clock.now(),
        clock.now(),
    )
    await query(
        ctx,
        """insert into calls (idempotency_key, lead_id, to_number, status, created_at,
                              claimed_at, placed_at, vapi_call_id)
           values ('late-call', 1, '+13055550111', 'ended', %s::timestamptz - interval '30 hours',
                   %s::timestamptz - interval '1 hour', %s::timestamptz - interval '1 hour',
                   'call-1') returning id""",
        clock.now(),
        clock.now(),
        clock.now(),
    )
    await ctx.repos.campaigns.enroll(clock.now())
    assert await drip.run(drip_deps(ctx)) == {"reschedule:attempt_cap": 1}
