"""scoring_features on a small hand-built history with known answers."""

from __future__ import annotations

from datetime import timedelta

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import load
from tests.scoring import helpers as h

DAY = timedelta(days=1)


async def _history(ctx: Context, clock: ManualClock) -> dict[str, int]:
    now = clock.now()
    campaign = await load(ctx)
    engaged = await h.lead(ctx, 1, now - 10 * DAY, industry="HVAC", state="NY", source="web")
    email = await h.message(ctx, engaged, "email", now - 5 * DAY, "clicked", campaign_id=campaign)
    await h.message(ctx, engaged, "sms", now - 6 * DAY)
    await h.click(ctx, engaged, email, now - 1 * DAY)
    await h.sms_reply(ctx, "+12125550001", now - 2 * DAY)
    await h.call(ctx, engaged, "answered", now - 3 * DAY)
    await h.call(ctx, engaged, "no_answer", now - 4 * DAY)
    await h.call(ctx, engaged, "voicemail", now - 4 * DAY + timedelta(hours=5))
    cold = await h.lead(ctx, 2, now - 3 * DAY, calls_opted_out_at=now - DAY)
    booked = await h.lead(ctx, 3, now - 60 * DAY)
    await h.message(ctx, booked, "sms", now - 40 * DAY)
    await h.appointment(ctx, booked, now - 35 * DAY)
    await h.click(ctx, booked, None, now - 20 * DAY)  # after the booking: not a train feature
    lost = await h.lead(ctx, 4, now - 60 * DAY)
    await h.message(ctx, lost, "email", now - 40 * DAY, "opened")
    return {"engaged": engaged, "cold": cold, "booked": booked, "lost": lost}


async def test_score_mode_counts_every_signal(ctx: Context, clock: ManualClock) -> None:
    ids = await _history(ctx, clock)
    rows = {
        r["lead_id"]: r for r in await ctx.repos.scoring.features("score", 30, 180, clock.now())
    }
    assert set(rows) == set(ids.values())
    e = rows[ids["engaged"]]
    assert (e["emails_sent"], e["emails_opened"], e["clicks"], e["sms_sent"]) == (1, 1, 1, 1)
    assert (e["sms_replies"], e["calls_answered"], e["calls_unanswered"]) == (1, 1, 1)
    assert e["calls_voicemail"] == 1
    assert abs(e["days_since_engagement"] - 1.0) < 1e-3  # the click, yesterday
    assert e["last_click_campaign"] == "tune-up"
    assert (e["industry"], e["state"], e["source"]) == ("HVAC", "NY", "web")
    assert abs(e["lead_age_days"] - 4.0) < 1e-3  # age when first contacted (6 days ago)
    assert e["label"] is None  # first contact 6 days ago: horizon still open
    c = rows[ids["cold"]]
    assert (c["clicks"], c["calls_answered"], c["days_since_engagement"]) == (0, 0, None)
    assert (c["call_ok"], c["sms_ok"], c["email_ok"]) == (0.0, 1.0, 1.0)
    assert c["first_contact_at"] is None and c["label"] is None
    assert rows[ids["booked"]]["clicks"] == 1  # scoring sees everything up to now


async def test_train_mode_labels_and_cuts_off_at_the_outcome(
    ctx: Context, clock: ManualClock
) -> None:
    ids = await _history(ctx, clock)
    rows = {
        r["lead_id"]: r for r in await ctx.repos.scoring.features("train", 30, 180, clock.now())
    }
    assert set(rows) == {ids["booked"], ids["lost"]}  # only leads with a known outcome
    booked, lost = rows[ids["booked"]], rows[ids["lost"]]
    assert booked["label"] is True and lost["label"] is False
    assert booked["cutoff_at"] == clock.now() - 35 * DAY  # the booking
    assert booked["clicks"] == 0  # the later click does not leak into training
    # observed at first contact + a booked lead's delay (the only one: 5 days)
    assert lost["cutoff_at"] == clock.now() - 35 * DAY
    assert (lost["emails_sent"], lost["emails_opened"]) == (1, 1)
    assert abs(lost["lead_age_days"] - 20.0) < 1e-3


async def test_train_mode_respects_the_horizon_and_window(ctx: Context, clock: ManualClock) -> None:
    now = clock.now()
    late = await h.lead(ctx, 5, now - 100 * DAY)
    await h.message(ctx, late, "sms", now - 90 * DAY)
    await h.appointment(ctx, late, now - 50 * DAY)  # 40 days after first contact: too late
    old = await h.lead(ctx, 6, now - 400 * DAY)
    await h.message(ctx, old, "sms", now - 300 * DAY)
    rows = {r["lead_id"]: r for r in await ctx.repos.scoring.features("train", 30, 180, now)}
    assert rows[late]["label"] is False
    assert rows[late]["cutoff_at"] == now - 60 * DAY  # nobody booked: first contact + horizon
    assert old not in rows  # first contact outside the 180-day window
