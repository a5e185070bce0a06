"""Replies Vapi reads: tool-calls (bookAppointment, checkAvailability), function-call and
assistant-request, with their exact JSON."""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.errors import DatabaseUnavailable
from app.jobs.bootstrap import Context
from tests.conftest import Rebuild, make_settings
from tests.webhooks.helpers import (
    Db,
    client,
    post_vapi,
    seed_campaign,
    seed_lead,
    vapi_message,
    vapi_time,
)

TOOL_ID = "call_Q7tD2mXk9aBv4RzL1nPe8sWf"
DANA = "+15125550123"


def _tool_message(clock: ManualClock) -> dict[str, Any]:
    body = vapi_message("08-tool-calls-book-appointment.json")
    clock.set(vapi_time(body))
    return body


async def test_book_appointment_fixture(ctx: Context, db: Db, clock: ManualClock) -> None:
    lead_id = await seed_lead(ctx, db, phone=DANA, name="Dana Whitfield")
    await seed_campaign(ctx)
    body = _tool_message(clock)
    async with client(ctx) as http:
        response = await post_vapi(http, body)
        again = await post_vapi(http, body)  # Vapi retried the same tool call
    appointment = db.one(
        "select id, lead_id, starts_at, ends_at, status, source, notes from appointments"
    )
    result = {
        "status": "booked",
        "appointmentId": appointment["id"],
        "date": "2026-03-24",
        "time": "10:30",
    }
    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {
                "toolCallId": TOOL_ID,
                "name": "bookAppointment",
                "result": json.dumps(result, separators=(",", ":")),
            }
        ]
    }
    assert again.json() == response.json()
    # 10:30 in the business's zone (America/Chicago, CDT in late March) is 15:30 UTC
    assert appointment["starts_at"] == datetime(2026, 3, 24, 15, 30, tzinfo=UTC)
    assert appointment["ends_at"] == datetime(2026, 3, 24, 16, 30, tzinfo=UTC)
    assert (appointment["lead_id"], appointment["status"], appointment["source"]) == (
        lead_id,
        "booked",
        "vapi",
    )
    assert appointment["notes"] == "cleaning"
    assert db.one("select status from leads")["status"] == "booked"
    assert db.one("select status from enrollments")["status"] == "stopped"


async def test_taken_slot_string_arguments_and_unknown_tool(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    await seed_lead(ctx, db, phone=DANA)
    first = _tool_message(clock)
    second = copy.deepcopy(first)
    call = second["message"]["toolCallList"][0]
    call["id"] = "call_other"
    call["function"]["arguments"] = json.dumps(call["function"]["arguments"])  # a JSON string
    second["message"]["toolCallList"].append(
        {"id": "call_x", "type": "function", "function": {"name": "launchRocket", "arguments": {}}}
    )
    async with client(ctx) as http:
        await post_vapi(http, first)
        response = await post_vapi(http, second)
    results = response.json()["results"]
    assert response.status_code == 200
    assert [r["toolCallId"] for r in results] == ["call_other", "call_x"]
    assert results[0]["error"].startswith("That slot was just taken. Next openings: 2026-03-24")
    assert "result" not in results[0]
    assert results[1] == {
        "toolCallId": "call_x",
        "name": "launchRocket",
        "error": "Unknown tool: launchRocket",
    }
    assert all("\n" not in r.get("error", "") for r in results)
    assert db.count("appointments") == 1


async def test_check_availability_and_bad_arguments(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 3, 23, 15, 0, tzinfo=UTC))  # Monday 10:00 in Chicago
    calls = [
        {
            "id": "a",
            "function": {
                "name": "checkAvailability",
                "arguments": {"date": "2026-03-23", "time": "11:00"},
            },
        },
        {"id": "b", "function": {"name": "bookAppointment", "arguments": "{not json"}},
        {
            "id": "c",
            "function": {
                "name": "bookAppointment",
                "arguments": {"date": "2026-03-23", "time": "18:00"},
            },
        },
    ]
    async with client(ctx) as http:
        response = await post_vapi(http, {"message": {"type": "tool-calls", "toolCallList": calls}})
    a, b, c = response.json()["results"]
    assert json.loads(a["result"]) == {
        "date": "2026-03-23",
        "requestedTimeAvailable": True,
        "available": ["11:00", "12:00", "13:00", "14:00", "15:00", "16:00"],
    }
    assert b["error"] == "the arguments are not valid JSON"
    assert c["error"] == "We book between 09:00 and 17:00."


