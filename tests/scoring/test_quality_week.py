"""Call quality is seen: the week's figures against the week before, and a warning alert
while the week's average is CALL_QUALITY_DROP_MARGIN points below it."""

from __future__ import annotations

from datetime import timedelta

from app.core.clock import ManualClock
from app.jobs import growth
from app.jobs.bootstrap import Context
from tests.scoring import helpers as h

DAY = timedelta(days=1)


async def _scored_calls(ctx: Context, lead: int, days_ago: float, scores: list[int]) -> None:
    now = ctx.clock.now()
    for i, score in enumerate(scores):
        ended = now - timedelta(days=days_ago) + i * timedelta(minutes=10)
        call = await h.call(ctx, lead, "answered", ended, connected_at=ended)
        await h.execute(
            ctx, "insert into call_quality (call_id, score, scored_at) values (%s, %s, %s)",
            call, score, ended,
        )  # fmt: skip
    # an unanswered call scores a neutral 50: not a conversation, not counted
    await h.call(ctx, lead, "no_answer", now - timedelta(days=days_ago))


async def _firing(ctx: Context) -> list[str]:
    listed = await ctx.repos.alerts.list_alerts(ctx.clock.now(), limit=50)
    return [item.alert.title for item in listed if item.alert.key == "call_quality_drop"]


async def test_a_weekly_drop_raises_a_warning_and_a_recovery_resolves_it(
    ctx: Context, clock: ManualClock
) -> None:
    lead = await h.lead(ctx, 1, clock.now() - 30 * DAY)
    await _scored_calls(ctx, lead, 10, [80] * 25)  # the week before: 80
    await _scored_calls(ctx, lead, 3, [70] * 15 + [30] * 10)  # this week: 54, 10 low
    week = await ctx.repos.scoring.quality_week(40, clock.now())
    assert (week.week_calls, week.previous_calls, week.week_low) == (25, 25, 10)
    assert (round(week.week_avg or 0), round(week.previous_avg or 0)) == (54, 80)
    counts = await growth.quality(ctx)
    assert round(counts["call_quality_week"]) == 54
    assert await _firing(ctx) == [
        "Call quality dropped 26 points this week: 54 over 25 calls against 80 the week "
        "before (10 calls below review level)"
    ]
    clock.advance(8 * DAY)  # the bad week is now the week before; this week has no calls
    await growth.quality(ctx)
    assert await _firing(ctx) == []


async def test_a_small_week_never_alerts(ctx: Context, clock: ManualClock) -> None:
    lead = await h.lead(ctx, 1, clock.now() - 30 * DAY)
    await _scored_calls(ctx, lead, 10, [90] * 25)
    await _scored_calls(ctx, lead, 3, [20] * 5)  # 5 calls: too few to judge
    await growth.quality(ctx)
    assert await _firing(ctx) == []
