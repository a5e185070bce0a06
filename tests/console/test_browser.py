"""The console in a real headless Chromium, as the owner uses it: sign in through the form,
search a lead, open their timeline, pause a campaign with a click and see it paused.

Skipped when no chromium binary is installed (`apt-get install -y chromium`).
NIGHTSHIFT_UPDATE_SCREENSHOT=1 also copies the screenshots to docs/console-overview.png and
docs/console-lead.png (shown in the README).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.webhooks import create_app
from tests.campaigns.helpers import query
from tests.console.conftest import TOKEN
from tests.console.test_leads import seed_maria
from tests.status.cdp import browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary found (install: apt-get install -y chromium)"
)


@pytest.fixture
async def origin(ctx: Context) -> AsyncIterator[str]:
    """The app on 127.0.0.1, no header added: the browser signs in through the form."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    config = uvicorn.Config(create_app(ctx), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    await task
    sock.close()


async def busy_day(ctx: Context, clock: ManualClock) -> int:
    """Maria's history, a few more leads and today's sends, a hot lead not yet called."""
    lid = await seed_maria(ctx, clock)
    await query(
        ctx,
        "insert into leads (name, phone, score, hot_at, status, created_at) values"
        " ('Dana Whitfield', '+13125550160', 93, %s, 'engaged', %s),"
        " ('Luis Ortega', '+13125550161', 71, null, 'contacted', %s) returning id",
        clock.now(),
        clock.now(),
        clock.now(),
    )
    for n, lead in enumerate(await query(ctx, "select id, phone from leads order by id")):
        await query(
            ctx,
            "insert into messages (idempotency_key, lead_id, channel, provider,"
            " to_address, status, sent_at) values (%s, %s, 'sms', 'twilio', %s,"
            " 'delivered', %s) returning id",
            f"today-{n}",
            lead["id"],
            lead["phone"],
            clock.now() - timedelta(minutes=30 + n),
        )
    return lid


async def test_sign_in_search_timeline_pause(
    ctx: Context, clock: ManualClock, origin: str, tmp_path: Path
) -> None:
    assert CHROMIUM is not None
    lid = await busy_day(ctx, clock)
    async with browser(CHROMIUM, tmp_path / "profile", height=1100) as page:
        await page.goto(f"{origin}/console")
        assert 'action="/status/login"' in await page.html()  # not signed in: the form only
        await page.type_into("input[name=token]", TOKEN)
        await page.click("button[type=submit]")
        overview = await page.html()
        assert 'id="verdict"' in overview and 'data-figure="contacted"><b>5</b>' in overview
        assert "Dana Whitfield" in overview  # hottest lead not yet called
        overview_png = await page.screenshot(tmp_path / "console-overview.png")

        await page.goto(f"{origin}/console/leads")
        await page.type_into("input[name=q]", "gonzalez")
        await page.click("#search button[type=submit]")
        results = await page.html()
        assert "Maria Gonzalez" in results and "Dana Whitfield" not in results
        await page.click(f'a[href="/console/leads/{lid}"]')
        lead = await page.html()
        assert "Booked a tune-up for Friday" in lead and "Yes please, Friday" in lead
        assert 'class="event call"' in lead
        lead_png = await page.screenshot(tmp_path / "console-lead.png")

        await page.goto(f"{origin}/console/campaigns")
        assert 'data-status="active"' in await page.html()
        await page.type_into("input[name=reason]", "owner on holiday")
        await page.click("button[value=pause]")
        paused = await page.html()
        assert 'data-status="paused"' in paused and "owner on holiday" in paused
    [row] = await query(ctx, "select status, paused_reason from campaigns")
    assert row == {"status": "paused", "paused_reason": "owner on holiday"}
    for png in (overview_png, lead_png):
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    if os.environ.get("NIGHTSHIFT_UPDATE_SCREENSHOT") == "1":
        for name in ("console-overview.png", "console-lead.png"):
            shutil.copyfile(tmp_path / name, ROOT / "docs" / name)
