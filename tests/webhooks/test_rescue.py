"""The rescue bridge: one text after a missed call, through the compliance gate."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from app.campaigns import drip
from app.campaigns.rescue import deliver_due_rescues
from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.jobs.drip import drip_deps
from tests.webhooks.helpers import Db, client, post_vapi, seed_lead, vapi_message, vapi_time

MARCUS = "+15125550148"  # Austin, TX (Central)
MIAMI = "+13055550142"


def _report(
    number: str, call_id: str, name: str = "06-end-of-call-report-customer-did-not-answer.json"
) -> dict[str, Any]:
    body = copy.deepcopy(vapi_message(name))
    call = body["message"]["call"]
    call["id"], call["customer"]["number"] = call_id, number
    return body


async def _deliver_due(ctx: Context) -> int:
    return await deliver_due_rescues(
        ctx.repos.webhooks, ctx.providers.delivery, ctx.settings.business_timezone, ctx.clock.now()
    )


async def test_missed_call_gets_one_text_per_day(ctx: Context, db: Db, clock: ManualClock) -> None:
    lead_id = await seed_lead(ctx, db, phone=MARCUS, name="Marcus")
    first = _report(MARCUS, "call-1")
    clock.set(vapi_time(first))  # 10:11 in Austin: permitted
    async with client(ctx) as http:
        await post_vapi(http, first)
        await post_vapi(http, first)  # the same report again
        clock.advance(timedelta(hours=3))
        await post_vapi(http, _report(MARCUS, "call-2", "07-end-of-call-report-voicemail.json"))
        clock.advance(timedelta(hours=22))  # 25 h after the first: a new day's text allowed
        await post_vapi(http, _report(MARCUS, "call-3"))
    texts = db.rows(
        "select lead_id, to_address, kind, status, provider, payload, created_at "
        "from messages order by id"
    )
    assert [t["status"] for t in texts] == ["dry_run", "dry_run"]
    assert texts[0]["lead_id"] == lead_id and texts[0]["to_address"] == MARCUS
    assert texts[0]["kind"] == "rescue" and texts[0]["provider"] == "dryrun"
    # the booking link is a short link naming this text (tests/webhooks/test_links_short.py)
    assert texts[0]["payload"]["links"] == ["https://example.com/book"]
    assert "https://hooks.example.com/l/" in texts[0]["payload"]["body"]
    assert "Reply STOP" in texts[0]["payload"]["body"]
    assert texts[1]["created_at"] - texts[0]["created_at"] == timedelta(hours=25)


async def test_at_2055_in_florida_it_is_queued_for_the_morning(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    await seed_lead(ctx, db, phone=MIAMI, state="FL", timezone="America/New_York")
    clock.set(datetime(2026, 11, 27, 1, 55, tzinfo=UTC))  # 20:55 EST: FL allows 08-20
    async with client(ctx) as http:
        await post_vapi(http, _report(MIAMI, "call-fl"))
        await post_vapi(http, _report(MIAMI, "call-fl-2"))
    text = db.one("select id, status, payload from messages")
    assert text["status"] == "queued"  # not sent at night
    morning = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)  # 08:00 EST
    assert datetime.fromisoformat(text["payload"]["not_before"]) == morning
    clock.set(morning - timedelta(minutes=1))
    assert await _deliver_due(ctx) == 0
    clock.set(morning)
    assert await drip.run(drip_deps(ctx)) == {"rescue_texts": 1}  # the drip tick sends held rescues
    assert db.one("select status from messages")["status"] == "dry_run"


async def test_opted_out_or_answered_gets_no_text(ctx: Context, db: Db, clock: ManualClock) -> None:
    lead_id = await seed_lead(ctx, db, phone=MARCUS)
    await ctx.transport.call(
        "outbox_opt_out",
        {
            "p_channel": "sms",
            "p_lead_id": lead_id,
            "p_address": MARCUS,
            "p_source": "test",
            "p_now": clock.now(),
        },
    )
    report = _report(MARCUS, "call-opted")
    clock.set(vapi_time(report))
    async with client(ctx) as http:
        await post_vapi(http, report)
    assert db.count("messages") == 0
    assert db.one("select outcome from calls")["outcome"] == "no_answer"


async def test_florida_attempt_cap_holds_the_text(ctx: Context, db: Db, clock: ManualClock) -> None:
    lead_id = await seed_lead(ctx, db, phone=MIAMI, state="FL", timezone="America/New_York")
    clock.set(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))  # 10:00 EST: inside the window
    first_call = clock.now()
    for n in range(3):  # three calls placed in 24 h: FL's cap (calls and texts together)
        at = first_call + timedelta(hours=n)
        db.rows(
            "insert into calls (idempotency_key, lead_id, to_number, status, vapi_call_id,"
            " claimed_at, placed_at, created_at) values (%s, %s, %s, 'in-progress', %s, %s,"
            " %s, %s - interval '1 day') returning id",  # queued the day before: not counted
            (f"cap-{n}", lead_id, MIAMI, f"cap-{n}", at, at, at),  # by created_at
        )
    clock.set(first_call + timedelta(hours=3))
    async with client(ctx) as http:
        await post_vapi(http, _report(MIAMI, "cap-2"))
    text = db.one("select status, payload from messages")
    assert text["status"] == "queued"
    assert datetime.fromisoformat(text["payload"]["not_before"]) == first_call + timedelta(hours=24)


async def test_a_held_text_is_gated_again_when_it_is_due(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    # Queued at 20:55 for 08:00; by then FL's cap is full (three texts/calls since the
    # missed call): at 08:00 the rescue text is held again instead of going out as a fourth.
    lead_id = await seed_lead(ctx, db, phone=MIAMI, state="FL", timezone="America/New_York")
    clock.set(datetime(2026, 11, 27, 1, 55, tzinfo=UTC))  # 20:55 EST
    async with client(ctx) as http:
        await post_vapi(http, _report(MIAMI, "call-fl"))
    morning = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
    for n in range(3):  # contacts made since (placed calls count where they were claimed)
        at = morning - timedelta(hours=12 - n)
        db.rows(
            "insert into calls (idempotency_key, lead_id, to_number, status, claimed_at,"
            " placed_at, created_at) values (%s, %s, %s, 'ended', %s, %s, %s) returning id",
            (f"other-{n}", lead_id, MIAMI, at, at, at),
        )
    clock.set(morning)
    assert await _deliver_due(ctx) == 0
    text = db.one("select status, payload from messages where kind = 'rescue'")
    assert text["status"] == "queued"
    # the cap reopens 24 h after the oldest contact, 20:00 EST: past FL's hours, so 08:00
    reopens = morning + timedelta(hours=24)
    assert datetime.fromisoformat(text["payload"]["not_before"]) == reopens
    clock.set(reopens)
    assert await _deliver_due(ctx) == 1
    assert db.one("select status from messages where kind = 'rescue'")["status"] == "dry_run"
