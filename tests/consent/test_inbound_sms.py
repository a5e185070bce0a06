"""Everyday opt-outs posted to `/webhooks/twilio/sms` as Twilio sends them (signed form
posts), through the real app on a real Postgres: the lead opted out of what the words
cover, the queued text cancelled, the lead never marked `engaged`; doubts held for a human."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from tests.webhooks.helpers import Db, client, enqueue_sms, seed_campaign, seed_lead, signed_twilio

USER = "+14155550199"
OURS = "+14155550123"


async def _post(ctx: Context, body: str, sid: str = "SMc0ffee", **extra: str) -> None:
    params = {"MessageSid": sid, "AccountSid": "AC123", "From": USER, "To": OURS, "Body": body,
              "NumMedia": "0", "SmsStatus": "received", **extra}  # fmt: skip
    path, content, headers = signed_twilio("/webhooks/twilio/sms", params)
    async with client(ctx) as http:
        response = await http.post(path, content=content, headers=headers)
    assert response.status_code == 200


async def _lead_with_queued(ctx: Context, db: Db) -> tuple[int, int, int]:
    """A lead with a phone and an email, enrolled, with one queued text and one queued call."""
    lead_id = await seed_lead(ctx, db, phone=USER, email="ana@example.com", name="Ana")
    await seed_campaign(ctx)
    text = await enqueue_sms(ctx, lead_id, USER, "drip-1")
    call = await ctx.transport.call("enqueue_call", {
        "p_call": {"idempotency_key": "call-1", "lead_id": lead_id, "to_number": USER},
        "p_now": ctx.clock.now()})  # fmt: skip
    return lead_id, text, int(call[0]["id"])


def _lead(db: Db, lead_id: int) -> dict[str, Any]:
    return db.one(
        "select status, sms_opted_out_at, email_opted_out_at, calls_opted_out_at, needs_review"
        " from leads where id = %s",
        (lead_id,),
    )


SMS_ONLY = [
    "stop it 🙏", "Don\u2019t message me", "no more msgs", "STOPPPP!!!", "stop texting me pls",
    "No más mensajes, gracias", "no me escriban", "Dejen de mandarme mensajes",
    "\uff33\uff34\uff2f\uff30",  # full-width STOP
]  # fmt: skip
EVERY_CHANNEL = [
    "pls remove", "Take me off your list", "leave me alone", "not interested",
    "Quiero darme de baja", "Quítenme de su lista por favor", "Please stop contacting me",
]  # fmt: skip


@pytest.mark.parametrize("body", SMS_ONLY)
async def test_everyday_sms_opt_out(ctx: Context, db: Db, clock: ManualClock, body: str) -> None:
    lead_id, text, call = await _lead_with_queued(ctx, db)
    await _post(ctx, body)
    lead = _lead(db, lead_id)
    assert lead["sms_opted_out_at"] == clock.now()
    assert lead["status"] != "engaged"
    assert db.one("select status from messages where id = %s", (text,))["status"] == "cancelled"
    assert db.one("select status from enrollments")["status"] == "stopped"
    # the words named texts only: calls stay allowed (the gate still applies to them)
    assert lead["calls_opted_out_at"] is None
    assert db.one("select status from calls where id = %s", (call,))["status"] == "queued"
    assert db.one("select event_type from webhook_events")["event_type"] == "sms.stop"


@pytest.mark.parametrize("body", EVERY_CHANNEL)
async def test_opt_out_of_everything(ctx: Context, db: Db, clock: ManualClock, body: str) -> None:
    lead_id, text, call = await _lead_with_queued(ctx, db)
    await _post(ctx, body)
    lead = _lead(db, lead_id)
    assert lead["status"] != "engaged"
    for column in ("sms_opted_out_at", "email_opted_out_at", "calls_opted_out_at"):
        assert lead[column] == clock.now(), column
    assert db.one("select status from messages where id = %s", (text,))["status"] == "cancelled"
    assert db.one("select status from calls where id = %s", (call,))["status"] == "cancelled"
    channels = {r["channel"] for r in db.rows("select channel from suppressions")}
    assert channels == {"sms", "email", "call"}


async def test_stop_calling_by_text_covers_calls(ctx: Context, db: Db) -> None:
    lead_id, _, call = await _lead_with_queued(ctx, db)
    await _post(ctx, "Stop calling me!!")
    lead = _lead(db, lead_id)
    assert lead["calls_opted_out_at"] is not None and lead["sms_opted_out_at"] is not None
    assert lead["email_opted_out_at"] is None
    assert db.one("select status from calls where id = %s", (call,))["status"] == "cancelled"


async def test_ambiguous_text_holds_every_automated_contact(ctx: Context, db: Db) -> None:
    lead_id, text, call = await _lead_with_queued(ctx, db)
    await _post(ctx, "how did you get my number?")
    lead = _lead(db, lead_id)
    assert lead["status"] == "new"  # not engaged: a doubt is not a reply
    assert lead["sms_opted_out_at"] is None  # not an opt-out either: a human decides
    assert "how_got_number" in lead["needs_review"]
    assert "how did you get my number?" in lead["needs_review"]
    assert db.one("select status, stopped_reason from enrollments") == {
        "status": "paused", "stopped_reason": "needs_review"}  # fmt: skip
    assert db.one("select status, error_code from messages where id = %s", (text,)) == {
        "status": "cancelled", "error_code": "needs_review"}  # fmt: skip
    assert db.one("select status from calls where id = %s", (call,))["status"] == "cancelled"
    review = db.one("select to_address, payload from messages where channel = 'email'")
    assert review["to_address"] == "owner@example.com"
    assert review["payload"]["subject"].startswith("Needs review")
    # a campaign launched later does not enroll the held lead
    await seed_campaign(ctx, slug="spring")
    assert db.count("enrollments") == 1


async def test_benign_look_alike_stays_a_reply(ctx: Context, db: Db) -> None:
    lead_id, text, _ = await _lead_with_queued(ctx, db)
    await _post(ctx, "Can you stop by Tuesday? My AC stopped working")
    lead = _lead(db, lead_id)
    assert lead["status"] == "engaged" and lead["sms_opted_out_at"] is None
    assert lead["needs_review"] is None
    assert db.one("select event_type from webhook_events")["event_type"] == "sms.reply"
    assert db.one("select status from messages where id = %s", (text,))["status"] == "queued"


async def test_twilio_opt_out_type_stop_is_honoured(ctx: Context, db: Db) -> None:
    """Advanced Opt-Out with a custom keyword: Twilio says STOP, so it is an opt-out."""
    lead_id, text, _ = await _lead_with_queued(ctx, db)
    await _post(ctx, "ARRET", OptOutType="STOP")
    assert _lead(db, lead_id)["sms_opted_out_at"] is not None
    assert db.one("select status from messages where id = %s", (text,))["status"] == "cancelled"


async def test_duplicate_delivery_changes_nothing(ctx: Context, db: Db) -> None:
    lead_id, _, _ = await _lead_with_queued(ctx, db)
    await _post(ctx, "leave me alone")
    first = _lead(db, lead_id)
    await _post(ctx, "leave me alone")
    assert _lead(db, lead_id) == first
    assert db.count("webhook_events") == 1


async def test_held_lead_gets_no_call_retry(ctx: Context, db: Db, clock: ManualClock) -> None:
    """An unanswered call is not retried while the lead is held; once released, it is."""
    lead_id, _, _ = await _lead_with_queued(ctx, db)
    with psycopg.connect(db.dsn) as conn:
        conn.execute(
            "insert into calls (idempotency_key, lead_id, to_number, status, ended_reason,"
            " ended_at, created_at, updated_at) values ('manual-1', %s, %s, 'ended',"
            " 'customer-did-not-answer', %s, %s, %s)",
            (lead_id, USER, clock.now(), clock.now(), clock.now()),
        )
    await _post(ctx, "Why are you texting me?")
    assert _lead(db, lead_id)["needs_review"] is not None
    args = {"p_max_attempts": 3, "p_spacing_seconds": 0, "p_now": clock.now()}
    held = await ctx.transport.call("requeue_unanswered_calls", args)
    assert held[0]["requeue_unanswered_calls"] == 0
    with psycopg.connect(db.dsn) as conn:  # a human decided it was a plain question
        conn.execute("update leads set needs_review = null where id = %s", (lead_id,))
    released = await ctx.transport.call("requeue_unanswered_calls", args)
    assert released[0]["requeue_unanswered_calls"] == 1
