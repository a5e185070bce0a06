"""The drip claim's `sent_today` (supabase/migrations/20261210140000_drip_claim_today.sql):
the day's sends of each capped campaign on the step's channel, counted in a statement of its
own before the batch is leased; each claimed step carries its own campaign's count."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import CAMPAIGN, add_leads, load, query

TEXTS_CAPPED = CAMPAIGN.replace(
    "caps: {new_per_day: 1000}", "caps: {new_per_day: 1000, per_day: {sms: 50, email: 9}}"
)
EMAILS_FIRST = """
slug: welcome
name: Welcome
timezone: America/New_York
window: {days: [mon, tue, wed, thu, fri, sat, sun], start: "08:00", end: "21:00"}
caps: {new_per_day: 1000, per_day: {email: 40}}
steps:
  - channel: email
    delay: 0m
    subject: "Welcome, {{ lead.first_name }}"
    html: '<p>Book here: <a href="https://example.com/book">book</a></p>'
"""
UNCAPPED = CAMPAIGN.replace("slug: tune-up", "slug: uncapped")


async def _sent(ctx: Context, campaign: int, channel: str, at: datetime, n: int) -> None:
    """`n` marketing messages of `campaign` on `channel`, written at `at`."""
    lead = (await query(ctx, "select min(id) id from leads"))[0]["id"]
    for i in range(n):
        await query(
            ctx,
            "insert into messages (idempotency_key, lead_id, campaign_id, channel, kind,"
            " provider, to_address, status, created_at) values (%s, %s, %s, %s, 'marketing',"
            " 'twilio', '+12125550000', 'delivered', %s) returning id",
            f"{campaign}:{channel}:{at.isoformat()}:{i}", lead, campaign, channel, at,
        )  # fmt: skip


async def test_each_step_carries_its_own_campaigns_sends_today_on_its_channel(
    ctx: Context, clock: ManualClock
) -> None:
    """Three campaigns in one batch: a text step of a campaign capping texts reads its texts
    sent since midnight (not yesterday's, not its emails, not another campaign's), an email
    step its emails, and a campaign capping nothing reads 0 (unread)."""
    now = clock.now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    texts = await load(ctx, TEXTS_CAPPED)
    emails = await load(ctx, EMAILS_FIRST)
    uncapped = await load(ctx, UNCAPPED)
    await add_leads(ctx, 4)
    await _sent(ctx, texts, "sms", midnight, 3)
    await _sent(ctx, texts, "sms", now - timedelta(minutes=5), 2)
    await _sent(ctx, texts, "sms", midnight - timedelta(seconds=1), 7)  # yesterday
    await _sent(ctx, texts, "email", now - timedelta(hours=1), 4)
    await _sent(ctx, emails, "email", now - timedelta(minutes=1), 6)
    await _sent(ctx, emails, "sms", now - timedelta(minutes=1), 8)
    await _sent(ctx, uncapped, "sms", now - timedelta(minutes=1), 5)
    await ctx.repos.campaigns.enroll(now)
    steps = await ctx.repos.campaigns.claim_due("test", 500, 600, now)
    seen: dict[tuple[int, str], set[int]] = {(s.campaign.id, s.step.channel): set() for s in steps}
    for step in steps:
        seen[step.campaign.id, step.step.channel].add(step.sent_today)
    assert seen == {(texts, "sms"): {5}, (emails, "email"): {6}, (uncapped, "sms"): {0}}
    assert len(steps) == 12  # every lead in each campaign, each step read once


async def test_a_batch_with_no_capped_campaign_reads_zero_and_leases_every_step(
    ctx: Context, clock: ManualClock
) -> None:
    """No campaign of the batch caps a channel per day: every step reads 0 and is leased."""
    uncapped = await load(ctx, UNCAPPED)
    await add_leads(ctx, 3)
    await _sent(ctx, uncapped, "sms", clock.now(), 2)
    await ctx.repos.campaigns.enroll(clock.now())
    steps = await ctx.repos.campaigns.claim_due("test", 500, 600, clock.now())
    assert [s.sent_today for s in steps] == [0, 0, 0]
    leased = await query(ctx, "select count(*) n from enrollments where lease_owner = 'test'")
    assert leased == [{"n": 3}]
