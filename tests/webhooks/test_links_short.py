"""Short tracked links in texts (`/l/<code>`, issue 17 item 5): a click on a drip SMS or a
rescue text is counted for its exact message and A/B variant, a text costs no more
segments for it, and what phones and carriers do to a link still works."""

from __future__ import annotations

import copy
import re
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from app.campaigns import drip
from app.campaigns.definition import CampaignError, load_campaign_yaml
from app.campaigns.rescue import rescue_text, tracked
from app.campaigns.templates import sms_segments, track_text_links
from app.core.clock import ManualClock
from app.core.settings import Settings
from app.core.short_links import ShortLink, read_short_code, short_code
from app.core.tokens import ClickToken, click_url, link_secret
from app.db.errors import DatabaseUnavailable
from app.jobs.bootstrap import Context
from app.jobs.drip import drip_deps
from app.scoring.variants import update_variants
from tests.campaigns.helpers import add_leads, load
from tests.conftest import make_settings
from tests.webhooks.helpers import (
    PUBLIC,
    VAPI_SECRET,
    Db,
    client,
    post_vapi,
    seed_lead,
    vapi_message,
    vapi_time,
)

SECRET = b"k" * 32
BOOK = "https://example.com/book"  # BOOKING_URL (the placeholder default)
MARCUS = "+15125550148"
SHORT = re.compile(r"https://hooks\.example\.com(/l/[0-9a-z]+)")
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile"
# what iMessage sends when it draws a link's preview (docs/campaigns.md "Tracked links")
IMESSAGE_PREVIEW = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) "
    "Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0"
)
GOOGLE_PREVIEW = (  # seen on SMS/MMS links (Bloomreach, "detect fake bot clicks in SMS")
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/56.0.2924.87"
    " Safari/537.36 Google-PageRenderer Google (+https://developers.google.com/+/web/snippet/)"
)
AB_SMS = """
slug: spring-sms
name: Spring SMS
timezone: America/New_York
caps: {new_per_day: 1000}
steps:
  - channel: sms
    delay: 0m
    variants:
      - name: a
        body: >-
          {{ business.name }}: time for a check-up? https://example.com/book
          Reply STOP to opt out.
      - name: b
        body: >-
          {{ business.name }}: 20% off this week, book at https://example.com/book?offer=20.
          Reply STOP to opt out.
"""


@pytest.fixture
def settings() -> Settings:
    return make_settings(
        nightshift_env="development", public_base_url=PUBLIC, vapi_webhook_secret=VAPI_SECRET,
        business_name="Brightside Dental", business_timezone="America/Chicago",
        ab_goal_sms="click",
    )  # fmt: skip


# --- the code ------------------------------------------------------------------------------


def test_a_code_survives_what_phones_and_carriers_do_to_it() -> None:
    link = ShortLink("drip", (48_213, 2), 1)
    code = short_code(SECRET, link)
    assert len(code) == 15 and code == code.lower()
    for seen in (
        code,
        code.upper(),  # a phone that upper-cases the link
        code + ".",  # "…/l/<code>." : the sentence's full stop
        code + ").",
        code + "Reply",  # a carrier's text appended without a space
        code + "/",
    ):
        assert read_short_code(SECRET, seen) == link, seen
    assert read_short_code(SECRET, code[:-1]) is None  # truncated
    assert read_short_code(b"other", code) is None  # another install's secret
    swapped = code[:3] + ("x" if code[3] != "x" else "y") + code[4:]
    assert read_short_code(SECRET, swapped) is None  # one character changed
    assert read_short_code(SECRET, "") is None and read_short_code(SECRET, "%%%") is None
    rescue = ShortLink("rescue", (9,))
    assert read_short_code(SECRET, short_code(SECRET, rescue)) == rescue
    for wrong in (
        ShortLink("rescue", (9, 1)),
        ShortLink("drip", (-1, 0)),
        ShortLink("rescue", (1,), -1),
    ):
        with pytest.raises(ValueError):
            short_code(SECRET, wrong)
    biggest = ShortLink("drip", (2**63 - 1, 2**63 - 1), 2**16 - 1)
    assert read_short_code(SECRET, short_code(SECRET, biggest) + "z" * 10_000) == biggest
    assert read_short_code(SECRET, "z" * 1_000_000) is None  # read up to 52 characters


