"""Opt-outs said on a call: the Vapi `optOut` tool and the end-of-call transcript fallback,
with real-shaped Vapi messages (tests/fixtures/vapi) posted to `/webhooks/vapi`."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from app.campaigns.call_report import customer_lines
from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.webhooks.vapi_consent import CONFIRM
from tests.webhooks.helpers import (
    Db,
    client,
    enqueue_sms,
    post_vapi,
    seed_campaign,
    seed_lead,
    vapi_message,
    vapi_time,
)

DANA = "+15125550123"  # the customer of the recorded call
CALL_ID = "019cf9a2-4b7e-7d31-9a52-6c8e0f3b1d47"


def opt_out_call(scope: str | None, reason: str, as_string: bool = False) -> dict[str, Any]:
    """The recorded tool-calls message, with the assistant calling `optOut` instead."""
    body = vapi_message("08-tool-calls-book-appointment.json")
    message = body["message"]
    args: dict[str, Any] = {"reason": reason} | ({"scope": scope} if scope else {})
    call = {
        "id": "call_0ptOut9xY2",
        "type": "function",
        "function": {"name": "optOut", "arguments": json.dumps(args) if as_string else args},
    }
    message["toolCalls"] = message["toolCallList"] = [call]
    tool = copy.deepcopy(message["toolWithToolCallList"][0])
    tool["function"] = {
        "name": "optOut",
        "parameters": {
            "type": "object",
            "properties": {
                "scope": {"type": "string", "enum": ["calls", "all"]},
                "reason": {"type": "string"},
            },
        },
    }
    tool["toolCall"] = call
    message["toolWithToolCallList"] = [tool]
    return body  # fmt: skip


async def _lead(ctx: Context, db: Db) -> tuple[int, int, int]:
    """Dana, enrolled, with a queued text and a queued (not yet placed) follow-up call."""
    lead_id = await seed_lead(ctx, db, phone=DANA, email="dana@example.com", name="Dana")
    await seed_campaign(ctx)
    text = await enqueue_sms(ctx, lead_id, DANA, "drip-1")
    call = await ctx.transport.call("enqueue_call", {
        "p_call": {"idempotency_key": "call-2", "lead_id": lead_id, "to_number": DANA},
        "p_now": ctx.clock.now()})  # fmt: skip
    return lead_id, text, int(call[0]["id"])


def _flags(db: Db, lead_id: int) -> dict[str, Any]:
    return db.one(
        "select sms_opted_out_at, email_opted_out_at, calls_opted_out_at from leads where id = %s",
        (lead_id,),
    )


async def test_opt_out_tool_calls_only(ctx: Context, db: Db, clock: ManualClock) -> None:
    lead_id, text, call = await _lead(ctx, db)
    body = opt_out_call("calls", "Customer asked us not to call again")
    clock.set(vapi_time(body))
    async with client(ctx) as http:
        reply = (await post_vapi(http, body)).json()
        again = (await post_vapi(http, body)).json()  # Vapi retried the tool call
    assert reply == {
        "results": [{"toolCallId": "call_0ptOut9xY2", "name": "optOut", "result": CONFIRM["calls"]}]
    }
    assert again == reply  # fmt: skip
    flags = _flags(db, lead_id)
    assert flags["calls_opted_out_at"] == clock.now()
    assert flags["sms_opted_out_at"] is None and flags["email_opted_out_at"] is None
    assert db.one("select status from calls where id = %s", (call,))["status"] == "cancelled"
    assert db.one("select status from messages where id = %s", (text,))["status"] == "queued"
    event = db.one("select dedupe_key, event_type, payload from webhook_events")
    assert event["dedupe_key"] == f"vapi:{CALL_ID}:optOut:call_0ptOut9xY2"
    assert event["payload"]["reason"] == "Customer asked us not to call again"
    assert db.one("select channel, reason from suppressions") == {
        "channel": "call",
        "reason": "dnc",
    }


@pytest.mark.parametrize("scope", ["all", None, "everything"])
async def test_opt_out_tool_all_channels(ctx: Context, db: Db, scope: str | None) -> None:
    """ "all", a missing scope or one we do not know: the person asked to stop, so all."""
    lead_id, text, call = await _lead(ctx, db)
    body = opt_out_call(scope, "Take me off your list entirely", as_string=True)
    async with client(ctx) as http:
        reply = (await post_vapi(http, body)).json()
    assert reply["results"][0]["result"] == CONFIRM["all"]
    assert all(v is not None for v in _flags(db, lead_id).values())
    assert db.one("select status from messages where id = %s", (text,))["status"] == "cancelled"
    assert db.one("select status from calls where id = %s", (call,))["status"] == "cancelled"
    assert db.one("select status from enrollments")["status"] == "stopped"


async def test_opt_out_tool_for_a_number_without_a_lead(ctx: Context, db: Db) -> None:
    """An inbound caller we hold no lead for: the number itself is never called or texted."""
    async with client(ctx) as http:
        reply = (await post_vapi(http, opt_out_call("calls", "stranger"))).json()
    assert reply["results"][0]["result"] == CONFIRM["calls"]
    assert db.one("select channel, address from suppressions") == {
        "channel": "call", "address": DANA}  # fmt: skip


def report_with(*lines: tuple[str, str]) -> dict[str, Any]:
    """The recorded booked call's end-of-call report with extra turns (role, words) at the
    end, in artifact.messages and in the transcript, as Vapi writes both."""
    body = vapi_message("05-end-of-call-report-completed-booked.json")
    message = body["message"]
    names = {"bot": "AI", "user": "User"}
    for role, words in lines:
        message["artifact"]["messages"].append({"role": role, "message": words, "time": 0,
                                                "secondsFromStart": 70.0})  # fmt: skip
        message["artifact"]["transcript"] += f"\n{names[role]}: {words}"
    message["messages"] = message["artifact"]["messages"]
    message["transcript"] = message["artifact"]["transcript"]
    return body


async def test_transcript_revocation_opts_out_of_calls(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    lead_id, _, call = await _lead(ctx, db)
    body = report_with(("bot", "Anything else I can help with?"),
                       ("user", "Yeah, please don't call me again. I'll book online."))  # fmt: skip
    clock.set(vapi_time(body))
    async with client(ctx) as http:
        assert (await post_vapi(http, body)).status_code == 200
    flags = _flags(db, lead_id)
    assert flags["calls_opted_out_at"] == clock.now()
    assert flags["sms_opted_out_at"] is None  # the words named calls only
    assert db.one("select status from calls where id = %s", (call,))["status"] == "cancelled"
    event = db.one("select payload from webhook_events where event_type = 'transcript'")
    assert "don't call me again" in event["payload"]["reason"]


async def test_transcript_revocation_of_everything(ctx: Context, db: Db) -> None:
    lead_id, text, _ = await _lead(ctx, db)
    body = report_with(("user", "Actually, take me off your list. No texts, no emails, nothing."))
    async with client(ctx) as http:
        await post_vapi(http, body)
    assert all(v is not None for v in _flags(db, lead_id).values())
    assert db.one("select status from messages where id = %s", (text,))["status"] == "cancelled"


async def test_assistant_words_and_look_alikes_change_nothing(ctx: Context, db: Db) -> None:
    """The assistant saying "reply STOP to opt out" is not the customer; "stop by" is a visit."""
    lead_id, _, call = await _lead(ctx, db)
    body = report_with(("bot", "You'll get a text; reply STOP to opt out of texts."),
                       ("user", "Great. Can I stop by Tuesday to drop off the forms?"))  # fmt: skip
    async with client(ctx) as http:
        await post_vapi(http, body)
    assert all(v is None for v in _flags(db, lead_id).values())
    assert db.one("select status from calls where id = %s", (call,))["status"] == "queued"
    assert db.count("webhook_events") == 1  # the report only


def test_customer_lines_from_the_transcript_text_when_no_messages() -> None:
    message = {"artifact": {"transcript": "AI: Reply STOP to opt out.\nUser: stop calling me"}}
    assert customer_lines(message) == ["stop calling me"]
