"""Lead search and filters, the lead's one timeline, do-not-contact per channel and erasure
(PII gone, a hash kept, a re-import never brings the lead back)."""

from __future__ import annotations

from datetime import timedelta

import httpx

from app.core.clock import ManualClock
from app.db.models import LeadIn
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import load, query
from tests.consented import WORDING, consented_lead
from tests.console.conftest import BEARER, FORM, JSON, login

MARIA = ("Maria Gonzalez", "+13125550147", "maria@example.com")


async def seed_maria(ctx: Context, clock: ManualClock) -> int:
    """A lead with one of everything on her timeline."""
    await load(ctx)
    now = clock.now()
    [lead] = await query(
        ctx,
        "insert into leads (name, phone, email, status, score,"
        " score_reasons, created_at) values (%s, %s, %s, 'engaged', 82,"
        " '[\"clicked the tune-up email yesterday\"]', %s) returning id",
        *MARIA,
        now - timedelta(days=3),
    )
    lid = lead["id"]
    await query(
        ctx,
        "insert into leads (name, phone, status, score) values"
        " ('Bob Stone', '+13125550148', 'new', 30), ('Carla Diaz', '+13125550149',"
        " 'contacted', 55) returning id",
    )
    [camp] = await query(ctx, "select id from campaigns")
    await query(
        ctx,
        "insert into enrollments (campaign_id, lead_id) values (%s, %s) returning id",
        camp["id"],
        lid,
    )
    [msg] = await query(
        ctx,
        "insert into messages (idempotency_key, lead_id, channel, provider,"
        " to_address, status, sent_at, payload) values ('m1', %s, 'email',"
        " 'resend', %s, 'clicked', %s, %s) returning id",
        lid,
        MARIA[2],
        now - timedelta(days=2),
        '{"subject": "Your tune-up, Maria", "html": "<p>Book here: '
        '<a href=\\"https://x.test/r/1\\">book</a></p><p>Thanks &amp; see you</p>",'
        ' "variant": "a"}',
    )
    await query(
        ctx,
        "insert into messages (idempotency_key, lead_id, channel, provider,"
        " to_address, status, sent_at, payload) values ('m2', %s, 'sms', 'twilio', %s,"
        " 'delivered', %s, '{\"body\": \"Hi Maria, Brightside here: tune-up time?\"}')"
        " returning id",
        lid,
        MARIA[1],
        now - timedelta(days=1),
    )
    await query(
        ctx,
        "insert into click_events (token, message_id, lead_id, url, clicked_at)"
        " values ('t', %s, %s, 'https://example.com/book', %s) returning id",
        msg["id"],
        lid,
        now - timedelta(days=2) + timedelta(hours=1),
    )
    [call] = await query(
        ctx,
        "insert into calls (idempotency_key, lead_id, to_number, provider,"
        " status, outcome, placed_at, summary, transcript, recording_url,"
        " duration_seconds) values ('c1', %s, %s, 'vapi', 'ended', 'booked',"
        " %s, 'Booked a tune-up for Friday', 'AI: Hi Maria\nMaria: Friday works',"
        " 'https://storage.vapi.ai/rec-1.wav', 95) returning id",
        lid,
        MARIA[1],
        now - timedelta(hours=5),
    )
    await query(
        ctx,
        "insert into call_quality (call_id, score, reasons, scored_at) values"
        " (%s, 88, '[]', %s) returning call_id",
        call["id"],
        now,
    )
    await query(
        ctx,
        "insert into webhook_events (provider, dedupe_key, event_type, payload,"
        " received_at) values ('twilio', 'r1', 'sms.reply', %s, %s) returning id",
        f'{{"From": "{MARIA[1]}", "Body": "Yes please, Friday"}}',
        now - timedelta(hours=20),
    )
    await query(
        ctx,
        "insert into appointments (lead_id, starts_at, ends_at, status) values"
        " (%s, %s, %s, 'booked') returning id",
        lid,
        now + timedelta(days=2),
        now + timedelta(days=2, hours=1),
    )
    return int(lid)


