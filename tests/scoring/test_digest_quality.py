"""Call quality is in the operator's daily digest (issue 17 item 5): the connected calls of
the 7 days to the end of the digest's day against the 7 before, from `quality_weekly`."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from app.appointments.digest import build_digest
from app.core.clock import ManualClock
from app.core.settings import Settings
from app.jobs import growth
from app.jobs.bootstrap import Context
from tests.conftest import make_settings
from tests.scoring import helpers as h

DAY = timedelta(days=1)


@pytest.fixture
def settings() -> Settings:
    return make_settings(
        nightshift_env="development", business_timezone="America/Chicago",
        operator_emails="owner@example.com", digest_hour=7,
    )  # fmt: skip


async def _digest_text(ctx: Context) -> str:
    (row,) = await h.execute(
        ctx, "select payload->>'text' text from messages where idempotency_key like 'digest:%%'"
    )
    return str(row["text"])


async def test_the_digest_shows_the_weeks_call_quality_against_the_week_before(
    ctx: Context, clock: ManualClock
) -> None:
    # the clock: Thu 2026-11-26 09:00 in Chicago; the digest is Wednesday's (ends 06:00 UTC)
    end_of_day = datetime.fromisoformat("2026-11-26T06:00:00+00:00")
    lead = await h.lead(ctx, 1, clock.now() - 30 * DAY)
    await h.scored_calls(ctx, lead, end_of_day - 10 * DAY, [80] * 20)  # the week before: 80
    await h.scored_calls(ctx, lead, end_of_day - 3 * DAY, [70] * 15 + [30] * 10)  # 54, 10 low
    await h.call(ctx, lead, "no_answer", end_of_day - 2 * DAY)  # no conversation: not counted
    # this morning, after the digest's day ended: not in Wednesday's digest
    await h.scored_calls(ctx, lead, end_of_day + timedelta(hours=2), [0] * 5)

    assert (await growth.digest(ctx)) == {"digest_sent": True}
    text = await _digest_text(ctx)
    assert (
        "Call quality (connected calls, 7 days): 54 average over 25 call(s), 10 below 40; "
        "week before 80 over 20 call(s) (down 26)"
    ) in text
    assert text.index("Bookings:") < text.index("Call quality") < text.index("Hot leads")


async def test_a_week_without_scored_calls_says_so(ctx: Context) -> None:
    scoring = ctx.repos.scoring
    built = await build_digest(ctx.repos.appointments, ctx.clock.now(), ctx.settings,
                               scoring=scoring)  # fmt: skip
    assert "Call quality (connected calls, 7 days): none scored" in built.text
    assert built.numbers["call_quality"]["week_calls"] == 0
    # without the scoring repository (an older caller) the digest has no quality line
    plain = await build_digest(ctx.repos.appointments, ctx.clock.now(), ctx.settings)
    assert "Call quality" not in plain.text
