"""A/B on nightshift's own clicks (issue 17 item 5): the drip seals each email's outbox key
in its tracked links, so a click on `/r/<token>` is attributed to the exact message and its
variant, and the bandit sees it (before, a click recorded `message_id = NULL` and no email
variant could ever win unless Resend's own click tracking was on)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import numpy as np

from app.campaigns import drip
from app.core.clock import ManualClock
from app.core.tokens import ClickToken, click_token, click_url, read_click_token, sign
from app.jobs.bootstrap import Context
from app.jobs.drip import drip_deps
from app.scoring.variants import update_variants
from tests.campaigns.helpers import add_leads, load, query
from tests.webhooks.helpers import PUBLIC, client

AB_EMAIL = """
slug: spring-ab
name: Spring A/B
timezone: America/New_York
caps: {new_per_day: 1000}
steps:
  - channel: email
    delay: 0m
    variants:
      - {name: a, subject: "Tune-up time", html: '<p><a href="https://example.com/book">Book</a></p>'}
      - name: b
        subject: "Save 20% this week"
        html: '<p>Only this week: <a href="https://example.com/book?offer=20">20% off</a></p>'
"""
LINK = re.compile(r'href="([^"]+/r/[^"]+)"')


async def _sent_emails(ctx: Context) -> list[dict[str, Any]]:
    return await query(
        ctx, "select id, status, payload from messages where channel = 'email' order by id"
    )


async def _click(ctx: Context, message: dict[str, Any]) -> None:
    (url,) = LINK.findall(message["payload"]["html"])
    async with client(ctx) as http:
        path = url.removeprefix(ctx.settings.public_base_url)
        response = await http.get(path, headers={"User-Agent": "iPhone Mail"})
    assert response.status_code == 302
    assert response.headers["location"].startswith("https://example.com/book")


async def test_clicks_on_tracked_links_make_the_clicked_variant_win(
    ctx: Context, clock: ManualClock
) -> None:
    campaign = await load(ctx, AB_EMAIL)
    await add_leads(ctx, 60)
    await ctx.repos.campaigns.enroll(clock.now())
    assert await drip.run(drip_deps(ctx)) == {"advance": 60}
    emails = await _sent_emails(ctx)
    by_variant = {v: [m for m in emails if m["payload"]["variant"] == v] for v in "ab"}
    assert len(by_variant["a"]) >= 15 and len(by_variant["b"]) >= 15

    clock.advance(timedelta(hours=3))  # the readers open their mail and click
    for message in by_variant["b"][:12]:
        await _click(ctx, message)
    await _click(ctx, by_variant["a"][0])
    await _click(ctx, by_variant["b"][0])  # a second click on one message counts it once

    clicks = await query(ctx, "select message_id from click_events order by id")
    ids = {m["id"] for m in by_variant["b"][:12]} | {by_variant["a"][0]["id"]}
    assert {c["message_id"] for c in clicks} == ids  # each click names its exact message
    clicked = {m["id"] for m in await _sent_emails(ctx) if m["status"] == "clicked"}
    assert clicked == ids

    stats = await ctx.repos.scoring.variant_stats(90, 7, clock.now())
    arms = {s.variant: (s.campaign_id, s.sent, s.clicked) for s in stats}
    assert arms == {
        "a": (campaign, len(by_variant["a"]), 1),
        "b": (campaign, len(by_variant["b"]), 12),
    }
    rng = np.random.default_rng(17)
    await update_variants(ctx.repos.scoring, clock.now(), ctx.settings, rng)
    (decision,) = await ctx.repos.scoring.variant_decisions()
    assert decision.goal == "click"
    assert decision.p_best["b"] > 0.99  # the drip now sends b to almost everyone
    (step,) = await query(ctx, "select template from campaign_steps")
    assert step["template"]["ab"]["weights"]["b"] > 0.99


async def test_a_click_on_an_old_token_without_a_message_still_redirects(ctx: Context) -> None:
    """Links sent before the message key existed carry no message: they still work."""
    url = click_url(ctx.settings, ClickToken("https://example.com/book", None, None, None))
    async with client(ctx) as http:
        response = await http.get(url.removeprefix(PUBLIC))
    assert response.status_code == 302
    (click,) = await query(ctx, "select message_id, lead_id from click_events")
    assert click == {"message_id": None, "lead_id": None}


def test_the_message_key_is_sealed_in_the_token() -> None:
    secret = b"k" * 32
    link = ClickToken("https://example.com/book", 7, None, 3, "drip:41:0")
    token = click_token(secret, link)
    assert read_click_token(secret, token) == link
    mac = token.partition(".")[2]
    forged = click_token(b"other", ClickToken(link.url, 7, None, 3, "drip:99:0"))
    # another message's key cannot be swapped in: the MAC covers it
    assert read_click_token(secret, forged.partition(".")[0] + "." + mac) is None
    old = sign(secret, "r", {"u": link.url, "l": 7, "c": 3})  # a link minted before the key
    assert read_click_token(secret, old) == ClickToken(link.url, 7, None, 3, None)
