"""Tracked links and RFC 8058 one-click unsubscribe, and the token helpers."""

from __future__ import annotations

import pytest

from app.core.clock import ManualClock
from app.core.tokens import (
    ClickToken,
    UnsubscribeToken,
    click_token,
    click_url,
    link_secret,
    read_click_token,
    read_unsubscribe_token,
    unsubscribe_token,
    unsubscribe_url,
)
from app.jobs.bootstrap import Context
from tests.conftest import make_settings
from tests.webhooks.helpers import PUBLIC, Db, client, seed_campaign, seed_lead, sent_email

ANA = "ana.lima@example.org"
TARGET = "https://app.example.com/appointments/8812?utm_source=email"


def test_tokens_round_trip_and_refuse_forgeries() -> None:
    secret = b"k" * 32
    link = ClickToken(TARGET, lead_id=4, message_id=9, campaign_id=2)
    token = click_token(secret, link)
    assert read_click_token(secret, token) == link
    assert read_click_token(b"other", token) is None
    payload, mac = token.split(".")
    assert (
        read_click_token(secret, payload + "." + mac[:-1] + ("A" if mac[-1] != "A" else "B"))
        is None
    )
    assert read_click_token(secret, "x" + token) is None
    assert read_unsubscribe_token(secret, token) is None  # a click token never unsubscribes
    unsub = unsubscribe_token(secret, UnsubscribeToken("Ana.Lima@Example.org", lead_id=4))
    assert read_unsubscribe_token(secret, unsub) == UnsubscribeToken(ANA, 4)
    assert read_click_token(secret, unsub) is None
    with pytest.raises(ValueError):
        click_token(secret, ClickToken("javascript:alert(1)"))


def test_link_secret_sources() -> None:
    explicit = make_settings(link_signing_secret="s" * 40)
    assert link_secret(explicit) == b"s" * 40
    derived = make_settings(database_url="postgresql://u:p@db:5432/x")
    assert link_secret(derived) not in (b"s" * 40, link_secret(make_settings()))
    assert link_secret(derived) == link_secret(
        make_settings(database_url="postgresql://u:p@db:5432/x")
    )


async def test_click_records_and_redirects(ctx: Context, db: Db, clock: ManualClock) -> None:
    lead_id = await seed_lead(ctx, db, email=ANA)
    message_id = await sent_email(ctx, lead_id, ANA, "em-1", "k1")
    url = click_url(ctx.settings, ClickToken(TARGET, lead_id=lead_id, message_id=message_id))
    assert url.startswith(f"{PUBLIC}/r/")
    async with client(ctx) as http:
        response = await http.get(url.removeprefix(PUBLIC), headers={"User-Agent": "Mail/1"})
    assert response.status_code == 302 and response.headers["location"] == TARGET
    click = db.one(
        "select message_id, lead_id, url, host(ip) ip, user_agent, clicked_at from click_events"
    )
    assert click == {
        "message_id": message_id,
        "lead_id": lead_id,
        "url": TARGET,
        "ip": "203.0.113.7",
        "user_agent": "Mail/1",
        "clicked_at": clock.now(),
    }
    assert db.one("select status from messages")["status"] == "clicked"
    assert db.one("select status from leads")["status"] == "engaged"


