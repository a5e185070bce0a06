"""POST /webhooks/booking: HMAC verification, the error ladder, idempotency, reschedule,
cancel, and the confirmation sent right away."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.webhooks import create_app
from tests.appointments.conftest import BOOKING_SECRET
from tests.appointments.helpers import keys, rows

NOW = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)
BOOKING = {
    "external_id": "cal-123",
    "starts_at": "2027-03-04T10:00:00-05:00",
    "name": "Dana Cruz",
    "phone": "+12125550188",
    "email": "Dana@Example.com",
    "timezone": "America/New_York",
}


def sign(body: bytes, secret: str = BOOKING_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
async def http(ctx: Context, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    clock.set(NOW)
    app = create_app(ctx)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://h.test") as client:
            yield client


async def post(http: httpx.AsyncClient, data: Any, **headers: str) -> httpx.Response:
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    sent = {"content-type": "application/json", "x-booking-signature": sign(body), **headers}
    return await http.post("/webhooks/booking", content=body, headers=sent)


async def test_signed_booking_is_stored_and_confirmed(
    http: httpx.AsyncClient, database_dsn: str
) -> None:
    response = await post(http, BOOKING)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "booked"
    [a] = rows(database_dsn, "select a.*, l.email, l.status ls from appointments a"
                             " join leads l on l.id = a.lead_id")  # fmt: skip
    assert a["starts_at"] == datetime(2027, 3, 4, 15, 0, tzinfo=UTC)
    assert (a["ends_at"] - a["starts_at"]).total_seconds() == 3600  # APPOINTMENT_MINUTES
    assert a["email"] == "dana@example.com" and a["ls"] == "booked"
    # the background tick confirmed it at once
    assert keys(database_dsn, a["id"]) == [
        f"appt:{a['id']}:v1:confirmation:email", f"appt:{a['id']}:v1:confirmation:sms"
    ]  # fmt: skip


async def test_sha256_prefix_and_cal_header_are_accepted(http: httpx.AsyncClient) -> None:
    body = json.dumps(BOOKING).encode()
    first = await post(http, body, **{"x-booking-signature": "sha256=" + sign(body)})
    assert first.status_code == 200
    again = await post(http, body, **{"x-booking-signature": "",
                                       "x-cal-signature-256": sign(body)})  # fmt: skip
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    same = await post(http, {**BOOKING, "notes": "resent by the calendar"})
    assert same.json()["outcome"] == "unchanged"  # another body, same booking


async def test_a_replayed_old_body_never_undoes_a_reschedule(
    http: httpx.AsyncClient, database_dsn: str
) -> None:
    original = json.dumps(BOOKING).encode()
    assert (await post(http, original)).json()["outcome"] == "booked"
    await post(http, {**BOOKING, "starts_at": "2027-03-05T11:00:00-05:00"})
    replay = await post(http, original)
    assert replay.status_code == 200 and replay.json()["outcome"] == "duplicate"
    [a] = rows(database_dsn, "select starts_at, version from appointments")
    assert a == {"starts_at": datetime(2027, 3, 5, 16, 0, tzinfo=UTC), "version": 2}
    stored = rows(database_dsn, "select count(*) n from webhook_events where provider = 'booking'")
    assert stored == [{"n": 2}]


@pytest.mark.parametrize(
    "signature", ["", "0" * 64, sign(b"another body"), sign(json.dumps(BOOKING).encode(), "x")]
)
async def test_bad_or_missing_signature_is_401_and_stores_nothing(
    http: httpx.AsyncClient, database_dsn: str, signature: str
) -> None:
    response = await post(http, BOOKING, **{"x-booking-signature": signature})
    assert response.status_code == 401
    assert "X-Booking-Signature" in response.json()["error"]
    assert rows(database_dsn, "select id from appointments") == []


async def test_error_ladder(http: httpx.AsyncClient, database_dsn: str) -> None:
    body = json.dumps(BOOKING).encode()
    text = await http.post("/webhooks/booking", content=body,
                           headers={"content-type": "text/plain"})  # fmt: skip
    assert text.status_code == 415
    huge = b'{"x": "' + b"a" * (6 * 1024 * 1024) + b'"}'
    assert (await post(http, huge)).status_code == 413
    broken = await post(http, b'{"external_id": ')
    assert broken.status_code == 400 and broken.json()["error"] == "malformed JSON"
    cases = [
        ({**BOOKING, "starts_at": "2027-03-04T10:00:00"}, "starts_at"),  # no offset
        ({k: v for k, v in BOOKING.items() if k != "external_id"}, "external_id"),
        ({**BOOKING, "phone": "212-555-0188"}, "phone"),
        ({**BOOKING, "timezone": "Mars/Olympus"}, "timezone"),
        ({**BOOKING, "phone": None, "email": None}, "phone or email"),
        ({**BOOKING, "ends_at": "2027-03-04T09:00:00-05:00"}, "ends_at"),
        ([BOOKING], "JSON object"),
    ]
    for data, reason in cases:
        response = await post(http, data)
        assert response.status_code == 422, (data, response.text)
        assert reason in response.json()["error"]
    assert rows(database_dsn, "select id from appointments") == []


async def test_new_start_reschedules_and_status_cancelled_cancels(
    http: httpx.AsyncClient, database_dsn: str
) -> None:
    await post(http, BOOKING)
    moved = await post(http, {**BOOKING, "starts_at": "2027-03-05T11:00:00-05:00"})
    assert moved.json()["outcome"] == "rescheduled"
    [a] = rows(database_dsn, "select id, version, status from appointments")
    assert a["version"] == 2
    assert f"appt:{a['id']}:v2:confirmation:sms" in keys(database_dsn, a["id"])
    cancelled = await post(http, {**BOOKING, "status": "cancelled"})
    assert cancelled.json()["outcome"] == "cancelled"
    pending = rows(database_dsn, "select count(*) n from appointment_reminders"
                                 " where status in ('scheduled', 'claimed')")  # fmt: skip
    assert pending == [{"n": 0}]
    # a cancellation for a booking not seen yet is kept (tests/appointments/test_booking_order.py)
    early = await post(http, {**BOOKING, "external_id": "not-yet", "status": "cancelled"})
    assert early.status_code == 200 and early.json()["outcome"] == "cancelled"
    nobody = {"external_id": "nobody", "starts_at": BOOKING["starts_at"], "status": "cancelled"}
    assert (await post(http, nobody)).status_code == 422  # no phone or email: no lead to keep


def calcom(trigger: str, uid: str, start: str, **extra: object) -> dict[str, object]:
    attendee = {"name": "Rae Ng", "email": "rae@example.com", "timeZone": "America/Chicago",
                "phoneNumber": "+13125550120"}  # fmt: skip
    end = start.replace("T15", "T16")
    payload = {"uid": uid, "title": "Consultation", "startTime": start, "endTime": end,
               "attendees": [attendee], **extra}  # fmt: skip
    return {"triggerEvent": trigger, "createdAt": "2027-03-01T15:00:00Z", "payload": payload}


async def test_calcom_native_webhook_books_reschedules_and_cancels(
    http: httpx.AsyncClient, database_dsn: str
) -> None:
    created = calcom("BOOKING_CREATED", "uid-1", "2027-03-04T15:00:00Z")
    body = json.dumps(created).encode()
    first = await post(http, body, **{"x-booking-signature": "",
                                      "x-cal-signature-256": sign(body)})  # fmt: skip
    assert first.status_code == 200 and first.json()["outcome"] == "booked"
    moved = calcom("BOOKING_RESCHEDULED", "uid-2", "2027-03-05T15:00:00Z", rescheduleUid="uid-1")
    assert (await post(http, moved)).json()["outcome"] == "rescheduled"
    cancelled = calcom("BOOKING_CANCELLED", "uid-1", "2027-03-05T15:00:00Z")
    assert (await post(http, cancelled)).json()["outcome"] == "cancelled"
    [a] = rows(database_dsn, "select a.status, a.version, a.starts_at, l.phone, l.timezone"
                             " from appointments a join leads l on l.id = a.lead_id")  # fmt: skip
    assert a == {"status": "cancelled", "version": 2, "phone": "+13125550120",
                 "starts_at": datetime(2027, 3, 5, 15, 0, tzinfo=UTC),
                 "timezone": "America/Chicago"}  # fmt: skip
