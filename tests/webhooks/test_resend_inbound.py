"""Email replies: a lead answers a drip email; Resend posts `email.received` (Svix-signed,
metadata only), nightshift fetches the body from Resend's receiving API (respx), classifies
it and stops the lead's sequences. Real app, real Postgres."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from app.campaigns import drip
from app.core.clock import ManualClock
from app.core.tokens import ReplyToken, link_secret, reply_address
from app.jobs.bootstrap import Context
from app.jobs.drip import drip_deps
from app.webhooks.signatures import svix_signature
from tests.campaigns.helpers import load, query
from tests.conftest import Rebuild
from tests.webhooks.helpers import RESEND_SECRET, Db, client, fixture, seed_lead

DOMAIN = "in.example.com"
EMAIL_ID = "56761188-7520-42d8-8898-ff6fc54ce618"
API = f"https://api.resend.com/emails/receiving/{EMAIL_ID}"
ANA = "ana.lima@example.org"
# An email first, then a text and a call: a reply to the email must stop the other two.
CAMPAIGN = """
slug: tune-up
name: Tune-up recall
timezone: America/New_York
window: {days: [mon, tue, wed, thu, fri, sat, sun], start: "08:00", end: "21:00"}
steps:
  - channel: email
    delay: 0m
    subject: "Your tune-up, {{ lead.first_name }}"
    html: '<p>Book here: <a href="https://example.com/book">book</a></p>'
  - channel: sms
    delay: 2d
    body: >-
      Hi {{ lead.first_name }}, {{ business.name }} here. Still want that tune-up?
      Reply STOP to opt out.
  - channel: call
    delay: 1d
"""


@pytest.fixture
async def dry(rebuild: Rebuild) -> Context:
    """The drip's graph: a receiving domain, sending as a dry run."""
    return await rebuild(resend_inbound_domain=DOMAIN)


@pytest.fixture
async def live(rebuild: Rebuild, dry: Context) -> Context:
    """The web app's graph: Resend configured for real, so the receiving API is called."""
    return await rebuild(
        resend_api_key=SecretStr("re_test_1234567890abcdef"), resend_inbound_domain=DOMAIN,
        email_from="Demo <hello@mail.example.com>",
    )  # fmt: skip


async def _drip_email(ctx: Context, db: Db) -> tuple[int, str]:
    """Ana enrolled and sent the first (email) step; (lead id, its Reply-To address)."""
    await load(ctx, CAMPAIGN)
    lead_id = await seed_lead(ctx, db, email=ANA, name="Ana Lima", phone="+12125550142")
    await ctx.repos.campaigns.enroll(ctx.clock.now())
    assert await drip.run(drip_deps(ctx)) == {"advance": 1}
    email = db.one("select payload from messages where channel = 'email'")["payload"]
    return lead_id, email["reply_to"]


def _event(reply_to: str, **data: Any) -> dict[str, Any]:
    event = fixture("resend", "received_event.json")
    event["data"] |= {"to": [reply_to], **data}
    return event


def _api_body(reply_to: str, **fields: Any) -> dict[str, Any]:
    body = fixture("resend", "received_email.json")
    return body | {"to": [reply_to], **fields}


async def _post(ctx: Context, event: dict[str, Any], msg_id: str = "msg_rcv_1") -> httpx.Response:
    body = json.dumps(event).encode()
    stamp = str(int(ctx.clock.now().timestamp()))
    headers = {
        "Content-Type": "application/json", "svix-id": msg_id, "svix-timestamp": stamp,
        "svix-signature": svix_signature(RESEND_SECRET, msg_id, stamp, body),
    }  # fmt: skip
    async with client(ctx) as http:
        return await http.post("/webhooks/resend", content=body, headers=headers)


async def test_a_reply_stops_the_sequence_and_shows_on_the_timeline(
    live: Context, dry: Context, db: Db, clock: ManualClock
) -> None:
    lead_id, reply_to = await _drip_email(dry, db)
    assert reply_to.startswith("reply+") and reply_to.endswith(f"@{DOMAIN}")
    with respx.mock(assert_all_mocked=True) as mock:
        api = mock.get(API).mock(return_value=httpx.Response(200, json=_api_body(reply_to)))
        first = await _post(live, _event(reply_to))
        again = await _post(live, _event(reply_to), "msg_rcv_1")  # Resend's retry
    assert first.status_code == 200 and first.json() == {"duplicate": False}
    assert again.json() == {"duplicate": True}
    assert api.calls.last.request.headers["Authorization"] == "Bearer re_test_1234567890abcdef"
    reply = db.one("select * from email_replies")
    assert (reply["lead_id"], reply["kind"], reply["matched_by"]) == (lead_id, "reply", "token")
    assert reply["body"] == "Yes please, Tuesday morning works for us. Is 9am ok?"  # no quote
    sent = db.one("select id from messages where channel = 'email' and lead_id = %s", (lead_id,))
    assert reply["message_id"] == sent["id"]
    assert db.one("select status, stopped_reason from enrollments") == {
        "status": "stopped", "stopped_reason": "reply",
    }  # fmt: skip
    assert db.one("select status from leads")["status"] == "engaged"
    # the next steps (the text in 2 days, then the call) never come
    clock.advance(timedelta(days=4))
    assert await drip.run(drip_deps(dry)) == {}
    assert db.count("calls") == 0
    assert [r["channel"] for r in db.rows("select channel from messages where lead_id = %s",
                                          (lead_id,))] == ["email"]  # fmt: skip
    # the operator got a copy; one row per email, however often Resend delivers it
    copy = db.one("select to_address, payload from messages where kind = 'transactional'")
    assert copy["to_address"] == "owner@example.com"
    assert "Tuesday morning" in copy["payload"]["text"]
    assert db.count("email_replies") == 1


