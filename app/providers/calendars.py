"""The Calendar port the AI agents book through, and its Cal.com (API v2) adapter
(GoHighLevel: app/providers/calendar_ghl.py; the choice: app/providers/calendar_build.py).

Contract (docs/notes/calendars.md; docs/appointments.md "The calendar"):
- `free_slots(start, end, timezone)`: the starts of the free slots in [start, end), aware
  datetimes (Cal.com `GET /v2/slots`, GoHighLevel `GET /calendars/{id}/free-slots`);
- `book(booking)`: creates the booking and returns its external id (Cal.com
  `POST /v2/bookings`, GoHighLevel `POST /contacts/upsert` then
  `POST /calendars/events/appointments`, never with `ignoreFreeSlotValidation`);
- `cancel(uid, reason)`: cancels it (Cal.com `POST /v2/bookings/{uid}/cancel`, GoHighLevel
  `PUT /calendars/events/appointments/{id}` with `appointmentStatus: cancelled`);
- one attempt each, no retry: the caller is on the line, and a booking POST that timed out
  may have been made (neither API takes an idempotency key) → the error reaches the desk,
  which alerts and tells the caller the booking is not confirmed;
- every version header is pinned here (the notes' "version drift" pitfall).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from app.core.clock import Clock
from app.providers.errors import (
    PermanentProviderError,
    ProviderError,
    RetryableProviderError,
    parse_retry_after,
)
from app.providers.http import bearer, call_provider
from app.providers.ports import ProviderRequest

CALCOM_API = "https://api.cal.com"
CALCOM_SLOTS_VERSION = "2024-09-04"
CALCOM_BOOKINGS_VERSION = "2026-02-25"


@dataclass(frozen=True)
class CalendarBookingIn:
    """What the agent books: start and end (aware), who, and our references for the
    calendar's metadata (lead and call ids, the tool call id)."""

    start: datetime
    end: datetime
    timezone: str
    name: str
    phone: str | None
    notes: str | None
    references: dict[str, str]


@dataclass(frozen=True)
class ExternalBooking:
    uid: str
    status: str


class Calendar(Protocol):
    """An external calendar the desk offers and books slots of."""

    name: str

    async def free_slots(self, start: datetime, end: datetime, timezone: str) -> list[datetime]: ...

    async def book(self, booking: CalendarBookingIn) -> ExternalBooking: ...

    async def cancel(self, uid: str, reason: str) -> None: ...


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _message(body: Any, status: int) -> str:
    """Cal.com `{"error": {"code", "message"}}`; GoHighLevel `{"message": str | [str]}`."""
    if isinstance(body, dict):
        error = body.get("error")
        raw = error.get("message") if isinstance(error, dict) else body.get("message") or error
        if isinstance(raw, list):
            return "; ".join(map(str, raw))
        if raw:
            return str(raw)
    return f"HTTP {status}"


def classifier(provider: str) -> Any:
    def classify(response: httpx.Response, now: datetime) -> ProviderError:
        try:
            body = response.json()
        except ValueError:
            body = None
        status, message = response.status_code, _message(body, response.status_code)
        if status == 429 or status >= 500:
            return RetryableProviderError(
                provider,
                message,
                code=str(status),
                status=status,
                retry_after=parse_retry_after(response.headers, now),
            )
        return PermanentProviderError(provider, message, code=str(status), status=status)

    return classify


class CalendarHttp:
    """One request to a calendar API with its Bearer token; errors classified here."""

    provider = ""

    def __init__(self, token: SecretStr, client: httpx.AsyncClient, clock: Clock) -> None:
        self._auth = bearer(token.get_secret_value())
        self.client = client
        self.clock = clock

    async def _call(self, request: ProviderRequest, params: dict[str, str] | None = None) -> Any:
        return await call_provider(
            self.client,
            self.provider,
            request,
            headers=self._auth,
            params=params,
            classify=classifier(self.provider),
            now=self.clock.now(),
        )


class CalComCalendar(CalendarHttp):
    """Cal.com API v2 with an API key, one event type (CALCOM_EVENT_TYPE_ID)."""

    provider = name = "calcom"

    def __init__(
        self,
        token: SecretStr,
        event_type_id: int,
        *,
        client: httpx.AsyncClient,
        clock: Clock,
        base_url: str = CALCOM_API,
    ) -> None:
        super().__init__(token, client, clock)
        self.event_type_id = event_type_id
        self.base_url = base_url

    async def free_slots(self, start: datetime, end: datetime, timezone: str) -> list[datetime]:
        request = ProviderRequest(
            "GET", f"{self.base_url}/v2/slots", headers={"cal-api-version": CALCOM_SLOTS_VERSION}
        )
        params = {
            "eventTypeId": str(self.event_type_id),
            "start": _utc(start),
            "end": _utc(end),
            "timeZone": timezone,
        }
        data = (await self._call(request, params)).get("data") or {}
        starts = [
            datetime.fromisoformat(str(slot["start"]).replace("Z", "+00:00"))
            for day in data.values()
            if isinstance(day, list)
            for slot in day
            if isinstance(slot, dict) and slot.get("start")
        ]
        return sorted(s for s in starts if start <= s < end)

    async def book(self, booking: CalendarBookingIn) -> ExternalBooking:
        attendee: dict[str, Any] = {"name": booking.name, "timeZone": booking.timezone}
        if booking.phone:
            attendee["phoneNumber"] = booking.phone
        body: dict[str, Any] = {
            "start": _utc(booking.start),
            "eventTypeId": self.event_type_id,
            "attendee": attendee,
            "lengthInMinutes": int((booking.end - booking.start).total_seconds() // 60),
            "metadata": {k: v[:500] for k, v in booking.references.items()},
        }
        if booking.phone:
            body["location"] = {"type": "attendeePhone", "phone": booking.phone}
        request = ProviderRequest(
            "POST",
            f"{self.base_url}/v2/bookings",
            json=body,
            headers={"cal-api-version": CALCOM_BOOKINGS_VERSION},
        )
        data = (await self._call(request)).get("data")
        data = data[0] if isinstance(data, list) and data else data  # recurring: an array
        if not isinstance(data, dict) or not data.get("uid"):
            raise PermanentProviderError("calcom", "booking answer without a uid")
        return ExternalBooking(str(data["uid"]), str(data.get("status", "accepted")))

    async def cancel(self, uid: str, reason: str) -> None:
        url = f"{self.base_url}/v2/bookings/{quote(uid, safe='')}/cancel"
        await self._call(
            ProviderRequest(
                "POST",
                url,
                json={"cancellationReason": reason},
                headers={"cal-api-version": CALCOM_BOOKINGS_VERSION},
            )
        )
