"""The tools Sarah and John are given match the handlers of /webhooks/vapi: every function
tool has a handler and every handler a tool, and a call filled from a tool's JSON schema is
understood by its handler (each declared argument changes what the handler does)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.agents.definition import load_agents
from app.agents.render import function_tool
from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.webhooks.booking import TOOLS as BOOKING_TOOLS
from app.webhooks.vapi_consent import TOOLS as CONSENT_TOOLS
from tests.webhooks.helpers import Db, client, post_vapi, seed_lead

AGENTS = Path(__file__).resolve().parents[2] / "agents"
# what a model would fill in, per argument name; a new argument needs an example here
EXAMPLES = {
    "date": "2026-03-24", "time": "10:00", "name": "Dana Whitfield", "phone": "+15125550199",
    "notes": "AC not cooling", "scope": "calls", "reason": "please stop calling me",
}  # fmt: skip


def _function_tools() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for agent in load_agents(AGENTS).values():
        for name, spec in agent.tools.items():
            tool = function_tool(name, spec)
            if tool["type"] == "function":
                found[name] = tool
    return found


def test_every_function_tool_has_a_handler_and_every_handler_a_tool() -> None:
    assert set(_function_tools()) == set(BOOKING_TOOLS) | set(CONSENT_TOOLS)


def _arguments(tool: dict[str, Any]) -> dict[str, Any]:
    schema = tool["function"]["parameters"]
    assert schema["type"] == "object" and set(schema["required"]) <= set(schema["properties"])
    missing = set(schema["properties"]) - set(EXAMPLES)
    assert not missing, f"add examples for {missing}"
    return {name: EXAMPLES[name] for name in schema["properties"]}


async def _call(ctx: Context, name: str, args: dict[str, Any]) -> dict[str, Any]:
    call = {"id": f"call_{name}", "type": "function", "function": {"name": name, "arguments": args}}
    async with client(ctx) as http:
        body = {"message": {"type": "tool-calls", "toolCallList": [call]}}
        response = await post_vapi(http, body)
    assert response.status_code == 200
    return dict(response.json()["results"][0])


async def test_calls_filled_from_the_schemas_are_understood(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 3, 23, 15, 0, tzinfo=UTC))  # Monday 10:00 in Chicago
    tools = _function_tools()

    check = await _call(ctx, "checkAvailability", _arguments(tools["checkAvailability"]))
    assert json.loads(check["result"])["date"] == "2026-03-24"
    assert json.loads(check["result"])["requestedTimeAvailable"] is True  # `time` was read

    booked = await _call(ctx, "bookAppointment", _arguments(tools["bookAppointment"]))
    assert json.loads(booked["result"])["time"] == "10:00", booked
    row = db.one("select l.name, l.phone, a.notes from appointments a join leads l"
                 " on l.id = a.lead_id")  # fmt: skip
    assert row == {"name": "Dana Whitfield", "phone": "+15125550199", "notes": "AC not cooling"}

    await seed_lead(ctx, db, phone="+15125550123", name="Lee Park")
    opt_args = {**_arguments(tools["optOut"]), "phone": "+15125550123"}  # the static value
    assert tools["optOut"]["parameters"] == [{"key": "phone", "value": "{{customer.number}}"}]
    opted = await _call(ctx, "optOut", opt_args)
    assert "call list" in opted["result"]  # scope "calls" was read
    lead = db.one("select calls_opted_out_at, sms_opted_out_at from leads"
                  " where phone = '+15125550123'")  # fmt: skip
    assert lead["calls_opted_out_at"] is not None and lead["sms_opted_out_at"] is None
