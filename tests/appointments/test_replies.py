"""C / R / X replies to an appointment text, through the real Twilio inbound webhook."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import pytest

from app.appointments.loop import run
from app.core.clock import ManualClock
from app.jobs.appointments import appointment_deps
from app.jobs.bootstrap import Context
from app.webhooks import create_app
from tests.appointments.helpers import NY_PHONE, book, rows

NOW = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)
STARTS = datetime(2027, 3, 3, 15, 0, tzinfo=UTC)


@pytest.fixture
async def http(ctx: Context, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    clock.set(NOW)
    app = create_app(ctx)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://h.test") as client:
            yield client


async def sms(http: httpx.AsyncClient, body: str, sid: str, sender: str = NY_PHONE) -> None:
    form = urlencode({"MessageSid": sid, "From": sender, "To": "+15550001111", "Body": body})
    headers = {"content-type": "application/x-www-form-urlencoded"}
    response = await http.post("/webhooks/twilio/sms", content=form, headers=headers)
    assert response.status_code == 200, response.text


def state(dsn: str, appointment_id: int) -> str:
    [row] = rows(dsn, "select status from appointments where id = %s", (appointment_id,))
    return str(row["status"])


def answer(dsn: str, sid: str) -> dict[str, object] | None:
    found = rows(dsn, "select to_address, status, payload from messages"
                      " where idempotency_key = %s", (f"appt-reply:{sid}",))  # fmt: skip
    return found[0] if found else None


async def booked(ctx: Context) -> int:
    a = await book(ctx, STARTS)
    await run(appointment_deps(ctx))  # confirmation texted: replies now refer to it
    return a.id


async def test_c_confirms(ctx: Context, http: httpx.AsyncClient, database_dsn: str) -> None:
    appointment_id = await booked(ctx)
    await sms(http, " c. ", "SM1")
    assert state(database_dsn, appointment_id) == "confirmed"
    reply = answer(database_dsn, "SM1")
    assert reply is not None and reply["status"] == "dry_run" and reply["to_address"] == NY_PHONE
    assert "confirmed" in str(reply["payload"])


async def test_r_sends_the_booking_link(
    ctx: Context, http: httpx.AsyncClient, database_dsn: str
) -> None:
    appointment_id = await booked(ctx)
    await sms(http, "R", "SM2")
    assert state(database_dsn, appointment_id) == "booked"
    reply = answer(database_dsn, "SM2")
    assert reply is not None and "https://cal.example.com/brightside" in str(reply["payload"])


async def test_x_cancels_frees_the_slot_and_stops_reminders(
    ctx: Context, clock: ManualClock, http: httpx.AsyncClient, database_dsn: str
) -> None:
    appointment_id = await booked(ctx)
    await sms(http, "x", "SM3")
    assert state(database_dsn, appointment_id) == "cancelled"
    assert await ctx.repos.webhooks.booked_slots(STARTS, STARTS + timedelta(hours=1)) == []
    clock.set(STARTS - timedelta(minutes=30))
    await run(appointment_deps(ctx))
    sent = rows(
        database_dsn,
        "select idempotency_key from messages where idempotency_key like %s",
        (f"appt:{appointment_id}:%",),
    )
    assert all(":confirmation:" in r["idempotency_key"] for r in sent)  # no reminder went out


async def test_other_text_and_strangers_are_normal_replies(
    ctx: Context, http: httpx.AsyncClient, database_dsn: str
) -> None:
    appointment_id = await booked(ctx)
    await sms(http, "Can I bring my kid?", "SM4")
    await sms(http, "C", "SM5", sender="+12125550999")  # no appointment for this number
    assert state(database_dsn, appointment_id) == "booked"
    assert answer(database_dsn, "SM4") is None and answer(database_dsn, "SM5") is None
    notified = rows(
        database_dsn,
        "select count(*) n from messages where idempotency_key like 'reply-notify:SM4:%%'",
    )
    assert notified == [{"n": 1}]  # the operator still hears about a normal reply


async def test_duplicate_webhook_delivery_answers_once(
    ctx: Context, http: httpx.AsyncClient, database_dsn: str
) -> None:
    await booked(ctx)
    await sms(http, "C", "SM6")
    await sms(http, "C", "SM6")
    found = rows(
        database_dsn, "select count(*) n from messages where idempotency_key like 'appt-reply:%%'"
    )
    assert found == [{"n": 1}]