def test_a_typical_rescue_text_stays_one_segment() -> None:
    """The signed /r/ token made this text two segments; the short link keeps it at one."""
    settings = make_settings(
        public_base_url="https://hooks.brightsidedental.com", business_name="Brightside Dental",
        booking_url="https://cal.com/brightside-dental/new-patient",
    )  # fmt: skip
    plain = rescue_text(settings.business_name, settings.booking_url)
    text = tracked(plain, settings, 184_233)
    assert text["links"] == [settings.booking_url]
    assert "https://hooks.brightsidedental.com/l/" in text["body"]
    assert sms_segments(plain) == sms_segments(text["body"]) == ("GSM-7", 1)
    token = click_url(settings, ClickToken(settings.booking_url, 1, None, None, "rescue:1:1"))
    assert sms_segments(plain.replace(settings.booking_url, token)) == ("GSM-7", 2)


def test_a_short_link_never_adds_a_segment_when_the_url_was_at_least_as_long() -> None:
    settings = make_settings(public_base_url="https://ns.example.com")
    here = ShortLink("drip", (1_900_000, 3))
    for name in ("Brightside Dental", "Café Olé 😀"):  # GSM-7, then UCS-2 (67 a part)
        for pad in range(0, 200, 7):
            url = "https://cal.example.com/" + "b" * (40 + pad % 60)
            text = f"{name}: hi{'!' * pad} book {url} Reply STOP to opt out."
            short, links = track_text_links(text, settings, here)
            assert links == [url] and len(short) <= len(text)
            assert sms_segments(short) <= sms_segments(text)


def test_a_rescue_link_that_would_add_a_segment_is_sent_plain() -> None:
    settings = make_settings(
        public_base_url="https://brightside-family-dentistry--nightshift-web.modal.run",
        business_name="Brightside Family & Cosmetic Dentistry of Austin", booking_url=BOOK,
    )  # fmt: skip
    plain = rescue_text(settings.business_name, BOOK)
    assert sms_segments(plain)[1] == 1
    assert tracked(plain, settings, 7) == {}  # the caller keeps the plain body, no links


def test_campaigns_load_counts_a_texts_link_as_the_short_link_it_will_be() -> None:
    body = "{{ business.name }}: spring tune-up, 20% off all week. " * 2
    step = f"""
slug: spring
name: Spring
steps:
  - channel: sms
    delay: 0m
    max_segments: 1
    body: "{body}Book https://x.co/b Reply STOP to opt out."
"""
    plain = body.replace("{{ business.name }}", "Sample Co") + "Book https://x.co/b Reply STOP"
    assert len(plain) + len(" to opt out.") <= 160  # one segment as written...
    with pytest.raises(CampaignError, match=r"2 GSM-7 segments, more than max_segments=1"):
        load_campaign_yaml(step)  # ...but not once the link is a short link


# --- clicks ---------------------------------------------------------------------------------


async def _texts(ctx: Context, db: Db) -> list[dict[str, Any]]:
    return db.rows("select id, status, payload from messages where channel = 'sms' order by id")


