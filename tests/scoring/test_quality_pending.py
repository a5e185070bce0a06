"""growth's quality step reads the calls to score (quality_pending): the ended calls not
scored yet, the first p_limit by id, found from the index of ended calls and call_quality's
key alone (issue 19, stop 26), answering what the former read of every call did."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from tests.scoring import helpers as h

# HEAD's read before stop 26 (67c7449): every call's row, then the anti-join
FORMER = (
    "select k.id from calls k where k.status = 'ended' and k.ended_at <= %s"
    " and not exists (select from call_quality q where q.call_id = k.id)"
    " order by k.id limit %s"
)


async def test_the_calls_to_score_are_the_first_ended_ones_not_scored(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now()
    lead = await h.lead(ctx, 1, now - timedelta(days=3))
    ids: list[int] = []
    for n in range(9):
        ids.append(await h.call(ctx, lead, ("answered", "no_answer", "booked")[n % 3],
                                now - timedelta(hours=20 - n)))  # fmt: skip
    # a call still talking, a call whose end is after `now` (a report ahead of the clock)
    talking = await h.call(ctx, lead, "answered", now - timedelta(hours=1), status="in-progress")
    later = await h.call(ctx, lead, "answered", now + timedelta(minutes=5))
    await ctx.repos.scoring.record_quality(
        [{"call_id": i, "score": 70, "reasons": []} for i in (ids[0], ids[2], ids[3])], now
    )

    async def pending(limit: int) -> list[int]:
        calls = await ctx.repos.scoring.quality_pending(limit, now)
        former: list[dict[str, Any]] = await h.execute(ctx, FORMER, now, limit)
        assert [c.call_id for c in calls] == [r["id"] for r in former]
        return [c.call_id for c in calls]

    assert await pending(2) == [ids[1], ids[4]]
    assert await pending(500) == [ids[1], *ids[4:]]
    assert talking not in await pending(500) and later not in await pending(500)
    (first,) = await ctx.repos.scoring.quality_pending(1, now)
    assert first.messages == []  # no end-of-call report stored for it
