"""The A/B statistics count a reply and a booking against the sends they follow: an SMS
from the number a send went to within 7 days after it, an appointment within the horizon
after it. The edges, each on its own send (a rewrite of variant_stats must keep them: issue
19 tried one, a hash join of the window's replies, and its plan on stale statistics made the
simulation's day 3 call 350 ms)."""

from __future__ import annotations

from datetime import timedelta

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import load
from tests.scoring import helpers as h

AB_SMS = """
slug: ab-sms
name: A/B by text
timezone: America/New_York
steps:
  - channel: sms
    delay: 0m
    variants:
      - {name: a, body: "{{ business.name }}: tune-up time? Reply STOP to opt out"}
      - {name: b, body: "{{ business.name }}: 20% off this week. Reply STOP to opt out"}
"""


async def test_replies_and_bookings_count_only_within_their_window_after_a_send(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now()
    campaign = await load(ctx, AB_SMS)
    (step,) = await h.execute(ctx, "select id from campaign_steps")
    day = timedelta(days=1)
    sent = now - 10 * day  # every send at the same instant, one lead (one number) each

    async def send(n: int, variant: str) -> int:
        lead = await h.lead(ctx, n, sent - day)
        await h.message(ctx, lead, "sms", sent, "delivered", to_address=f"+1212555{n:04d}",
                        campaign_id=campaign, step_id=step["id"],
                        payload={"variant": variant})  # fmt: skip
        return lead

    # variant a: replied 1 h after, exactly 7 days after (counted); a reply before the send,
    # one 7 days and 1 s after, one from another number (not counted)
    await send(1, "a")
    await h.sms_reply(ctx, "+12125550001", sent + timedelta(hours=1))
    await send(2, "a")
    await h.sms_reply(ctx, "+12125550002", sent + 7 * day)
    await send(3, "a")
    await h.sms_reply(ctx, "+12125550003", sent - timedelta(minutes=1))
    await send(4, "a")
    await h.sms_reply(ctx, "+12125550004", sent + 7 * day + timedelta(seconds=1))
    await send(5, "a")
    await h.sms_reply(ctx, "+12125559999", sent + timedelta(hours=1))
    # variant b: two replies from one number count its send once; bookings: within the
    # 1-day horizon (counted), at the send's instant and after the horizon (not)
    await send(6, "b")
    await h.sms_reply(ctx, "+12125550006", sent + timedelta(hours=2))
    await h.sms_reply(ctx, "+12125550006", sent + timedelta(hours=3))
    booked = await send(7, "b")
    await h.appointment(ctx, booked, sent + timedelta(hours=5))
    early = await send(8, "b")
    await h.appointment(ctx, early, sent)
    late = await send(9, "b")
    await h.appointment(ctx, late, sent + day + timedelta(seconds=1))

    arms = await ctx.repos.scoring.variant_stats(30, 1, now)
    got = {a.variant: (a.sent, a.replied, a.booked) for a in arms}
    assert got == {"a": (5, 2, 0), "b": (4, 1, 1)}
    # a send older than the window is not counted, nor are its replies
    assert await ctx.repos.scoring.variant_stats(9, 1, now) == []


AB_EMAIL = """
slug: ab-email
name: A/B by email
timezone: America/New_York
steps:
  - channel: email
    delay: 0m
    variants:
      - {name: a, subject: "Tune-up time", html: '<p><a href="https://example.com/b">book</a></p>'}
      - {name: b, subject: "Save 20%", html: '<p><a href="https://example.com/b">book</a></p>'}
"""


async def test_a_text_reply_counts_for_the_text_it_answers_not_for_an_email_to_the_lead(
    ctx: Context, clock: ManualClock
) -> None:
    """A lead texts back an hour after both an email and a text reached them: the reply is
    the text's (the number it was sent to), never the email's (variant_stats probes the
    replies of SMS sends only)."""
    now = clock.now()
    email_campaign = await load(ctx, AB_EMAIL)
    sms_campaign = await load(ctx, AB_SMS)
    rows = await h.execute(ctx, "select id, channel from campaign_steps")
    steps = {r["channel"]: r["id"] for r in rows}
    sent = now - timedelta(days=2)
    lead = await h.lead(ctx, 1, sent - timedelta(days=1))
    await h.message(ctx, lead, "email", sent, "delivered", to_address="lead1@example.com",
                    campaign_id=email_campaign, step_id=steps["email"],
                    payload={"variant": "a"})  # fmt: skip
    await h.message(ctx, lead, "sms", sent, "delivered", to_address="+12125550001",
                    campaign_id=sms_campaign, step_id=steps["sms"],
                    payload={"variant": "b"})  # fmt: skip
    await h.sms_reply(ctx, "+12125550001", sent + timedelta(hours=1))

    arms = await ctx.repos.scoring.variant_stats(30, 1, now)
    got = {(a.channel, a.variant): (a.sent, a.replied) for a in arms}
    assert got == {("email", "a"): (1, 0), ("sms", "b"): (1, 1)}