async def test_the_sender_address_finds_the_lead_without_a_token(
    live: Context, dry: Context, db: Db
) -> None:
    lead_id, _ = await _drip_email(dry, db)
    plain = f"hello@{DOMAIN}"
    with respx.mock(assert_all_mocked=True) as mock:
        mock.get(API).mock(return_value=httpx.Response(200, json=_api_body(plain)))
        assert (await _post(live, _event(plain))).status_code == 200
    reply = db.one("select lead_id, matched_by, kind from email_replies")
    assert reply == {"lead_id": lead_id, "matched_by": "sender", "kind": "reply"}
    assert db.one("select stopped_reason from enrollments")["stopped_reason"] == "reply"


AUTO_REPLIES = [
    pytest.param({"headers": {"Auto-Submitted": "auto-replied"}}, id="auto-submitted"),
    pytest.param({"headers": {"X-Autoreply": "yes"}}, id="x-autoreply"),
    pytest.param({"headers": {"Precedence": "bulk"}}, id="precedence-bulk"),
    pytest.param({"headers": {"precedence": "auto_reply"}}, id="precedence-auto-reply"),
    pytest.param(
        {
            "subject": "Automatic reply: Your tune-up, Ana",
            "headers": {},
            "text": "I am out of the office until Monday with limited access to email.",
        },
        id="outlook-subject",
    ),
    pytest.param(
        {
            "subject": "Out of Office: Your tune-up, Ana",
            "headers": {},
            "text": "Thanks for your email. I'm away, please stop by the front desk instead.",
        },
        id="ooo-subject",
    ),
]


@pytest.mark.parametrize("fields", AUTO_REPLIES)
async def test_an_auto_reply_is_not_a_reply(
    live: Context, dry: Context, db: Db, fields: dict[str, Any]
) -> None:
    _, reply_to = await _drip_email(dry, db)
    with respx.mock(assert_all_mocked=True) as mock:
        body = _api_body(reply_to, **fields)
        mock.get(API).mock(return_value=httpx.Response(200, json=body))
        assert (await _post(live, _event(reply_to))).json() == {"duplicate": False}
    assert db.one("select kind from email_replies")["kind"] == "auto_reply"
    assert db.one("select status from enrollments")["status"] == "active"
    lead = db.one("select status, needs_review from leads")
    assert lead["status"] != "engaged" and lead["needs_review"] is None
    assert db.count("suppressions") == 0


async def test_an_opt_out_in_words_stops_email_and_every_sequence(
    live: Context, dry: Context, db: Db
) -> None:
    _, reply_to = await _drip_email(dry, db)
    text = "Please take me off your mailing list.\n\nOn Fri, Nov 27 … wrote:\n> Book here"
    with respx.mock(assert_all_mocked=True) as mock:
        body = _api_body(reply_to, text=text)
        mock.get(API).mock(return_value=httpx.Response(200, json=body))
        assert (await _post(live, _event(reply_to))).status_code == 200
    assert db.one("select kind from email_replies")["kind"] == "opt_out"
    assert db.one("select email_opted_out_at is not null o from leads")["o"]
    assert db.one("select address from suppressions where channel = 'email'")["address"] == ANA
    assert db.one("select status, stopped_reason from enrollments") == {
        "status": "stopped", "stopped_reason": "opt_out",
    }  # fmt: skip
    assert db.count("messages where kind = 'transactional'") == 0  # nothing to answer