async def test_an_email_link_fetched_by_a_preview_robot_is_not_a_click(
    ctx: Context, db: Db
) -> None:
    """A link pasted into iMessage or Slack is fetched for its preview: nobody clicked, the
    lead is not engaged and no A/B variant gains (the same rule as texts' /l/ links)."""
    lead_id = await seed_lead(ctx, db, email=ANA)
    message_id = await sent_email(ctx, lead_id, ANA, "em-1", "k1")
    url = click_url(ctx.settings, ClickToken(TARGET, lead_id=lead_id, message_id=message_id))
    robots = ("Mozilla/5.0 (Macintosh) facebookexternalhit/1.1 Facebot Twitterbot/1.0",
              "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "")  # fmt: skip
    async with client(ctx) as http:
        for robot in robots:
            response = await http.get(url.removeprefix(PUBLIC), headers={"User-Agent": robot})
            assert response.status_code == 302 and response.headers["location"] == TARGET
    assert db.count("click_events") == 0
    assert db.one("select status from leads")["status"] != "engaged"


async def test_bad_click_tokens_are_404_never_a_redirect(ctx: Context, db: Db) -> None:
    forged = click_token(b"not-our-secret", ClickToken("https://evil.example.net/"))
    async with client(ctx) as http:
        for path in (f"/r/{forged}", "/r/nothing", "/r/a.b", f"/r/{forged[:-3]}"):
            response = await http.get(path)
            assert response.status_code == 404 and "location" not in response.headers
    assert db.count("click_events") == 0


async def test_click_for_deleted_rows_still_redirects(ctx: Context, db: Db) -> None:
    url = click_url(ctx.settings, ClickToken(TARGET, message_id=888))
    async with client(ctx) as http:
        response = await http.get(url.removeprefix(PUBLIC))
    assert response.status_code == 302
    assert db.one("select lead_id, message_id from click_events") == {
        "lead_id": None,
        "message_id": None,
    }


async def test_a_click_after_erasure_redirects_and_records_nothing(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    """Erasure removes a person's data; a later click on an old email must not add some."""
    lead_id = await seed_lead(ctx, db, email=ANA)
    message_id = await sent_email(ctx, lead_id, ANA, "em-1", "k1")
    await ctx.transport.call(
        "console_erase_lead", {"p_id": lead_id, "p_session": "t", "p_now": clock.now()}
    )
    by_lead = ClickToken(TARGET, lead_id=lead_id, message_id=message_id)
    by_key = ClickToken(TARGET, message_key="k1")  # a drip link names its message's key
    async with client(ctx) as http:
        for link in (by_lead, by_key):
            response = await http.get(click_url(ctx.settings, link).removeprefix(PUBLIC),
                                      headers={"User-Agent": "Mail/1"})  # fmt: skip
            assert response.status_code == 302 and response.headers["location"] == TARGET
    assert db.count("click_events") == 0


async def test_one_click_unsubscribe(ctx: Context, db: Db, clock: ManualClock) -> None:
    lead_id = await seed_lead(ctx, db, email=ANA, name="Ana")
    await seed_campaign(ctx)
    path = unsubscribe_url(ctx.settings, UnsubscribeToken(ANA, lead_id)).removeprefix(PUBLIC)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    async with client(ctx) as http:
        page = await http.get(path)
        assert page.status_code == 200 and 'name="List-Unsubscribe"' in page.text
        assert db.count("suppressions") == 0  # a GET (link scanner) changes nothing
        first = await http.post(path, content=b"List-Unsubscribe=One-Click", headers=form)
        again = await http.post(path, content=b"List-Unsubscribe=One-Click", headers=form)
        missing = await http.post(path, content=b"", headers=form)
        bad = await http.post(
            "/u/forged.token", content=b"List-Unsubscribe=One-Click", headers=form
        )
    assert (first.status_code, again.status_code, missing.status_code, bad.status_code) == (
        200,
        200,
        400,
        404,
    )
    assert "set-cookie" not in first.headers
    assert db.one("select channel, address, reason, source from suppressions") == {
        "channel": "email",
        "address": ANA,
        "reason": "unsubscribe",
        "source": "one-click",
    }
    assert db.one("select email_opted_out_at from leads")["email_opted_out_at"] == clock.now()
    assert db.one("select status from enrollments")["status"] == "stopped"


async def test_multipart_one_click(ctx: Context, db: Db) -> None:
    path = unsubscribe_url(ctx.settings, UnsubscribeToken("x@example.com")).removeprefix(PUBLIC)
    async with client(ctx) as http:
        response = await http.post(path, files={"List-Unsubscribe": (None, "One-Click")})
    assert response.status_code == 200
    assert db.one("select address from suppressions")["address"] == "x@example.com"
