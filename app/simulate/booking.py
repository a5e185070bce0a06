"""A simulated assistant booking a visit during a call, through Vapi's real tool-call path.

Contract: `book_by_phone` asks `checkAvailability` for the days after the call (business
timezone, up to `SEARCH_DAYS`), then `bookAppointment` for the first free slot, exactly as
Vapi would post them; True only when nightshift answered `status: booked`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from app.simulate import events as ev
from app.simulate.population import SimLead

SEARCH_DAYS = 30
BUSINESS_TZ = "America/New_York"


def _result(response: httpx.Response) -> dict[str, Any]:
    """The first tool result as a dict ({} when it is an error or unreadable)."""
    try:
        entry = response.json()["results"][0]
        value = entry.get("result")
        parsed = json.loads(value) if isinstance(value, str) else value
    except (ValueError, KeyError, IndexError, TypeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


async def _tool(
    queue: ev.EventQueue, http: httpx.AsyncClient, call: dict[str, Any], tool_id: str,
    name: str, args: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    body = ev.vapi_tool(call, tool_id, name, args)
    return _result(await queue.post(http, "/webhooks/vapi", json_body=body))


async def book_by_phone(
    queue: ev.EventQueue, http: httpx.AsyncClient, call: dict[str, Any], tool_id: str,
    lead: SimLead, during: datetime,
) -> bool:  # fmt: skip
    """Find the first free slot after the call's day and book it for the lead's phone."""
    first = during.astimezone(ZoneInfo(BUSINESS_TZ)).date() + timedelta(days=1)
    for offset in range(SEARCH_DAYS):
        day = (first + timedelta(days=offset)).isoformat()
        found = await _tool(queue, http, call, f"{tool_id}-a{offset}", "checkAvailability",
                            {"date": day})  # fmt: skip
        slots = found.get("available") or []
        if slots:
            args = {"date": day, "time": slots[0], "phone": lead.phone,
                    "patientName": lead.name, "appointmentType": "visit"}  # fmt: skip
            booked = await _tool(queue, http, call, tool_id, "bookAppointment", args)
            return booked.get("status") == "booked"
    return False