async def test_sms_variant_b_wins_on_nightshifts_own_clicks(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    campaign = await load(ctx, AB_SMS)
    await add_leads(ctx, 60)
    await ctx.repos.campaigns.enroll(clock.now())
    assert await drip.run(drip_deps(ctx)) == {"advance": 60}
    texts = await _texts(ctx, db)
    by_variant = {v: [t for t in texts if t["payload"]["variant"] == v] for v in "ab"}
    assert len(by_variant["a"]) >= 15 and len(by_variant["b"]) >= 15
    b_text = by_variant["b"][0]["payload"]
    assert b_text["links"] == ["https://example.com/book?offer=20"]
    assert "://example.com" not in b_text["body"] and re.search(
        r"/l/[0-9a-z]+\. Reply", b_text["body"]
    )

    clock.advance(timedelta(hours=1))
    async with client(ctx) as http:
        for text in [*by_variant["b"][:12], by_variant["a"][0], by_variant["b"][0]]:
            (path,) = SHORT.findall(text["payload"]["body"])
            response = await http.get(path, headers={"User-Agent": IPHONE})
            assert response.status_code == 302
            assert response.headers["location"] == text["payload"]["links"][0]

    ids = {t["id"] for t in by_variant["b"][:12]} | {by_variant["a"][0]["id"]}
    clicks = db.rows("select message_id, lead_id, user_agent from click_events")
    assert {c["message_id"] for c in clicks} == ids and len(clicks) == 14
    assert {t["id"] for t in await _texts(ctx, db) if t["status"] == "clicked"} == ids
    stats = await ctx.repos.scoring.variant_stats(90, 7, clock.now())
    arms = {s.variant: (s.campaign_id, s.channel, s.sent, s.clicked) for s in stats}
    assert arms == {
        "a": (campaign, "sms", len(by_variant["a"]), 1),
        "b": (campaign, "sms", len(by_variant["b"]), 12),
    }
    await update_variants(ctx.repos.scoring, clock.now(), ctx.settings, np.random.default_rng(5))
    (decision,) = await ctx.repos.scoring.variant_decisions()
    assert decision.goal == "click" and decision.p_best["b"] > 0.99


def _missed_call(call_id: str) -> dict[str, Any]:
    body = copy.deepcopy(vapi_message("06-end-of-call-report-customer-did-not-answer.json"))
    call = body["message"]["call"]
    call["id"], call["customer"]["number"] = call_id, MARCUS
    return body


async def _rescue_path(ctx: Context, db: Db, clock: ManualClock) -> tuple[int, str]:
    lead_id = await seed_lead(ctx, db, phone=MARCUS, name="Marcus")
    report = _missed_call("call-rescue-1")
    clock.set(vapi_time(report))
    async with client(ctx) as http:
        await post_vapi(http, report)
    text = db.one("select payload from messages where kind = 'rescue'")["payload"]
    assert text["links"] == [BOOK] and sms_segments(text["body"]) == ("GSM-7", 1)
    (path,) = SHORT.findall(text["body"])
    return lead_id, path


async def test_a_rescue_click_counts_for_its_text_however_the_phone_mangled_it(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    lead_id, path = await _rescue_path(ctx, db, clock)
    async with client(ctx) as http:
        for robot in (IMESSAGE_PREVIEW, GOOGLE_PREVIEW, ""):  # "": no user agent at all
            preview = await http.get(path, headers={"User-Agent": robot})
            assert preview.status_code == 302 and preview.headers["location"] == BOOK
        assert db.count("click_events") == 0  # a preview robot is nobody clicking
        for mangled in (path.upper(), path + ".", path + "%20-Sent%20via"):
            response = await http.get(mangled, headers={"User-Agent": IPHONE})
            assert response.status_code == 302 and response.headers["location"] == BOOK
    message = db.one("select id, status from messages where kind = 'rescue'")
    assert message["status"] == "clicked"
    clicks = db.rows("select message_id, lead_id, url, host(ip) ip from click_events")
    assert clicks == [{"message_id": message["id"], "lead_id": lead_id, "url": BOOK,
                       "ip": "203.0.113.7"}] * 3  # fmt: skip
    assert db.one("select status from leads")["status"] == "engaged"


async def test_forged_or_mangled_codes_get_a_404_page_never_a_500(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    _, path = await _rescue_path(ctx, db, clock)
    forged = short_code(b"not-our-secret", ShortLink("rescue", (1,)))
    async with client(ctx) as http:
        for bad in (f"/l/{forged}", path[:-2], "/l/", "/l/%F0%9F%98%80", "/l/" + "z" * 300):
            response = await http.get(bad)
            assert response.status_code == 404 and "location" not in response.headers, bad
            assert BOOK in response.text  # the page offers the booking link
    assert db.count("click_events") == 0


async def test_a_click_after_the_lead_was_erased_records_nothing(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    lead_id, path = await _rescue_path(ctx, db, clock)
    await ctx.transport.call(
        "console_erase_lead", {"p_id": lead_id, "p_session": "t", "p_now": clock.now()}
    )
    async with client(ctx) as http:
        response = await http.get(path, headers={"User-Agent": IPHONE})
    assert response.status_code == 302 and response.headers["location"] == BOOK
    assert db.count("click_events") == 0


async def test_a_link_whose_text_was_never_sent_goes_to_the_booking_page(
    ctx: Context, db: Db
) -> None:
    never = short_code(link_secret(ctx.settings), ShortLink("drip", (404, 0)))
    async with client(ctx) as http:
        response = await http.get(f"/l/{never}", headers={"User-Agent": IPHONE})
    assert response.status_code == 302 and response.headers["location"] == BOOK
    assert db.count("click_events") == 0


async def test_a_database_outage_still_redirects(
    ctx: Context, db: Db, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, path = await _rescue_path(ctx, db, clock)

    async def down(*_: Any, **__: Any) -> str | None:
        raise DatabaseUnavailable("connection refused", function="webhook_short_link_click")

    monkeypatch.setattr(ctx.repos.webhooks, "short_link_click", down)
    async with client(ctx) as http:
        response = await http.get(path)
    assert response.status_code == 302 and response.headers["location"] == BOOK
