"""The booking desk: the slots the AI agents may offer and book, in the business's calendar.

Contract:
- times are in the business's zone; an appointment lasts `minutes` and must fit inside the
  booking hours (`"HH:MM-HH:MM"`), in the future;
- `free_slots(day)`: the starts of the free slots of `day` on the grid of `minutes`, minus
  held appointments and the past;
- `availability(day, at)`: `{"date", "available": ["09:00", ...]}`, and with `at` whether that
  exact time is free;
- `book(request)`: idempotent per tool call (`webhook_book_appointment`); a held
  slot, a time outside the hours or in the past, or no way to find the caller is a
  `Refused` whose message is said to the caller (a taken slot names the next openings).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.core.clock import Clock
from app.db.webhooks import WebhookRepository


class Refused(Exception):
    """A booking the desk turns down; the message is for the caller."""


@dataclass(frozen=True)
class BookingRequest:
    """A booking the AI agent asked for; `tool_call_id` makes a retried call idempotent."""

    tool_call_id: str | None
    day: date
    at: time
    phone: str | None
    name: str | None
    notes: str | None
    vapi_call_id: str | None


@dataclass(frozen=True)
class BookingDesk:
    repo: WebhookRepository
    clock: Clock
    timezone: str
    hours: str  # BOOKING_HOURS, "HH:MM-HH:MM"
    minutes: int  # APPOINTMENT_MINUTES

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _opening(self) -> tuple[time, time]:
        opens, closes = self.hours.split("-")
        return time.fromisoformat(opens), time.fromisoformat(closes)

    def today(self) -> date:
        return self.clock.now().astimezone(self.zone).date()

    async def free_slots(self, day: date) -> list[datetime]:
        """Starts of the free slots of `day` (local, aware), after now."""
        opens, closes = self._opening()
        start, end = (
            datetime.combine(day, opens, self.zone),
            datetime.combine(day, closes, self.zone),
        )
        held = await self.repo.booked_slots(start, end)
        now, length, slots = self.clock.now(), timedelta(minutes=self.minutes), []
        at = start
        while at + length <= end:
            clash = any(s.starts_at < at + length and s.ends_at > at for s in held)
            if at > now and not clash:
                slots.append(at)
            at += length
        return slots

    async def availability(self, day: date, at: time | None) -> dict[str, Any]:
        return availability_answer(day, at, await self.free_slots(day))

    def _window(self, day: date, at: time) -> tuple[datetime, datetime]:
        opens, closes = self._opening()
        start = datetime.combine(day, at, self.zone)
        end = start + timedelta(minutes=self.minutes)
        if start <= self.clock.now():
            raise Refused("That time has already passed; please pick a future time.")
        if at < opens or end > datetime.combine(day, closes, self.zone):
            raise Refused(f"We book between {opens:%H:%M} and {closes:%H:%M}.")
        return start, end

    async def _next_openings(self, day: date) -> str:
        found: list[datetime] = []
        for offset in range(7):
            found += await self.free_slots(day + timedelta(days=offset))
            if len(found) >= 2:
                break
        return ", ".join(s.strftime("%Y-%m-%d %H:%M") for s in found[:2]) or "none this week"

    async def book(self, request: BookingRequest) -> dict[str, Any]:
        start, end = self._window(request.day, request.at)
        # a retried tool call keeps its id: booking it again returns the same appointment
        external = request.tool_call_id or f"{request.vapi_call_id}:{start.isoformat()}"
        booking = {
            "external_id": f"vapi:{external}", "phone": request.phone, "name": request.name,
            "starts_at": start.isoformat(), "ends_at": end.isoformat(),
            "timezone": self.timezone, "vapi_call_id": request.vapi_call_id,
            "notes": request.notes,
        }  # fmt: skip
        result = await self.repo.book_appointment(booking, self.clock.now())
        if result.outcome == "taken":
            openings = await self._next_openings(start.date())
            raise Refused(f"That slot was just taken. Next openings: {openings}.")
        if result.outcome == "no_lead":
            raise Refused("I need the caller's phone number to book.")
        local = start.astimezone(self.zone)
        return {"status": "booked", "appointmentId": result.appointment_id,
                "date": local.strftime("%Y-%m-%d"), "time": local.strftime("%H:%M")}  # fmt: skip


def availability_answer(day: date, at: time | None, free: list[datetime]) -> dict[str, Any]:
    """The `checkAvailability` tool's answer: the day's free start times (HH:MM, local) and,
    when the caller asked for a time, whether that one is free."""
    slots = [s.strftime("%H:%M") for s in free]
    result: dict[str, Any] = {"date": day.isoformat(), "available": slots}
    if at is not None:
        result["requestedTimeAvailable"] = at.strftime("%H:%M") in slots
    return result
