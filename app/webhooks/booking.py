"""The Vapi booking tools: `checkAvailability` and `bookAppointment`.

Contract:
- dates are `YYYY-MM-DD` and times `HH:MM` (24 h) in BUSINESS_TIMEZONE; an appointment
  lasts APPOINTMENT_MINUTES and must fit inside BOOKING_HOURS, in the future;
- checkAvailability → `{"date", "available": ["09:00", ...]}` (slots on the hour grid
  of APPOINTMENT_MINUTES, minus held appointments and the past); with a `time`, also
  whether that exact time is free;
- bookAppointment → `webhook_book_appointment` (idempotent per toolCallId; a held slot →
  an error naming the next openings); the appointments issue sends the confirmations;
- a refusal the model should hear is a `ToolError` (→ the result's `error` string).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.jobs.bootstrap import Context
from app.webhooks.vapi_parse import call_id, customer_number, text

Tool = Callable[[Context, dict[str, Any], dict[str, Any]], Awaitable[Any]]
TOOL_CALL_ID = "__tool_call_id"  # added to the arguments by the dispatcher


class ToolError(Exception):
    """A failure the assistant is told about (returned as the result's `error`)."""


def _zone(ctx: Context) -> ZoneInfo:
    return ZoneInfo(ctx.settings.business_timezone)


def _hours(ctx: Context) -> tuple[time, time]:
    start, end = ctx.settings.booking_hours.split("-")
    return time.fromisoformat(start), time.fromisoformat(end)


def _day(value: Any) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ToolError("Please give the date as YYYY-MM-DD.") from exc


def _time(value: Any) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError as exc:
        raise ToolError("Please give the time as HH:MM (24-hour).") from exc


def _length(ctx: Context) -> timedelta:
    return timedelta(minutes=ctx.settings.appointment_minutes)


async def free_slots(ctx: Context, day: date) -> list[datetime]:
    """Starts of the free slots of `day` (local, aware), after now."""
    zone, (opens, closes) = _zone(ctx), _hours(ctx)
    start, end = datetime.combine(day, opens, zone), datetime.combine(day, closes, zone)
    held = await ctx.repos.webhooks.booked_slots(start, end)
    now, length, slots = ctx.clock.now(), _length(ctx), []
    at = start
    while at + length <= end:
        clash = any(s.starts_at < at + length and s.ends_at > at for s in held)
        if at > now and not clash:
            slots.append(at)
        at += length
    return slots


async def check_availability(ctx: Context, args: dict[str, Any], _msg: dict[str, Any]) -> Any:
    today = ctx.clock.now().astimezone(_zone(ctx)).date()
    day = _day(args["date"]) if args.get("date") else today
    slots = [s.strftime("%H:%M") for s in await free_slots(ctx, day)]
    result: dict[str, Any] = {"date": day.isoformat(), "available": slots}
    if args.get("time"):
        result["requestedTimeAvailable"] = _time(args["time"]).strftime("%H:%M") in slots
    return result


def _window(ctx: Context, args: dict[str, Any]) -> tuple[datetime, datetime]:
    if not args.get("date") or not args.get("time"):
        raise ToolError("I need both a date and a time to book.")
    zone, (opens, closes) = _zone(ctx), _hours(ctx)
    day, at = _day(args["date"]), _time(args["time"])
    start = datetime.combine(day, at, zone)
    end = start + _length(ctx)
    if start <= ctx.clock.now():
        raise ToolError("That time has already passed; please pick a future time.")
    if at < opens or end > datetime.combine(day, closes, zone):
        raise ToolError(f"We book between {opens:%H:%M} and {closes:%H:%M}.")
    return start, end


async def _next_openings(ctx: Context, day: date) -> str:
    found: list[datetime] = []
    for offset in range(7):
        found += await free_slots(ctx, day + timedelta(days=offset))
        if len(found) >= 2:
            break
    return ", ".join(s.strftime("%Y-%m-%d %H:%M") for s in found[:2]) or "none this week"


async def book_appointment(ctx: Context, args: dict[str, Any], message: dict[str, Any]) -> Any:
    start, end = _window(ctx, args)
    # a retried tool call keeps its id: booking it again returns the same appointment
    external = args.get(TOOL_CALL_ID) or f"{call_id(message)}:{start.isoformat()}"
    booking = {
        "external_id": f"vapi:{external}",
        "phone": text(args.get("phone")) or customer_number(message),
        "name": text(args.get("patientName")) or text(args.get("name")),
        "starts_at": start.isoformat(), "ends_at": end.isoformat(),
        "timezone": ctx.settings.business_timezone, "vapi_call_id": call_id(message),
        "notes": text(args.get("appointmentType")) or text(args.get("notes")),
    }  # fmt: skip
    result = await ctx.repos.webhooks.book_appointment(booking, ctx.clock.now())
    if result.outcome == "taken":
        openings = await _next_openings(ctx, start.date())
        raise ToolError(f"That slot was just taken. Next openings: {openings}.")
    if result.outcome == "no_lead":
        raise ToolError("I need the caller's phone number to book.")
    local = start.astimezone(_zone(ctx))
    return {"status": "booked", "appointmentId": result.appointment_id,
            "date": local.strftime("%Y-%m-%d"), "time": local.strftime("%H:%M")}  # fmt: skip


TOOLS: dict[str, Tool] = {
    "checkAvailability": check_availability,
    "bookAppointment": book_appointment,
}
