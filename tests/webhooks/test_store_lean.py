"""The store functions of the busiest webhooks, written leaner (migration
20261208130000_webhook_store_lean): each still finds its row by every key it had, writes
the same row, and refuses what it refused."""

from __future__ import annotations

from datetime import timedelta

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from tests.webhooks.helpers import Db, enqueue_sms, seed_lead

ANA_PHONE = "+15125550148"
ANA_EMAIL = "ana.lima@example.org"


def _twilio(status: str) -> dict[str, object]:
    return {"outbox_id": None, "message_sid": "SMearly", "twilio_status": status,
            "status": status, "error_code": None, "permanent": False, "opt_out": False}  # fmt: skip


async def test_a_status_callback_before_the_send_is_recorded_finds_the_text_by_our_id(
    ctx: Context, db: Db
) -> None:
    # Twilio can call back ("sent") before record_message_sent stored its sid: the `?outbox=`
    # id is the only key; the sid is then kept on the row.
    lead_id = await seed_lead(ctx, db, phone=ANA_PHONE)
    message_id = await enqueue_sms(ctx, lead_id, ANA_PHONE, "early-1")
    update = {**_twilio("sent"), "outbox_id": message_id}
    result = await ctx.repos.webhooks.apply_twilio_status(
        "twilio:SMearly:sent", {"MessageSid": "SMearly"}, update, ctx.clock.now()
    )
    assert (result.duplicate, result.message_id, result.status) == (False, message_id, "sent")
    row = db.one("select provider_id, status_history from messages where id = %s", (message_id,))
    assert row["provider_id"] == "SMearly"
    assert row["status_history"][-1]["source"] == "twilio"
    again = await ctx.repos.webhooks.apply_twilio_status(
        "twilio:SMearly:sent", {"MessageSid": "SMearly"}, update, ctx.clock.now()
    )
    assert again.duplicate and again.message_id is None


async def test_an_email_event_finds_the_email_by_its_outbox_tag_else_the_lead_by_address(
    ctx: Context, db: Db
) -> None:
    lead_id = await seed_lead(ctx, db, email=ANA_EMAIL)
    message = db.one(
        "insert into messages (idempotency_key, lead_id, channel, provider, to_address, status)"
        " values ('e-early', %s, 'email', 'resend', %s, 'sending') returning id",
        (lead_id, ANA_EMAIL),
    )
    event = {"event_type": "email.delivered", "email_id": "em-early", "outbox_id": message["id"],
             "address": ANA_EMAIL, "status": "delivered", "suppress": None,
             "click": None}  # fmt: skip
    tagged = await ctx.repos.webhooks.apply_resend_event(
        "resend:msg_1", {"type": "email.delivered"}, event, ctx.clock.now()
    )
    assert (tagged.message_id, tagged.lead_id) == (message["id"], lead_id)
    row = db.one("select status, provider_id from messages where id = %s", (message["id"],))
    assert (row["status"], row["provider_id"]) == ("delivered", "em-early")
    unknown = {**event, "email_id": "em-other", "outbox_id": None}  # no message: the lead still
    by_address = await ctx.repos.webhooks.apply_resend_event(
        "resend:msg_2", {"type": "email.delivered"}, unknown, ctx.clock.now()
    )
    assert (by_address.message_id, by_address.lead_id) == (None, lead_id)
    statuses = [r["status"] for r in db.rows("select status from webhook_events order by id")]
    assert statuses == ["processed", "processed"]  # a lead was found: not 'ignored'


async def _rescue(ctx: Context, lead_id: int, call: str) -> list[int]:
    message = {"idempotency_key": f"rescue:{lead_id}:{call}", "provider": "twilio",
               "payload": {"body": "Sorry we missed you"}}  # fmt: skip
    queued = await ctx.repos.webhooks.enqueue_rescue(lead_id, message, ctx.clock.now())
    return [queued.id] if queued is not None else []


async def test_the_rescue_row_is_a_queued_text_to_the_leads_phone(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    lead_id = await seed_lead(ctx, db, phone=ANA_PHONE)
    [message_id] = await _rescue(ctx, lead_id, "c1")
    row = db.one("select * from messages where id = %s", (message_id,))
    assert (row["lead_id"], row["channel"], row["kind"], row["provider"], row["to_address"]) == (
        lead_id, "sms", "rescue", "twilio", ANA_PHONE,
    )  # fmt: skip
    assert (row["status"], row["attempts"], row["status_history"]) == ("queued", 0, [])
    assert row["payload"] == {"body": "Sorry we missed you"}
    assert row["created_at"] == clock.now() and row["claimed_at"] is None
    assert await _rescue(ctx, lead_id, "c2") == []  # one a day
    clock.advance(timedelta(hours=25))
    # the same call's key again a day later (a replayed report): the row written before
    assert await _rescue(ctx, lead_id, "c1") == [message_id]
    assert db.count("messages") == 1


async def test_no_rescue_to_a_suppressed_number_or_a_lead_held_for_review(
    ctx: Context, db: Db
) -> None:
    held = await seed_lead(ctx, db, phone=ANA_PHONE)
    db.rows("update leads set needs_review = 'ambiguous opt-out' where id = %s returning id",
            (held,))  # fmt: skip
    suppressed = await seed_lead(ctx, db, phone="+15125550149")
    db.rows("insert into suppressions (channel, address, reason, source) values"
            " ('sms', '+15125550149', 'stop', 'test') returning id")  # fmt: skip
    assert await _rescue(ctx, held, "c1") == []
    assert await _rescue(ctx, suppressed, "c2") == []
    assert db.count("messages") == 0
