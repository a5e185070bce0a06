"""The calendar behind the agents' `checkAvailability` and `bookAppointment` tools.

Contract (docs/appointments.md, "The calendar"):
- no external calendar (CALENDAR_PROVIDER=native): the booking desk alone (desk.py);
- an external calendar (Cal.com, GoHighLevel): the slots offered are the calendar's free
  slots (inside the booking hours, in the future); a booking is made IN THAT CALENDAR
  FIRST, then recorded in nightshift's appointments table (reminders, digest), in the same
  tool call, so the reply that confirms it is sent only once both hold;
- a retried tool call (same toolCallId) finds its recorded booking and books nothing again;
- the external calendar refuses or fails (error, timeout, unreadable answer): a critical
  alert `calendar:<provider>` is raised and the caller is told the booking is NOT
  confirmed, never "booked"; nothing is written to the appointments table;
- the calendar accepted but the appointments table says the slot is held (a booking made
  outside the calendar): the external booking is cancelled again and the caller offered
  other times — never a silent double booking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import structlog

from app.alerts import Alerts
from app.appointments.desk import BookingDesk, BookingRequest, Refused, availability_answer
from app.db.agents import AgentRepository
from app.db.errors import DatabaseError
from app.providers.calendars import Calendar, CalendarBookingIn
from app.providers.errors import ProviderError

log = structlog.get_logger(__name__)
NOT_CONFIRMED = (
    "I'm sorry, I could not confirm that booking in our calendar, so it is NOT "
    "booked yet. Someone from our team will call you back to confirm a time."
)


@dataclass(frozen=True)
class CalendarDesk:
    """The booking desk with an optional external calendar (None: native only)."""

    desk: BookingDesk
    calendar: Calendar | None
    records: AgentRepository
    alerts: Alerts

    def today(self) -> date:
        return self.desk.today()

    async def free_slots(self, day: date) -> list[datetime]:
        if self.calendar is None:
            return await self.desk.free_slots(day)
        opens, closes = self.desk._opening()
        zone = self.desk.zone
        start, end = datetime.combine(day, opens, zone), datetime.combine(day, closes, zone)
        length, now = timedelta(minutes=self.desk.minutes), self.desk.clock.now()
        try:
            found = await self.calendar.free_slots(start, end, self.desk.timezone)
        except ProviderError as exc:
            await self._alert("could not read free slots", exc)
            raise Refused("I can't see the calendar right now; please try again shortly.") from exc
        return [s.astimezone(zone) for s in found if s > now and s + length <= end]

    async def availability(self, day: date, at: time | None) -> dict[str, Any]:
        return availability_answer(day, at, await self.free_slots(day))

    async def book(self, request: BookingRequest) -> dict[str, Any]:
        if self.calendar is None:
            return await self.desk.book(request)
        start, end = self.desk._window(request.day, request.at)
        key = f"vapi:{request.tool_call_id or f'{request.vapi_call_id}:{start.isoformat()}'}"
        known = await self.records.calendar_booking(key)
        if known is not None and known.status == "booked":  # the appointment row exists
            return {**await self.desk.book(request), "calendar": self.calendar.name}
        external = await self._book_external(key, request, start, end)
        try:
            confirmed = await self.desk.book(request)
        except Refused:
            await self._undo(key, external, start, "slot already held in nightshift")
            raise
        except DatabaseError:
            await self._undo(key, external, start, "nightshift's database failed")
            raise
        await self.records.put_calendar_booking(
            key,
            self.calendar.name,
            "booked",
            start,
            self.desk.clock.now(),
            external_uid=external,
            appointment_id=confirmed.get("appointmentId"),
        )
        return {**confirmed, "calendar": self.calendar.name}

    async def _book_external(
        self, key: str, request: BookingRequest, start: datetime, end: datetime
    ) -> str:
        assert self.calendar is not None
        refs = {"source": "nightshift", "tool_call": key}
        if request.vapi_call_id:
            refs["vapi_call_id"] = request.vapi_call_id
        booking = CalendarBookingIn(
            start=start,
            end=end,
            timezone=self.desk.timezone,
            name=request.name or "Caller",
            phone=request.phone,
            notes=request.notes,
            references=refs,
        )
        try:
            made = await self.calendar.book(booking)
        except ProviderError as exc:
            await self._alert(
                "booking failed: the caller was told it is NOT confirmed",
                exc,
                when=start.isoformat(),
                phone=request.phone,
            )
            await self.records.put_calendar_booking(
                key,
                self.calendar.name,
                "failed",
                start,
                self.desk.clock.now(),
                error=str(exc)[:500],
            )
            raise Refused(NOT_CONFIRMED) from exc
        return made.uid

    async def _undo(self, key: str, external: str, start: datetime, why: str) -> None:
        """Cancel the external booking the caller is not told about; if even that fails,
        page: the calendar holds a booking nobody confirmed."""
        assert self.calendar is not None
        try:
            await self.calendar.cancel(external, why)
        except ProviderError as exc:
            await self._alert(f"booking {external} NOT confirmed to the caller and not "
                              "cancelled: cancel it by hand", exc, reason=why)  # fmt: skip
        try:
            await self.records.put_calendar_booking(
                key, self.calendar.name, "cancelled", start, self.desk.clock.now(),
                external_uid=external, error=why,
            )  # fmt: skip
        except DatabaseError:
            log.error("calendar booking cancelled but not recorded", key=key, uid=external)

    async def _alert(self, what: str, exc: ProviderError, **details: Any) -> None:
        assert self.calendar is not None
        name = self.calendar.name
        log.error("external calendar failed", calendar=name, what=what, error=str(exc))
        info = {"calendar": name, "error": exc.detail, "status": exc.status, **details}
        try:
            await self.alerts.raise_alert(
                f"calendar:{name}", "critical", f"{name} calendar: {what}", info
            )
        except DatabaseError:  # the log line above still reaches the logs
            log.error("calendar alert not recorded: database unavailable", calendar=name)
