"""Call quality on /status (issue 17 item 5): this week's average of connected calls, the
week before's and the change, with the digest's numbers and words (one query serves both)."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx

from app.appointments.digest import build_digest
from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.status.data import collect
from app.webhooks import create_app
from tests.scoring import helpers as h
from tests.status.conftest import TOKEN

DAY = timedelta(days=1)


async def _page(ctx: Context) -> str:
    app = create_app(ctx)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://h.test") as http:
            response = await http.get("/status", headers={"authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    return response.text


def _section(page: str) -> str:
    match = re.search(r'<section id="quality">(.*?)</section>', page, re.DOTALL)
    assert match, "no quality section"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match[1]))


async def test_status_shows_the_weeks_call_quality_as_the_digest_does(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now()
    lead = await h.lead(ctx, 1, now - 30 * DAY)
    await h.scored_calls(ctx, lead, now - 10 * DAY, [80] * 20)  # the week before: 80
    await h.scored_calls(ctx, lead, now - 3 * DAY, [70] * 15 + [30] * 10)  # 54, 10 below 40
    await h.call(ctx, lead, "no_answer", now - 2 * DAY)  # no conversation: not counted

    snap = await collect(ctx)
    today = now.astimezone(ZoneInfo(ctx.settings.business_timezone)).date()  # ends after now
    digest = await build_digest(ctx.repos.appointments, now, ctx.settings, today,
                                scoring=ctx.repos.scoring)  # fmt: skip
    line = (
        "Call quality (connected calls, 7 days): 54 average over 25 call(s), 10 below 40; "
        "week before 80 over 20 call(s) (down 26)"
    )
    assert line in digest.text and snap["call_quality"]["line"] == line
    assert {k: v for k, v in snap["call_quality"].items() if k != "line"} == (
        digest.numbers["call_quality"]
    )

    text = _section(await _page(ctx))
    assert "Call quality (connected calls, 0-100): change -26" in text
    assert "last 7 days 25 54 10" in text and "the 7 before 20 80" in text
    assert line in text


async def test_without_scored_calls_the_section_says_so(ctx: Context) -> None:
    text = _section(await _page(ctx))
    assert "change -" in text and "none scored" in text