async def test_legacy_function_call(ctx: Context, db: Db, clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 23, 15, 0, tzinfo=UTC))
    message = {
        "type": "function-call",
        "functionCall": {"name": "checkAvailability", "parameters": {"date": "2026-03-23"}},
    }
    async with client(ctx) as http:
        response = await post_vapi(http, {"message": message})
    assert set(response.json()) == {"result"}
    assert json.loads(response.json()["result"])["available"][0] == "11:00"


# --- assistant-request ---------------------------------------------------------------------
async def test_unknown_caller_gets_the_default_assistant(ctx: Context) -> None:
    async with client(ctx) as http:
        response = await post_vapi(http, vapi_message("01-assistant-request.json"))
    assert response.status_code == 200
    assert response.json() == {
        "assistantId": "asst-default",
        "assistantOverrides": {
            "variableValues": {
                "first_name": "there",
                "business_name": "Brightside Dental",
                "booking_url": "https://example.com/book",
                "lead_status": "unknown",
                "direction": "inbound",
            },
            "metadata": {"source": "inbound", "callerNumber": "+15125550187"},
        },
    }


@pytest.fixture
def settings(settings: Settings) -> Settings:
    rules = {"status:new": "asst-sarah", "status:contacted": "asst-john", "campaign:vip": "asst-v"}
    return make_settings(**{**settings.model_dump(), "vapi_assistant_rules": rules})


async def test_known_caller_picked_by_rule(ctx: Context, db: Db) -> None:
    lead_id = await seed_lead(ctx, db, phone="+15125550187", name="Lee Park")
    async with client(ctx) as http:
        new = (await post_vapi(http, vapi_message("01-assistant-request.json"))).json()
        await seed_campaign(ctx, "vip")
        vip = (await post_vapi(http, vapi_message("01-assistant-request.json"))).json()
    assert new["assistantId"] == "asst-sarah"
    assert new["assistantOverrides"]["variableValues"]["first_name"] == "Lee"
    assert new["assistantOverrides"]["metadata"]["lead_id"] == lead_id
    assert vip["assistantId"] == "asst-v"


async def test_database_trouble_falls_back_to_the_default(
    ctx: Context, db: Db, rebuild: Rebuild, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_lead(ctx, db, phone="+15125550187", name="Lee Park")
    ctx = await rebuild(vapi_assistant_request_timeout_seconds=0.01)

    async def down(phone: str) -> None:
        raise DatabaseUnavailable("pool timeout")

    never = asyncio.Event()

    async def hangs(phone: str) -> None:
        await never.wait()

    async with client(ctx) as http:
        for fake in (down, hangs):
            monkeypatch.setattr(ctx.repos.webhooks, "caller", fake)
            response = await post_vapi(http, vapi_message("01-assistant-request.json"))
            assert response.status_code == 200
            assert response.json()["assistantId"] == "asst-default"


async def test_no_assistant_configured_is_a_spoken_error(ctx: Context, rebuild: Rebuild) -> None:
    ctx = await rebuild(vapi_assistant_id=None, vapi_assistant_rules={})
    async with client(ctx) as http:
        response = await post_vapi(http, vapi_message("01-assistant-request.json"))
    assert response.status_code == 200
    assert response.json()["error"]  # non-empty: Vapi speaks it
