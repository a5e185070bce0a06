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
    rows = {r["lead_id"]: r for r in await ctx.repos.scoring.features(clock.now())}
    assert set(rows) == set(ids.values())
    e = rows[ids["engaged"]]
    assert (e["emails_sent"], e["emails_opened"], e["clicks"], e["sms_sent"]) == (1, 1, 1, 1)
    assert (e["sms_replies"], e["calls_answered"], e["calls_unanswered"]) == (1, 1, 1)
    assert e["calls_voicemail"] == 1
    assert abs(e["days_since_engagement"] - 1.0) < 1e-3  # the click, yesterday
    assert e["last_click_campaign"] == "tune-up"
    assert (e["industry"], e["state"], e["source"]) == ("HVAC", "NY", "web")
    assert abs(e["lead_age_days"] - 4.0) < 1e-3  # age when first contacted (6 days ago)
    assert abs(e["days_since_enquiry"] - 10.0) < 1e-3
    assert e["label"] is None  # no horizon asked: no label
    c = rows[ids["cold"]]
    assert (c["clicks"], c["calls_answered"], c["days_since_engagement"]) == (0, 0, None)
    assert (c["call_ok"], c["sms_ok"], c["email_ok"]) == (0.0, 1.0, 1.0)
    assert c["first_contact_at"] is None and c["label"] is None
    assert rows[ids["booked"]]["clicks"] == 1  # scoring sees everything up to now
    assert rows[ids["booked"]]["booked"] is True


async def test_snapshot_rows_label_the_horizon_after_each_time(
    ctx: Context, clock: ManualClock
) -> None:
    ids = await _history(ctx, clock)
    now = clock.now()
    times = [now - 50 * DAY, now - 38 * DAY, now - 36 * DAY, now - 30 * DAY]
    rows = await ctx.repos.scoring.features(now, times=times, at_risk=True, horizon_days=7)
    by = {(r["lead_id"], r["cutoff_at"]): r for r in rows}
    booked, lost = ids["booked"], ids["lost"]
    # 50 days ago nobody was contacted yet: not at risk
    assert not [k for k in by if k[1] == now - 50 * DAY]
    assert by[(booked, now - 38 * DAY)]["label"] is True  # books 3 days later: within 7
    assert by[(booked, now - 36 * DAY)]["label"] is True
    assert (booked, now - 30 * DAY) not in by  # booked by then: no longer at risk
    assert by[(booked, now - 36 * DAY)]["clicks"] == 0  # the later click does not leak in
    assert by[(lost, now - 30 * DAY)]["label"] is False
    assert (
        by[(lost, now - 30 * DAY)]["emails_sent"],
        by[(lost, now - 30 * DAY)]["emails_opened"],
    ) == (1, 1)
    # the engaged lead was created 10 days ago: no row at these times
    assert not [k for k in by if k[0] == ids["engaged"]]


async def test_the_label_is_open_until_the_horizon_passed(ctx: Context, clock: ManualClock) -> None:
    ids = await _history(ctx, clock)
    now = clock.now()
    rows = await ctx.repos.scoring.features(
        now, times=[now - 3 * DAY], at_risk=True, horizon_days=7
    )
    assert {r["lead_id"] for r in rows} == {ids["engaged"], ids["lost"]}
    assert all(r["label"] is None for r in rows)  # (t, t + 7 days] has not closed yet