async def test_search_by_name_phone_email_and_filters(
    ctx: Context, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    await seed_maria(ctx, clock)

    async def names(query_string: str) -> list[str]:
        answer = await http.get(f"/console/leads?{query_string}", headers=JSON)
        assert answer.status_code == 200
        return [lead["name"] for lead in answer.json()["leads"]]

    assert await names("q=gonz") == ["Maria Gonzalez"]
    assert await names("q=(312)%20555-0147") == ["Maria Gonzalez"]  # typed as people type it
    assert await names("q=MARIA@EXAMPLE") == ["Maria Gonzalez"]
    assert await names("") == ["Maria Gonzalez", "Carla Diaz", "Bob Stone"]  # best score first
    assert await names("status=contacted") == ["Carla Diaz"]
    assert await names("min_score=50") == ["Maria Gonzalez", "Carla Diaz"]
    assert await names("campaign=tune-up") == ["Maria Gonzalez"]
    page = await http.get("/console/leads?q=stone", headers=BEARER)
    assert "Bob Stone" in page.text and "Maria" not in page.text
    empty = await http.get("/console/leads?q=nobody", headers=BEARER)
    assert "no data yet" in empty.text


async def test_the_lead_page_is_one_timeline_of_everything(
    ctx: Context, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    lid = await seed_maria(ctx, clock)
    answer = await http.get(f"/console/leads/{lid}", headers=JSON)
    body = answer.json()
    assert body["lead"]["score"] == 82
    assert body["lead"]["score_reasons"] == ["clicked the tune-up email yesterday"]
    kinds = [e["kind"] for e in body["timeline"]]
    assert kinds == ["appointment", "call", "reply", "message", "click", "message"]  # newest first
    email = next(e for e in body["timeline"] if e["kind"] == "message" and e["channel"] == "email")
    assert email["subject"] == "Your tune-up, Maria"
    assert email["body"] == "Book here: book\nThanks & see you"  # the rendered text
    call = next(e for e in body["timeline"] if e["kind"] == "call")
    assert (call["summary"], call["quality"], call["outcome"]) == (
        "Booked a tune-up for Friday",
        88,
        "booked",
    )
    page = await http.get(f"/console/leads/{lid}", headers=BEARER)
    for text in (
        "Maria Gonzalez",
        "Booked a tune-up for Friday",
        "Friday works",
        "https://storage.vapi.ai/rec-1.wav",
        "Yes please, Friday",
        "Hi Maria, Brightside",
        "clicked the tune-up email yesterday",
        "quality 88",
    ):
        assert text in page.text
    assert "background:#16a34a" in page.text  # booked: always green
    assert "CST" in page.text  # times in the business's zone
    missing = await http.get("/console/leads/999999", headers=JSON)
    assert missing.status_code == 404


async def test_do_not_contact_per_channel_is_applied_and_audited(
    ctx: Context, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    lid = await seed_maria(ctx, clock)
    csrf = await login(http)
    done = await http.post(
        f"/console/leads/{lid}/dnc", content=f"channel=sms&csrf={csrf}", headers=FORM
    )
    assert done.status_code == 303 and done.headers["location"] == f"/console/leads/{lid}"
    [lead] = await query(
        ctx, "select sms_opted_out_at, email_opted_out_at from leads where id = %s", lid
    )
    assert lead["sms_opted_out_at"] is not None and lead["email_opted_out_at"] is None
    sup = await query(ctx, "select channel, address from suppressions")
    assert sup == [{"channel": "sms", "address": MARIA[1]}]
    bad = await http.post(
        f"/console/leads/{lid}/dnc", content=f"channel=fax&csrf={csrf}", headers=FORM
    )
    assert bad.status_code == 400 and "unknown channel 'fax'" in bad.text
    page = (await http.get(f"/console/leads/{lid}", headers=JSON)).json()
    [action] = [e for e in page["timeline"] if e["kind"] == "action"]
    assert action["action"] == "do_not_contact" and action["detail"] == {"channels": ["sms"]}
    assert any(e["kind"] == "opt_out" and e["channel"] == "sms" for e in page["timeline"])


async def test_erase_removes_pii_keeps_a_hash_and_a_reimport_never_returns(
    ctx: Context, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    lid = await seed_maria(ctx, clock)
    await query(ctx, "update calls set vapi_call_id = 'call-7f3a' returning id")
    await query(
        ctx,
        "insert into webhook_events (provider, dedupe_key, event_type, payload) values"
        " ('vapi', 'vapi:call-7f3a:end-of-call-report', 'end-of-call-report', %s),"
        " ('twilio', 'twilio:SM1:delivered', 'sms.status', %s),"
        " ('resend', 'resend:e1', 'email.delivered', %s) returning id",
        '{"message": {"artifact": {"transcript": "Maria: Friday works"}}}',
        f'{{"To": "{MARIA[1]}", "MessageStatus": "delivered"}}',
        f'{{"type": "email.delivered", "data": {{"to": ["{MARIA[2]}"]}}}}',
    )
    unconfirmed = await http.post(
        f"/console/leads/{lid}/erase", content="", headers={**BEARER, **FORM}
    )
    assert unconfirmed.status_code == 400
    done = await http.post(
        f"/console/leads/{lid}/erase", content="confirm=yes", headers={**BEARER, **FORM}
    )
    assert done.status_code == 303
    dump = str(await query(ctx, "select * from messages")) + str(
        await query(ctx, "select * from calls")
    )
    dump += str(await query(ctx, "select * from webhook_events"))
    dump += str(await query(ctx, "select * from leads")) + str(
        await query(ctx, "select * from suppressions")
    )
    for pii in (*MARIA, "Maria", "Friday works"):
        assert pii not in dump, pii
    hashes = await query(ctx, "select address_hash from console_erasures")
    assert len(hashes) == 2 and all(len(h["address_hash"]) == 64 for h in hashes)
    # a re-import of the old export (and a form, an inbound text) creates no lead
    await ctx.repos.leads.upsert(
        [LeadIn(name=MARIA[0], phone=MARIA[1], email=MARIA[2])], clock.now()
    )
    await ctx.repos.leads.upsert([LeadIn(name="M G", email="MARIA@example.com")], clock.now())
    # an export row that carries consent columns: refused too, and the rest of its batch lands
    counts = await ctx.repos.leads.upsert(
        [
            consented_lead(name=MARIA[0], phone=MARIA[1]),
            consented_lead(name="Ann", phone="+13125550199"),
        ],
        clock.now(),
    )
    assert (counts.inserted, counts.updated) == (1, 0)
    assert await query(ctx, "select id from leads where name like 'M%%'") == []
    await query(ctx, "delete from leads where name = 'Ann' returning id")
    # nor does a merge give the erased phone to another lead (matched by its own email)
    await query(
        ctx, "insert into leads (name, email) values ('Ben', 'ben@example.com') returning id"
    )
    await ctx.repos.leads.upsert([LeadIn(name="Ben", phone=MARIA[1], email="ben@example.com")],
                                 clock.now())  # fmt: skip
    [ben] = await query(ctx, "select phone from leads where email = 'ben@example.com'")
    assert ben["phone"] is None
    [audit] = await query(ctx, "select action, lead_id, detail from console_audit")
    assert audit == {"action": "erase", "lead_id": lid, "detail": {}}
    gone = await http.get(f"/console/leads/{lid}", headers=JSON)
    assert gone.status_code == 404


async def test_consent_records_are_on_the_timeline(
    ctx: Context, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    await ctx.repos.leads.upsert(
        [consented_lead(name="Ana Ruiz", phone="+13125550170", email="ana@example.com")],
        clock.now(),
    )
    [lead] = await query(ctx, "select id from leads")
    body = (await http.get(f"/console/leads/{lead['id']}", headers=JSON)).json()
    consents = [e for e in body["timeline"] if e["kind"] == "consent"]
    assert sorted(e["channel"] for e in consents) == ["ai_voice", "calls", "email", "sms"]
    assert consents[0]["text"] == WORDING and consents[0]["source"] == "web_form"
    page = await http.get(f"/console/leads/{lead['id']}", headers=BEARER)
    assert "consent to ai_voice (web_form)" in page.text


async def test_what_leads_wrote_is_escaped(ctx: Context, http: httpx.AsyncClient) -> None:
    await query(
        ctx,
        "insert into leads (name, phone) values ('<script>alert(1)</script>', '+13125550199')"
        " returning id",
    )
    page = await http.get("/console/leads?q=script", headers=BEARER)
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
