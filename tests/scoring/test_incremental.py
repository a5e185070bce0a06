"""Between two models, an hourly growth run scores only the leads whose features changed;
a new model scores every lead (20261126001300_scoring_incremental.sql)."""

from __future__ import annotations

from datetime import timedelta

from app.core.clock import ManualClock
from app.jobs import growth
from app.jobs.bootstrap import Context
from tests.scoring import helpers as h

HOUR = timedelta(hours=1)


async def scored_at(ctx: Context) -> dict[int, float | None]:
    rows = await h.execute(ctx, "select id, score from leads order by id")
    return {r["id"]: r["score"] for r in rows}


async def test_only_changed_leads_are_rescored_until_a_new_model(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now()  # 10 days: past the horizon (a month-old score rounds to 0.0)
    a, b, c = [await h.lead(ctx, n, now - timedelta(days=10)) for n in (1, 2, 3)]
    first = await growth.scoring(ctx)
    assert (first["scored"], first["full_pass"]) == (3, True)

    clock.advance(HOUR)
    assert (await growth.scoring(ctx))["scored"] == 0  # nothing changed: nothing read

    clock.advance(HOUR)
    earlier = clock.now() - timedelta(minutes=1)  # features read events before now
    sent = await h.message(ctx, b, "email", earlier)
    await h.click(ctx, b, sent, earlier)
    await h.sms_reply(ctx, "+12125550003", earlier)  # lead c's number
    # score is no feature: clearing it marks nothing, and shows who was rescored
    await h.execute(ctx, "update leads set score = null where id in (%s, %s)", a, c)
    before = await scored_at(ctx)
    run = await growth.scoring(ctx)
    assert (run["scored"], run["full_pass"]) == (2, False)
    after = await scored_at(ctx)
    assert after[a] is None and after[c] is not None  # c's reply: rescored; a: left alone
    assert after[b] is not None and after[b] != before[b]  # the click moved b's score

    clock.advance(timedelta(hours=ctx.settings.scoring_retrain_hours))  # a new (prior) model
    renewed = await growth.scoring(ctx)
    assert (renewed["scored"], renewed["full_pass"]) == (3, True)
    assert (await scored_at(ctx))[a] is not None
    clock.advance(HOUR)
    assert (await growth.scoring(ctx))["scored"] == 0


async def test_a_lead_marked_while_a_run_scores_stays_marked(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now()
    lead = await h.lead(ctx, 1, now - timedelta(days=30))
    await growth.scoring(ctx)
    marked = await ctx.repos.scoring.marked()
    assert marked.lead_ids == []
    await h.message(ctx, lead, "sms", now)
    taken = await ctx.repos.scoring.marked()
    await h.click(ctx, lead, None, now)  # marked again after the run read the marks
    await ctx.repos.scoring.clear_marks(taken.upto, None, now)
    assert (await ctx.repos.scoring.marked()).lead_ids == [lead]


async def test_an_opt_out_and_an_ended_call_mark_their_lead_and_a_score_does_not(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now()
    a, b = [await h.lead(ctx, n, now - timedelta(days=30)) for n in (1, 2)]
    call = await h.call(ctx, b, "answered", now, status="queued", ended_at=None)
    await growth.scoring(ctx)  # the new model's full pass clears every mark
    assert (await ctx.repos.scoring.marked()).lead_ids == []
    await h.execute(ctx, "update leads set score = 50, hot_at = %s where id = %s", now, a)
    assert (await ctx.repos.scoring.marked()).lead_ids == []  # its own output: no mark
    await h.execute(ctx, "update leads set sms_opted_out_at = %s where id = %s", now, a)
    ended = "update calls set status = 'ended', ended_at = %s where id = %s"
    await h.execute(ctx, ended, now, call)
    assert (await ctx.repos.scoring.marked()).lead_ids == [a, b]


async def test_a_young_lead_is_rescored_every_run(ctx: Context, clock: ManualClock) -> None:
    """A lead whose enquiry is younger than the horizon is rescored every hour, marked or
    not: its days since the enquiry move, and with them its chance."""
    now = clock.now()
    old = await h.lead(ctx, 1, now - timedelta(days=30))
    young = await h.lead(ctx, 2, now - timedelta(hours=2))
    assert (await growth.scoring(ctx))["full_pass"] is True
    clock.advance(HOUR)
    await h.execute(ctx, "update leads set score = null where id in (%s, %s)", old, young)
    assert (await growth.scoring(ctx))["scored"] == 1
    after = await scored_at(ctx)
    assert after[old] is None and after[young] is not None
