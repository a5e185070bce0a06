"""GoHighLevel (LeadConnector) API v2 as a Calendar (the port: app/providers/calendars.py;
facts: docs/notes/calendars.md §4). Versions pinned: calendars `2021-04-15`, contacts
`2021-07-28`. A booking upserts the contact first, then creates the appointment, never with
`ignoreFreeSlotValidation` (it would allow double booking)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from app.core.clock import Clock
from app.providers.calendars import CalendarBookingIn, CalendarHttp, ExternalBooking
from app.providers.errors import PermanentProviderError
from app.providers.ports import ProviderRequest

GHL_API = "https://services.leadconnectorhq.com"
GHL_CALENDARS_VERSION = "2021-04-15"
GHL_CONTACTS_VERSION = "2021-07-28"


class GoHighLevelCalendar(CalendarHttp):
    """GoHighLevel (LeadConnector) API v2 with a sub-account token, one calendar."""

    provider = name = "gohighlevel"

    def __init__(
        self,
        token: SecretStr,
        location_id: str,
        calendar_id: str,
        *,
        client: httpx.AsyncClient,
        clock: Clock,
        base_url: str = GHL_API,
    ) -> None:
        super().__init__(token, client, clock)
        self.location_id = location_id
        self.calendar_id = calendar_id
        self.base_url = base_url

    async def free_slots(self, start: datetime, end: datetime, timezone: str) -> list[datetime]:
        url = f"{self.base_url}/calendars/{quote(self.calendar_id, safe='')}/free-slots"
        request = ProviderRequest("GET", url, headers={"Version": GHL_CALENDARS_VERSION})
        millis = {
            "startDate": str(int(start.timestamp() * 1000)),
            "endDate": str(int(end.timestamp() * 1000)),
            "timezone": timezone,
        }
        data = await self._call(request, millis)
        starts = [
            datetime.fromisoformat(str(slot))
            for day in (data or {}).values()
            if isinstance(day, dict)
            for slot in day.get("slots") or []
        ]
        return sorted(s for s in starts if start <= s < end)

    async def _contact(self, booking: CalendarBookingIn) -> str:
        body: dict[str, Any] = {
            "locationId": self.location_id,
            "name": booking.name,
            "source": "nightshift",
            "timezone": booking.timezone,
        }
        if booking.phone:
            body["phone"] = booking.phone
        request = ProviderRequest(
            "POST",
            f"{self.base_url}/contacts/upsert",
            json=body,
            headers={"Version": GHL_CONTACTS_VERSION},
        )
        contact = (await self._call(request)).get("contact") or {}
        if not contact.get("id"):
            raise PermanentProviderError("gohighlevel", "contact upsert without an id")
        return str(contact["id"])

    async def book(self, booking: CalendarBookingIn) -> ExternalBooking:
        zone_start = booking.start.isoformat()
        body = {
            "calendarId": self.calendar_id,
            "locationId": self.location_id,
            "contactId": await self._contact(booking),
            "startTime": zone_start,
            "endTime": booking.end.isoformat(),
            "title": f"{booking.name} (AI booking)",
            "appointmentStatus": "confirmed",
            "description": " ".join(f"{k}={v}" for k, v in booking.references.items()),
        }
        if booking.notes:
            body["description"] = f"{booking.notes}. {body['description']}"
        request = ProviderRequest(
            "POST",
            f"{self.base_url}/calendars/events/appointments",
            json=body,
            headers={"Version": GHL_CALENDARS_VERSION},
        )
        data = await self._call(request)
        if not isinstance(data, dict) or not data.get("id"):
            raise PermanentProviderError("gohighlevel", "appointment answer without an id")
        return ExternalBooking(str(data["id"]), str(data.get("appointmentStatus", "confirmed")))

    async def cancel(self, uid: str, reason: str) -> None:
        url = f"{self.base_url}/calendars/events/appointments/{quote(uid, safe='')}"
        await self._call(
            ProviderRequest(
                "PUT",
                url,
                json={"appointmentStatus": "cancelled"},
                headers={"Version": GHL_CALENDARS_VERSION},
            )
        )
