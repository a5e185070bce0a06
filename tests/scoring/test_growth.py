"""The growth job's scoring: prior below the threshold, a trained model above it, scores and
reasons written back, hot leads flagged, and the call queue ordered by score."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.clock import ManualClock
from app.jobs import growth
from app.jobs.bootstrap import Context
from app.scoring.model import ScoreModel
from tests.conftest import Rebuild
from tests.scoring import helpers as h

DAY, HOUR = timedelta(days=1), timedelta(hours=1)


async def _engaged_and_silent(ctx: Context, clock: ManualClock) -> tuple[int, int]:
    """A fresh enquiry (6 hours ago) that was texted, replied, clicked and answered a call;
    a 5-day-old lead texted once and silent since."""
    now = clock.now()
    hot = await h.lead(ctx, 1, now - 6 * HOUR)
    sms = await h.message(ctx, hot, "sms", now - 5 * HOUR)
    await h.sms_reply(ctx, "+12125550001", now - 4 * HOUR)
    await h.click(ctx, hot, sms, now - 3 * HOUR)
    await h.call(ctx, hot, "answered", now - 2 * HOUR)
    cold = await h.lead(ctx, 2, now - 5 * DAY)
    await h.message(ctx, cold, "sms", now - 3 * DAY)
    return hot, cold


async def _bulk_outcomes(ctx: Context, clock: ManualClock, n: int = 240) -> None:
    """n leads contacted 60 days ago; a third clicked the next day; most clickers (and a few
    others) booked, spread over the 40 days after (lead i on day 58 - i % 40 before now):
    every daily snapshot from then on sees some of them book within its 7-day horizon."""
    now = clock.now()
    await h.execute(
        ctx,
        """
        insert into leads (name, phone, email, industry, created_at)
        select 'Bulk ' || i, '+1313555' || lpad(i::text, 4, '0'), 'bulk' || i || '@example.com',
               case when i %% 2 = 0 then 'hvac' else 'plumbing' end, %s
          from generate_series(0, %s - 1) i""",
        now - 70 * DAY,
        n,
    )
    await h.execute(
        ctx,
        """
        insert into messages (idempotency_key, lead_id, channel, provider, to_address, status,
                              sent_at, created_at, updated_at)
        select 'bulk-' || id, id, 'email', 'dryrun', email, 'sent', %s, %s, %s
          from leads where name like 'Bulk %%'""",
        *(now - 60 * DAY,) * 3,
    )
    await h.execute(
        ctx,
        """
        insert into click_events (token, lead_id, url, clicked_at)
        select 't', id, 'https://example.com', %s from leads
         where name like 'Bulk %%' and split_part(name, ' ', 2)::int %% 3 = 0""",
        now - 59 * DAY,
    )
    await h.execute(
        ctx,
        """
        insert into appointments (lead_id, starts_at, ends_at, created_at)
        select id, %s, %s,
               %s + make_interval(days => split_part(name, ' ', 2)::int %% 40)
          from leads
         where name like 'Bulk %%' and (split_part(name, ' ', 2)::int %% 3 = 0
                                        and split_part(name, ' ', 2)::int %% 4 <> 0
                                        or split_part(name, ' ', 2)::int %% 23 = 0)""",
        now - 10 * DAY,
        now - 10 * DAY + timedelta(hours=1),
        now - 58 * DAY,
    )


async def test_prior_is_used_below_the_threshold(ctx: Context, clock: ManualClock) -> None:
    hot, cold = await _engaged_and_silent(ctx, clock)
    counts = await growth.run(ctx)
    assert counts["scored"] == 2 and counts["newly_hot"] == 1
    assert counts["model"].startswith("prior scoring (v1): 0/200 outcomes, 0/20 bookings")
    stored = await ctx.repos.scoring.latest_model(clock.now())
    assert stored is not None and stored.kind == "prior"
    leads = {lead.lead_id: lead for lead in await ctx.repos.scoring.top_leads(10, clock.now())}
    assert leads[hot].score >= 40 > 10 > leads[cold].score
    assert leads[hot].hot_at == clock.now() and leads[cold].hot_at is None
    assert leads[hot].score_reasons[0] == "replied by SMS today"
    assert "but enquired 5 days ago" in leads[cold].score_reasons
    logs = await ctx.repos.logs.recent(10)
    assert any(log.source == "scoring" and "became hot" in log.message for log in logs)
    clock.advance(timedelta(hours=1))
    again = await growth.run(ctx)
    assert again["model_version"] == 1 and again["newly_hot"] == 0  # prior kept, hot once


async def test_the_prior_calls_fresh_engaged_leads_first_and_worn_out_ones_last(
    ctx: Context, clock: ManualClock
) -> None:
    """Before there is data, speed to lead: a fresh enquiry that clicked outranks a
    month-old lead called 5 times without an answer; yesterday's untouched enquiry outranks
    a week-old one; of two leads of the same day, the one never reached by 5 calls is last."""
    now = clock.now()
    fresh = await h.lead(ctx, 1, now - 3 * HOUR)
    email = await h.message(ctx, fresh, "email", now - 2 * HOUR)
    await h.click(ctx, fresh, email, now - HOUR)
    worn = await h.lead(ctx, 2, now - 30 * DAY)
    for k in range(5):
        await h.call(ctx, worn, "no_answer", now - (25 - 5 * k) * DAY)
    yesterday = await h.lead(ctx, 3, now - DAY)
    await h.message(ctx, yesterday, "sms", now - DAY + HOUR)
    last_week = await h.lead(ctx, 4, now - 7 * DAY)
    await h.message(ctx, last_week, "sms", now - 7 * DAY + HOUR)
    unreached = await h.lead(ctx, 5, now - 2 * DAY)
    await h.message(ctx, unreached, "sms", now - 2 * DAY + HOUR)
    for k in range(5):
        await h.call(ctx, unreached, "no_answer", now - 2 * DAY + (4 + 8 * k) * HOUR)
    untouched = await h.lead(ctx, 6, now - 2 * DAY)
    await h.message(ctx, untouched, "sms", now - 2 * DAY + HOUR)
    await growth.run(ctx)
    rows = await h.execute(ctx, "select id, score, score_reasons from leads")
    score = {r["id"]: r["score"] for r in rows}
    assert score[fresh] > 10 * score[worn]
    assert score[yesterday] > 4 * score[last_week]
    assert score[untouched] > 3 * score[unreached]
    order = sorted(score, key=lambda lead: -score[lead])
    assert order[0] == fresh and order[-1] == worn
    reasons = {r["id"]: r["score_reasons"] for r in rows}
    assert "but missed 5 calls" in reasons[worn] and "but missed 5 calls" in reasons[unreached]


async def test_enough_outcomes_train_a_model_that_learns_the_signal(
    ctx: Context, clock: ManualClock
) -> None:
    await _bulk_outcomes(ctx, clock)
    counts = await growth.run(ctx)
    stored = await ctx.repos.scoring.latest_model(clock.now())
    assert stored is not None and stored.kind == "logistic"
    # one row per lead at risk at each daily snapshot time (from 60 to 7 days ago)
    n = stored.metrics["outcomes"]
    assert 240 * 40 < n < 240 * 54 and stored.metrics["bookings"] >= 20
    assert counts["model"].startswith(f"trained logistic model v1 on {n} outcomes")
    model = ScoreModel.from_json(stored.model)
    coef = {f["name"]: f["coef"] for f in model.numeric}
    assert coef["clicks"] > 0.5  # the clickers booked
    assert stored.metrics["holdout_auc"] > 0.8
    rows = await h.execute(
        ctx,
        "select score, exists (select from click_events c "
        "where c.lead_id = l.id) clicked from leads l",
    )
    clicked = [r["score"] for r in rows if r["clicked"]]
    silent = [r["score"] for r in rows if not r["clicked"]]
    assert min(clicked) > max(silent)
    clock.advance(timedelta(hours=1))
    assert (await growth.run(ctx))["model_version"] == 1  # fresh model reused, not retrained
    clock.advance(timedelta(hours=24))
    assert (await growth.run(ctx))["model_version"] == 2  # retrained after a day


async def test_call_queue_is_ordered_by_score(ctx: Context, clock: ManualClock) -> None:
    hot, cold = await _engaged_and_silent(ctx, clock)
    await growth.run(ctx)
    for lead_id in (cold, hot):
        await h.execute(
            ctx,
            "insert into calls (idempotency_key, lead_id, to_number, status) "
            "values (%s, %s, '+12125550000', 'queued')",
            f"q{lead_id}",
            lead_id,
        )
    queue, _ = await ctx.repos.manager.call_queue(10, clock.now())
    assert [c.lead.id for c in queue] == [hot, cold]


async def test_a_failing_step_does_not_stop_the_others(
    ctx: Context, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    hot, _ = await _engaged_and_silent(ctx, clock)

    async def broken(ctx: Context) -> dict[str, int]:
        raise RuntimeError("boom")

    steps = tuple((name, broken if name == "variants" else step) for name, step in growth.STEPS)
    monkeypatch.setattr(growth, "STEPS", steps)
    with pytest.raises(growth.GrowthStepFailed, match="growth steps failed: variants"):
        await growth.run(ctx)
    leads = await ctx.repos.scoring.top_leads(10, clock.now())
    assert leads[0].lead_id == hot  # scoring ran before the failing step
    rows = await h.execute(ctx, "select count(*) n from call_quality")
    assert rows[0]["n"] == 1  # and quality after it


async def test_growth_sends_the_daily_digest_once_per_day(
    rebuild: Rebuild, clock: ManualClock
) -> None:
    ctx = await rebuild(operator_emails=["owner@example.com"])
    clock.set(clock.now().replace(hour=11))  # 06:00 in New York: before DIGEST_HOUR (7)
    assert (await growth.run(ctx))["digest_sent"] is False
    clock.advance(timedelta(hours=2))  # 08:00 in New York
    assert (await growth.run(ctx))["digest_sent"] is True
    assert (await growth.run(ctx))["digest_sent"] is False  # once per day
    rows = await h.execute(ctx, "select to_address from messages where channel = 'email'")
    assert [r["to_address"] for r in rows] == ["owner@example.com"]