async def test_a_failed_fetch_is_503_and_the_retry_applies_it(
    live: Context, dry: Context, db: Db
) -> None:
    _, reply_to = await _drip_email(dry, db)
    outage = httpx.Response(500, json={"name": "application_error", "message": "Internal"})
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.get(API)
        route.side_effect = [outage, httpx.Response(200, json=_api_body(reply_to))]
        failed = await _post(live, _event(reply_to))
        assert failed.status_code == 503
        assert db.count("email_replies") == 0 and db.count("webhook_events") == 0
        retried = await _post(live, _event(reply_to))  # Resend retries with the same svix-id
    assert retried.json() == {"duplicate": False}
    assert db.one("select stopped_reason from enrollments")["stopped_reason"] == "reply"


async def test_a_forged_token_names_nobody(live: Context, dry: Context, db: Db) -> None:
    lead_id, reply_to = await _drip_email(dry, db)
    local, _, domain = reply_to.partition("@")
    forged = f"{local[:-1]}{'0' if local[-1] != '0' else '1'}@{domain}"  # one hex digit off
    stranger = "mallory@example.net"
    with respx.mock(assert_all_mocked=True) as mock:
        body = _api_body(forged, **{"from": f"Mallory <{stranger}>"})
        mock.get(API).mock(return_value=httpx.Response(200, json=body))
        await _post(live, _event(forged, **{"from": stranger}))
    assert db.one("select lead_id, matched_by from email_replies") == {
        "lead_id": None, "matched_by": "none",
    }  # fmt: skip
    assert db.one("select status from enrollments where lead_id = %s", (lead_id,))["status"] == (
        "active"
    )


async def test_the_token_survives_a_case_change_and_a_display_name(
    live: Context, dry: Context, db: Db
) -> None:
    lead_id, reply_to = await _drip_email(dry, db)
    shouted = f'"Demo Heating" <{reply_to.upper()}>'
    with respx.mock(assert_all_mocked=True) as mock:
        body = _api_body(shouted, **{"from": "Ana at work <ana@work.example.net>"})
        mock.get(API).mock(return_value=httpx.Response(200, json=body))
        await _post(live, _event(shouted, **{"from": "ana@work.example.net"}))
    assert db.one("select lead_id, matched_by from email_replies") == {
        "lead_id": lead_id, "matched_by": "token",
    }  # fmt: skip


async def test_no_receiving_domain_means_no_reply_to(ctx: Context, db: Db) -> None:
    await load(ctx, CAMPAIGN)
    await seed_lead(ctx, db, email=ANA, name="Ana Lima")
    await ctx.repos.campaigns.enroll(ctx.clock.now())
    await drip.run(drip_deps(ctx))
    rows = await query(ctx, "select payload from messages where channel = 'email'")
    assert "reply_to" not in rows[0]["payload"]
    token = ReplyToken(1, 2, 1)
    assert reply_address(ctx.settings, token) is None
    assert link_secret(ctx.settings)  # the same secret signs links and reply tokens


QUOTED = [
    pytest.param(  # Outlook desktop: the From/Sent/To/Subject block, no "wrote:" line
        "Can you come Thursday instead?\r\n\r\n________________________________\r\n"
        "From: Demo Heating & Air <hello@mail.example.com>\r\nSent: Friday, November 27, 2026"
        " 10:02 AM\r\nTo: Ana Lima <ana.lima@example.org>\r\nSubject: Your tune-up, Ana\r\n\r\n"
        "Book here: book. Reply STOP to stop these emails.",
        None, "Can you come Thursday instead?", id="outlook",
    ),
    pytest.param(  # iPhone Mail in Spanish, with its signature
        "Sí, el martes está bien.\n\nEnviado desde mi iPhone\n\nEl 27 nov 2026, a las 10:02,"
        " Demo Heating & Air <hello@mail.example.com> escribió:\n\n> Book here",
        None, "Sí, el martes está bien.", id="iphone-es",
    ),
    pytest.param(  # HTML only (no text part): Gmail's quote container is cut
        None,
        '<div dir="ltr">Please call me after 5pm.<br>Thanks!</div><div class="gmail_quote">'
        "On Fri … wrote:<blockquote>Reply STOP to stop these emails.</blockquote></div>",
        "Please call me after 5pm.\nThanks!", id="html-only",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("text", "html", "expected"), QUOTED)
def test_only_what_the_person_wrote_is_classified(
    text: str | None, html: str | None, expected: str
) -> None:
    from app.campaigns.email_text import reply_text

    assert reply_text(text, html) == expected


def test_our_quoted_stop_wording_never_opts_anyone_out() -> None:
    """The drip email says "Reply STOP": quoted back under a reply it must not count."""
    from app.campaigns.email_replies import meaning
    from app.campaigns.email_text import reply_text

    body = fixture("resend", "received_email.json")
    text = reply_text(body["text"], body["html"])
    assert "STOP" not in text
    assert meaning(text, body["subject"], None).kind == "reply"
    assert meaning("stop", "Re: Your tune-up, Ana", None).kind == "opt_out"
    assert meaning("", "Unsubscribe", None).kind == "opt_out"  # the subject says it all
