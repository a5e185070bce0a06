"""The A/B counts come from closed hours of sends kept once (issue 19; migration
20261208110000): each hourly call counts only the hours that closed or changed since the
last one, and answers exactly what the rows alone give (internal.variant_stats_rows, the
former computation), including what lands on old sends after their hour was kept: a click
on a 10-day-old email, a text reply to a 3-day-old text, a booking by a lead texted 5 days
ago, a late bounce, and an erased lead (GDPR) gone from every count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.core.clock import ManualClock
from app.db.console import ConsoleRepository
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import load
from tests.scoring import helpers as h
from tests.scoring.test_variant_goals import AB_EMAIL, AB_SMS

HORIZON = 14


async def both(ctx: Context, now: datetime, horizon: int = HORIZON) -> list[tuple[Any, ...]]:
    """variant_stats (the growth step's read) asserted equal to the rows alone."""
    arms = await ctx.repos.scoring.variant_stats(90, horizon, now)
    got = [(a.campaign_id, a.step_id, a.channel, a.variant, a.sent, a.clicked, a.replied,
            a.booked) for a in arms]  # fmt: skip
    rows = await h.execute(
        ctx, "select * from internal.variant_stats_rows(90, %s, %s)", horizon, now
    )
    assert got == [tuple(r.values()) for r in rows]
    return got


async def hours_counted(ctx: Context, now: datetime, horizon: int = HORIZON) -> int:
    first = (now - timedelta(days=90)).replace(minute=0, second=0, microsecond=0)
    opened = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    rows = await h.execute(
        ctx, "select internal.variant_rollup(%s, %s, %s, %s) n",
        first + timedelta(hours=1), opened, horizon, now,
    )  # fmt: skip
    return int(rows[0]["n"])


async def history(ctx: Context, now: datetime) -> dict[str, Any]:
    """60 leads, each sent a text and an email of two variants over ~17 days (odd minutes),
    some bounced or clicked, some replied to or booked."""
    sms_campaign = await load(ctx, AB_SMS)
    email_campaign = await load(ctx, AB_EMAIL)
    steps = {r["channel"]: r["id"] for r in await h.execute(
        ctx, "select id, channel from campaign_steps")}  # fmt: skip
    sends: dict[str, Any] = {}
    for n in range(1, 61):
        sent = now - timedelta(hours=7 * n, minutes=13)
        lead = await h.lead(ctx, n, sent - timedelta(days=1))
        phone = f"+1212555{n:04d}"
        status = ("delivered", "bounced", "clicked", "delivered", "undelivered")[n % 5]
        sms = await h.message(ctx, lead, "sms", sent, status, to_address=phone,
                              campaign_id=sms_campaign, step_id=steps["sms"],
                              payload={"variant": "ab"[n % 2]})  # fmt: skip
        email = await h.message(ctx, lead, "email", sent + timedelta(minutes=3), "delivered",
                                to_address=f"lead{n}@example.com", campaign_id=email_campaign,
                                step_id=steps["email"],
                                payload={"variant": "ab"[n % 3 % 2]})  # fmt: skip
        if n % 4 == 0:
            await h.sms_reply(ctx, phone, sent + timedelta(hours=2))
        if n % 6 == 0:
            await h.appointment(ctx, lead, sent + timedelta(days=2))
        if n % 7 == 0:
            await h.click(ctx, lead, email, sent + timedelta(hours=1))
        sends[f"{n}"] = {
            "n": n,
            "lead": lead,
            "sms": sms,
            "email": email,
            "sent": sent,
            "phone": phone,
        }
    return sends


async def test_late_clicks_replies_bookings_and_an_erasure_count_where_they_did(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now() + timedelta(minutes=17)
    sends = await history(ctx, now)
    before = await both(ctx, now)
    assert before and any(arm[6] for arm in before) and any(arm[7] for arm in before)

    # the next hour: on sends whose hours are kept
    day = timedelta(days=1)
    ten = next(s for s in sends.values() if 9 * day < now - s["sent"] < 11 * day)
    await h.click(ctx, ten["lead"], ten["email"], now + timedelta(minutes=5))
    three = next(s for s in sends.values() if 2 * day < now - s["sent"] < 3 * day
                 and s["n"] % 5 in (0, 3) and s["n"] % 4)  # delivered, no reply  # fmt: skip
    await h.sms_reply(ctx, three["phone"], now + timedelta(minutes=10))
    five = next(s for s in sends.values() if 4 * day < now - s["sent"] < 6 * day)
    await h.appointment(ctx, five["lead"], now + timedelta(minutes=20))
    await h.execute(ctx, "update messages set status = 'bounced' where id = %s", sends["15"]["sms"])
    replied = sends["8"]  # replied to and sent to, 2 days ago
    assert await ConsoleRepository(ctx.transport).erase(replied["lead"], "s-1", now)

    later = now + timedelta(hours=1)
    after = await both(ctx, later)
    assert after != before
    sms_sent = sum(a[4] for a in after if a[2] == "sms")
    assert sms_sent == sum(a[4] for a in before if a[2] == "sms") - 2  # bounced, erased
    # a change of horizon recounts every hour with it
    await both(ctx, later, horizon=1)
    await both(ctx, later)


async def test_a_call_counts_only_the_hours_that_closed_or_changed(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now() + timedelta(minutes=5)
    sends = await history(ctx, now)
    assert await hours_counted(ctx, now) == 90 * 24 - 1  # the first: the window, once
    assert await hours_counted(ctx, now + timedelta(minutes=40)) == 0  # the same hour
    assert await hours_counted(ctx, now + timedelta(hours=1)) == 1  # the hour that closed
    await h.execute(ctx, "update messages set status = 'opened' where status = 'delivered'")
    assert await hours_counted(ctx, now + timedelta(hours=1)) == 0  # an open: no count moves
    s = sends["20"]
    await h.click(ctx, s["lead"], s["email"], now + timedelta(minutes=30))
    assert await hours_counted(ctx, now + timedelta(hours=1)) == 1  # that email's hour


async def test_an_hourly_call_over_55_days_of_sends_answers_what_the_rows_do(
    ctx: Context, clock: ManualClock
) -> None:
    """Issue 19, stop 26: internal.variant_arms reads each range's sends by its own lateral
    subquery (its join on the ranges' bounds was planned as a scan of every message on a
    kept day-28 database of 10,000 leads: bench/growth_steps_ab.py shows the plans). With
    20,000 texts over 55 days, the next hour's call answers what the rows alone do. The
    plan itself is not asserted here: on a table this small the planner's choice moved
    between runs of the same code (a count of sequential scans failed and passed)."""
    now = clock.now() + timedelta(minutes=17)
    await history(ctx, now)
    await h.execute(
        ctx,
        "insert into messages (idempotency_key, lead_id, campaign_id, step_id, channel,"
        " provider, to_address, status, sent_at, created_at, updated_at, payload)"
        " select 'bulk-' || g, m.lead_id, m.campaign_id, m.step_id, 'sms', 'dryrun',"
        " m.to_address, 'delivered', t, t, t,"
        " jsonb_build_object('variant', (array['a', 'b'])[1 + mod(g, 2)])"
        " from generate_series(1, 20000) g"
        " cross join (select array_agg(x.id order by x.id) ids from messages x"
        "   where x.channel = 'sms' and x.step_id is not null) k"
        " join messages m on m.id = k.ids[1 + mod(g, 60)]"
        " cross join lateral (select %s::timestamptz - g * interval '4 minutes' t) s",
        now - timedelta(hours=1),
    )  # fmt: skip
    await h.execute(ctx, "analyze messages")
    await both(ctx, now)  # the window summed once

    after = await both(ctx, now + timedelta(hours=1))
    assert sum(a[4] for a in after if a[2] == "sms") > 20000
