"""Calendars deliver out of order: Cal.com's BOOKING_CANCELLED can arrive before its
BOOKING_CREATED, a reschedule before the booking it moves. Events are ordered by their own
time (`createdAt`; `event_at` in the generic body), so the latest state wins."""

from __future__ import annotations

import json

import httpx

from tests.appointments.helpers import rows
from tests.appointments.test_booking_webhook import calcom, http, post, sign

__all__ = ["http"]  # the fixture, shared


def at(event: dict[str, object], created: str) -> dict[str, object]:
    return {**event, "createdAt": created}


async def test_a_cancellation_before_its_booking_leaves_it_cancelled(
    http: httpx.AsyncClient, database_dsn: str
) -> None:
    booked = at(calcom("BOOKING_CREATED", "uid-7", "2027-03-04T15:00:00Z"), "2027-03-01T15:00:00Z")
    cancelled = at(
        calcom("BOOKING_CANCELLED", "uid-7", "2027-03-04T15:00:00Z"), "2027-03-01T15:05:00Z"
    )
    first = await post(http, cancelled)
    assert first.status_code == 200 and first.json()["outcome"] == "cancelled"
    late = await post(http, booked)
    assert late.status_code == 200 and late.json()["outcome"] == "stale"
    [a] = rows(database_dsn, "select status, cancelled_at is not null c from appointments")
    assert a == {"status": "cancelled", "c": True}
    planned = rows(database_dsn, "select count(*) n from appointment_reminders")
    assert planned == [{"n": 0}]  # nothing was confirmed or reminded
    assert rows(database_dsn, "select count(*) n from webhook_events") == [{"n": 2}]  # both kept


async def test_an_old_reschedule_arriving_late_does_not_move_it_back(
    http: httpx.AsyncClient, database_dsn: str
) -> None:
    booked = at(calcom("BOOKING_CREATED", "uid-8", "2027-03-04T15:00:00Z"), "2027-03-01T10:00:00Z")
    first_move = at(calcom("BOOKING_RESCHEDULED", "uid-9", "2027-03-05T15:00:00Z",
                           rescheduleUid="uid-8"), "2027-03-01T11:00:00Z")  # fmt: skip
    second_move = at(calcom("BOOKING_RESCHEDULED", "uid-10", "2027-03-06T15:00:00Z",
                            rescheduleUid="uid-8"), "2027-03-01T12:00:00Z")  # fmt: skip
    for event, outcome in ((booked, "booked"), (second_move, "rescheduled"), (first_move, "stale")):
        body = json.dumps(event).encode()
        response = await post(http, body, **{"x-cal-signature-256": sign(body)})
        assert response.json()["outcome"] == outcome
    [a] = rows(database_dsn, "select starts_at::date::text d from appointments")
    assert a == {"d": "2027-03-06"}


async def test_the_generic_body_without_a_time_keeps_arrival_order(
    http: httpx.AsyncClient, database_dsn: str
) -> None:
    body = {"external_id": "g-1", "starts_at": "2027-03-04T10:00:00-05:00",
            "phone": "+12125550188"}  # fmt: skip
    assert (await post(http, {**body, "status": "cancelled"})).json()["outcome"] == "cancelled"
    assert (await post(http, body)).json()["outcome"] == "unchanged"  # stays cancelled
    stamped = {**body, "external_id": "g-2", "event_at": "2027-03-01T09:00:00Z"}
    assert (await post(http, stamped)).json()["outcome"] == "booked"
    older = {**stamped, "status": "cancelled", "event_at": "2027-03-01T08:59:00Z"}
    assert (await post(http, older)).json()["outcome"] == "stale"
