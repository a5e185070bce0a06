"""The agents' bookings in the business's real calendar (CALENDAR_PROVIDER): a Vapi
bookAppointment creates the booking through Cal.com's or GoHighLevel's API and confirms it in
the same reply; a failure there is an alert and the caller hears it is not confirmed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from app.core.clock import ManualClock
from app.db.errors import DatabaseUnavailable
from app.jobs.bootstrap import Context
from tests.agents.calendar_bodies import (
    calcom_booking,
    calcom_error,
    calcom_slots,
    ghl_appointment,
    ghl_contact,
    ghl_free_slots,
)
from tests.conftest import Rebuild
from tests.webhooks.helpers import Db, client, post_vapi, seed_lead, vapi_message, vapi_time

CAL = "https://api.cal.com/v2"
GHL = "https://services.leadconnectorhq.com"
DANA = "+15125550123"
TOOL_ID = "call_Q7tD2mXk9aBv4RzL1nPe8sWf"


async def _calcom(rebuild: Rebuild) -> Context:
    return await rebuild(
        calendar_provider="calcom",
        calcom_api_key=SecretStr("cal_live_k3y"),
        calcom_event_type_id=1337,
    )


def _booking_call(clock: ManualClock) -> dict[str, Any]:
    body = vapi_message("08-tool-calls-book-appointment.json")  # 2026-03-24 10:30 Chicago
    clock.set(vapi_time(body))
    return body


async def test_a_calcom_booking_is_made_there_and_confirmed_in_one_reply(
    ctx: Context, db: Db, clock: ManualClock, rebuild: Rebuild
) -> None:
    await seed_lead(ctx, db, phone=DANA, name="Dana Whitfield")
    ctx = await _calcom(rebuild)
    body = _booking_call(clock)
    with respx.mock(assert_all_mocked=True) as cal:
        route = cal.post(f"{CAL}/bookings").mock(
            return_value=httpx.Response(
                201,
                json=(
                    calcom_booking(
                        "bk_7Yq2",
                        "2026-03-24T15:30:00.000Z",
                        "2026-03-24T16:30:00.000Z",
                        "Dana Whitfield",
                    )
                ),
            )
        )
        async with client(ctx) as http:
            first = await post_vapi(http, body)
            again = await post_vapi(http, body)  # Vapi retried the same tool call
    sent = route.calls[0].request
    assert route.call_count == 1  # the retry booked nothing twice
    assert sent.headers["cal-api-version"] == "2026-02-25"
    assert sent.headers["authorization"] == "Bearer cal_live_k3y"
    payload = json.loads(sent.content)
    assert payload["start"] == "2026-03-24T15:30:00.000Z" and payload["eventTypeId"] == 1337
    assert payload["attendee"] == {
        "name": "Dana Whitfield",
        "timeZone": "America/Chicago",
        "phoneNumber": DANA,
    }
    assert payload["metadata"]["tool_call"] == f"vapi:{TOOL_ID}"
    [result] = first.json()["results"]
    appointment = db.one("select id, status from appointments")
    assert json.loads(result["result"]) == {
        "status": "booked",
        "appointmentId": appointment["id"],
        "date": "2026-03-24",
        "time": "10:30",
        "calendar": "calcom",
    }
    assert again.json()["results"][0]["result"] == result["result"]
    booked = db.one("select provider, external_uid, status, appointment_id from calendar_bookings")
    assert booked == {
        "provider": "calcom",
        "external_uid": "bk_7Yq2",
        "status": "booked",
        "appointment_id": appointment["id"],
    }


async def test_a_calcom_failure_is_an_alert_and_never_a_confirmation(
    ctx: Context, db: Db, clock: ManualClock, rebuild: Rebuild
) -> None:
    await seed_lead(ctx, db, phone=DANA, name="Dana Whitfield")
    ctx = await _calcom(rebuild)
    with respx.mock(assert_all_mocked=True) as cal:
        cal.post(f"{CAL}/bookings").mock(
            return_value=httpx.Response(
                400,
                json=calcom_error(
                    400,
                    "BadRequestException",
                    "User either already has booking at this time or is not available",
                ),
            )
        )
        async with client(ctx) as http:
            response = await post_vapi(http, _booking_call(clock))
    [result] = response.json()["results"]
    assert "result" not in result and "NOT booked" in result["error"]
    assert db.count("appointments") == 0
    assert db.one("select status from leads")["status"] != "booked"
    alert = db.one("select key, severity, details from alerts")
    assert (alert["key"], alert["severity"]) == ("calendar:calcom", "critical")
    assert "already has booking" in alert["details"]["error"]
    assert db.one("select status from calendar_bookings")["status"] == "failed"


async def test_a_slot_held_in_nightshift_cancels_the_calcom_booking_again(
    ctx: Context, db: Db, clock: ManualClock, rebuild: Rebuild
) -> None:
    await seed_lead(ctx, db, phone=DANA, name="Dana Whitfield")
    body = _booking_call(clock)
    held = {
        "external_id": "manual:1",
        "phone": DANA,
        "starts_at": "2026-03-24T15:30:00Z",
        "ends_at": "2026-03-24T16:30:00Z",
        "timezone": "America/Chicago",
    }
    await ctx.repos.webhooks.book_appointment(held, clock.now())
    ctx = await _calcom(rebuild)
    with respx.mock(assert_all_mocked=True) as cal:
        cal.post(f"{CAL}/bookings").mock(
            return_value=httpx.Response(
                201,
                json=calcom_booking(
                    "bk_dup", "2026-03-24T15:30:00.000Z", "2026-03-24T16:30:00.000Z", "Dana"
                ),
            )
        )
        cancel = cal.post(f"{CAL}/bookings/bk_dup/cancel").mock(
            return_value=httpx.Response(200, json={"status": "success", "data": {}})
        )
        async with client(ctx) as http:
            response = await post_vapi(http, body)
    assert cancel.call_count == 1
    assert response.json()["results"][0]["error"].startswith("That slot was just taken")
    assert db.count("appointments") == 1
    assert db.one("select status from calendar_bookings")["status"] == "cancelled"


async def test_the_times_offered_are_calcoms_free_slots(
    ctx: Context, clock: ManualClock, rebuild: Rebuild
) -> None:
    clock.set(datetime(2026, 3, 23, 15, 0, tzinfo=UTC))  # Monday 10:00 in Chicago
    ctx = await _calcom(rebuild)
    slots = calcom_slots(
        "2026-03-24", ["2026-03-24T09:00:00.000-05:00", "2026-03-24T13:00:00.000-05:00"]
    )
    call = {
        "id": "c1",
        "function": {
            "name": "checkAvailability",
            "arguments": {"date": "2026-03-24", "time": "10:00"},
        },
    }
    with respx.mock(assert_all_mocked=True) as cal:
        route = cal.get(f"{CAL}/slots").mock(return_value=httpx.Response(200, json=slots))
        async with client(ctx) as http:
            response = await post_vapi(
                http, {"message": {"type": "tool-calls", "toolCallList": [call]}}
            )
    params = route.calls[0].request.url.params
    assert route.calls[0].request.headers["cal-api-version"] == "2024-09-04"
    assert (params["eventTypeId"], params["timeZone"]) == ("1337", "America/Chicago")
    assert (params["start"], params["end"]) == (
        "2026-03-24T14:00:00.000Z",
        "2026-03-24T22:00:00.000Z",
    )
    assert json.loads(response.json()["results"][0]["result"]) == {
        "date": "2026-03-24",
        "available": ["09:00", "13:00"],
        "requestedTimeAvailable": False,
    }


async def test_gohighlevel_offers_its_free_slots_and_books_a_contact_appointment(
    ctx: Context, db: Db, clock: ManualClock, rebuild: Rebuild
) -> None:
    await seed_lead(ctx, db, phone=DANA, name="Dana Whitfield")
    ctx = await rebuild(
        calendar_provider="gohighlevel",
        ghl_api_token=SecretStr("pit-7f3e"),
        ghl_location_id="loc_8pQ2",
        ghl_calendar_id="cal_Hv4C",
    )
    body = _booking_call(clock)
    check = {
        "id": "c0",
        "function": {"name": "checkAvailability", "arguments": {"date": "2026-03-24"}},
    }
    free = ghl_free_slots("2026-03-24", ["2026-03-24T10:30:00-05:00"])
    with respx.mock(assert_all_mocked=True) as ghl:
        slots = ghl.get(f"{GHL}/calendars/cal_Hv4C/free-slots").mock(
            return_value=httpx.Response(200, json=free)
        )
        contact = ghl.post(f"{GHL}/contacts/upsert").mock(
            return_value=httpx.Response(200, json=ghl_contact("ct_51", "Dana Whitfield", DANA))
        )
        appointment = ghl.post(f"{GHL}/calendars/events/appointments").mock(
            side_effect=lambda r: httpx.Response(
                200, json=ghl_appointment("ev_9", json.loads(r.content))
            )
        )
        async with client(ctx) as http:
            offered = await post_vapi(
                http, {"message": {"type": "tool-calls", "toolCallList": [check]}}
            )
            booked = await post_vapi(http, body)
    assert json.loads(offered.json()["results"][0]["result"])["available"] == ["10:30"]
    assert slots.calls[0].request.headers["version"] == "2021-04-15"
    assert (
        slots.calls[0].request.url.params["startDate"] == "1774360800000"
    )  # ms of 14:00Z = 09:00 CDT
    assert contact.calls[0].request.headers["version"] == "2021-07-28"
    sent = json.loads(appointment.calls[0].request.content)
    assert sent["contactId"] == "ct_51" and sent["startTime"] == "2026-03-24T10:30:00-05:00"
    assert "ignoreFreeSlotValidation" not in sent  # never double-book past its slot check
    assert json.loads(booked.json()["results"][0]["result"])["calendar"] == "gohighlevel"
    assert db.one("select external_uid from calendar_bookings")["external_uid"] == "ev_9"


async def test_a_booking_that_cannot_be_cancelled_again_pages_someone(
    ctx: Context, db: Db, clock: ManualClock, rebuild: Rebuild
) -> None:
    await seed_lead(ctx, db, phone=DANA, name="Dana Whitfield")
    body = _booking_call(clock)
    held = {"external_id": "manual:1", "phone": DANA, "starts_at": "2026-03-24T15:30:00Z",
            "ends_at": "2026-03-24T16:30:00Z", "timezone": "America/Chicago"}  # fmt: skip
    await ctx.repos.webhooks.book_appointment(held, clock.now())
    ctx = await _calcom(rebuild)
    booking = calcom_booking("bk_dup", "2026-03-24T15:30:00.000Z", "2026-03-24T16:30:00.000Z", "D")
    with respx.mock(assert_all_mocked=True) as cal:
        cal.post(f"{CAL}/bookings").mock(return_value=httpx.Response(201, json=booking))
        cal.post(f"{CAL}/bookings/bk_dup/cancel").mock(
            return_value=httpx.Response(503, json=calcom_error(503, "ServiceUnavailable", "down"))
        )
        async with client(ctx) as http:
            response = await post_vapi(http, body)
    assert response.json()["results"][0]["error"].startswith("That slot was just taken")
    alert = db.one("select key, severity, title from alerts")
    assert (alert["key"], alert["severity"]) == ("calendar:calcom", "critical")
    assert "bk_dup NOT confirmed to the caller and not cancelled" in alert["title"]


async def test_the_database_failing_after_calcom_accepted_cancels_it_again(
    ctx: Context, db: Db, clock: ManualClock, rebuild: Rebuild, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = _booking_call(clock)
    ctx = await _calcom(rebuild)

    async def down(*args: object) -> None:
        raise DatabaseUnavailable("connection refused")

    monkeypatch.setattr(ctx.repos.webhooks, "book_appointment", down)
    booking = calcom_booking("bk_9", "2026-03-24T15:30:00.000Z", "2026-03-24T16:30:00.000Z", "D")
    with respx.mock(assert_all_mocked=True) as cal:
        cal.post(f"{CAL}/bookings").mock(return_value=httpx.Response(201, json=booking))
        cancel = cal.post(f"{CAL}/bookings/bk_9/cancel").mock(
            return_value=httpx.Response(200, json={"status": "success", "data": {}})
        )
        async with client(ctx) as http:
            response = await post_vapi(http, body)
    assert cancel.call_count == 1
    reply = response.json()["results"][0]
    said = reply.get("result", "") + reply.get("error", "")
    assert said and "booked" not in said  # the caller is never told it is booked
    assert db.one("select status from calendar_bookings")["status"] == "cancelled"
