"""The issue's end-to-end path: a booking made through the posted Vapi bookAppointment
tool-call fixture is confirmed on the dry-run providers, its reminders are planned, the
status page counts it and the next day's digest counts it."""

from __future__ import annotations

from datetime import timedelta

from app.appointments.digest import build_digest
from app.appointments.loop import run
from app.core.clock import ManualClock
from app.jobs.appointments import appointment_deps
from app.jobs.bootstrap import Context
from app.status.data import collect
from tests.appointments.helpers import keys, plan_rows, rows
from tests.webhooks.helpers import client, post_vapi, vapi_message, vapi_time


async def test_vapi_tool_call_booking_to_confirmation_status_and_digest(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    body = vapi_message("08-tool-calls-book-appointment.json")
    clock.set(vapi_time(body))
    async with client(ctx) as http:
        response = await post_vapi(http, body)
    assert response.status_code == 200, response.text
    [a] = rows(database_dsn, "select id, starts_at, source from appointments")
    assert a["source"] == "vapi"
    counts = await run(appointment_deps(ctx))
    assert counts["sent"] == 1  # the caller has a phone, no email: one text
    [sms] = [m for m in keys(database_dsn, a["id"]) if m.endswith(":sms")]
    assert sms == f"appt:{a['id']}:v1:confirmation:sms"
    [text] = rows(database_dsn, "select payload->>'body' b, payload->'request' r, status"
                                " from messages where idempotency_key = %s", (sms,))  # fmt: skip
    assert text["status"] == "dry_run" and text["r"] is not None  # what the dry run sent
    assert "Reply C to confirm, R to reschedule, X to cancel." in text["b"]
    plan = plan_rows(database_dsn, a["id"])
    assert plan[(1, "reminder_1h", "sms")]["status"] == "scheduled"
    assert plan[(1, "no_show", "sms")]["due_at"] >= a["starts_at"] + timedelta(minutes=90)
    snap = await collect(ctx)
    assert snap["appointments"]["booked_7d"] == 1 and snap["appointments"]["upcoming"] == 1
    clock.advance(timedelta(days=1))
    digest = await build_digest(ctx.repos.appointments, ctx.clock.now(), ctx.settings)
    assert digest.numbers["bookings"] == 1
