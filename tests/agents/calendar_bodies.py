"""Cal.com API v2 and GoHighLevel answers shaped as their docs show (docs/notes/calendars.md)."""

from __future__ import annotations

from typing import Any


def calcom_booking(uid: str, start: str, end: str, name: str) -> dict[str, Any]:
    """201 of `POST /v2/bookings` (cal-api-version 2026-02-25)."""
    return {
        "status": "success",
        "data": {
            "id": 48211, "uid": uid, "title": f"HVAC visit between Comfort Air and {name}",
            "description": "", "status": "accepted", "start": start, "end": end,
            "duration": 60, "eventTypeId": 1337, "eventType": {"id": 1337, "slug": "hvac-visit"},
            "meetingUrl": None, "location": "+15125550123", "absentHost": False,
            "createdAt": "2026-03-17T15:03:09.000Z", "updatedAt": "2026-03-17T15:03:09.000Z",
            "metadata": {}, "rating": None, "icsUid": f"{uid}@Cal.com",
            "hosts": [{"id": 9, "name": "Comfort Air dispatch", "email": "dispatch@example.com",
                       "username": "comfortair", "timeZone": "America/Chicago"}],
            "attendees": [{"name": name, "email": "", "timeZone": "America/Chicago",
                           "language": "en", "absent": False, "phoneNumber": "+15125550123"}],
            "guests": [], "bookingFieldsResponses": {"name": name},
        },
    }  # fmt: skip


def calcom_error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"status": "error", "timestamp": "2026-03-17T15:03:09.000Z",
            "path": "/v2/bookings", "error": {"code": code, "message": message}}  # fmt: skip


def calcom_slots(day: str, starts: list[str]) -> dict[str, Any]:
    """200 of `GET /v2/slots` (cal-api-version 2024-09-04), times in the asked timeZone."""
    return {"status": "success", "data": {day: [{"start": s} for s in starts]}}


def ghl_free_slots(day: str, starts: list[str]) -> dict[str, Any]:
    return {day: {"slots": starts}, "traceId": "9f2e7c1a-3b4d-4e5f-8a9b-0c1d2e3f4a5b"}


def ghl_contact(contact_id: str, name: str, phone: str) -> dict[str, Any]:
    return {"new": True, "contact": {"id": contact_id, "name": name, "phone": phone,
                                     "locationId": "loc_8pQ2"}, "traceId": "t-1"}  # fmt: skip


def ghl_appointment(event_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": event_id, "calendarId": body["calendarId"], "locationId": body["locationId"],
        "contactId": body["contactId"], "startTime": body["startTime"],
        "endTime": body["endTime"], "title": body["title"], "appointmentStatus": "confirmed",
        "assignedUserId": "usr_41", "isRecurring": False, "address": "",
    }  # fmt: skip
