"""The Vapi booking tools: `checkAvailability` and `bookAppointment`, the web side.

Contract:
- the arguments are parsed here, once: dates `YYYY-MM-DD` and times `HH:MM` (24 h) in
  BUSINESS_TIMEZONE; a malformed one is a `ToolError` naming the format;
- the booking rules (hours, length, the past, held slots, idempotency per toolCallId) are the
  appointments room's booking desk (app/appointments/desk.py); its refusals become
  `ToolError`s (→ the result's `error` string, which the assistant says).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, time
from typing import Any

from app.appointments.desk import BookingRequest, Refused
from app.jobs.appointments import booking_desk
from app.jobs.bootstrap import Context
from app.providers.vapi_parse import call_id, customer_number, text

Tool = Callable[[Context, dict[str, Any], dict[str, Any]], Awaitable[Any]]
TOOL_CALL_ID = "__tool_call_id"  # added to the arguments by the dispatcher


class ToolError(Exception):
    """A failure the assistant is told about (returned as the result's `error`)."""


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


async def check_availability(ctx: Context, args: dict[str, Any], _msg: dict[str, Any]) -> Any:
    desk = booking_desk(ctx)
    day = _day(args["date"]) if args.get("date") else desk.today()
    try:
        return await desk.availability(day, _time(args["time"]) if args.get("time") else None)
    except Refused as exc:  # the external calendar could not be read
        raise ToolError(str(exc)) from exc


async def book_appointment(ctx: Context, args: dict[str, Any], message: dict[str, Any]) -> Any:
    if not args.get("date") or not args.get("time"):
        raise ToolError("I need both a date and a time to book.")
    request = BookingRequest(
        tool_call_id=args.get(TOOL_CALL_ID), day=_day(args["date"]), at=_time(args["time"]),
        phone=text(args.get("phone")) or customer_number(message),
        name=text(args.get("patientName")) or text(args.get("name")),
        notes=text(args.get("appointmentType")) or text(args.get("notes")),
        vapi_call_id=call_id(message),
    )  # fmt: skip
    try:
        return await booking_desk(ctx).book(request)
    except Refused as exc:
        raise ToolError(str(exc)) from exc


TOOLS: dict[str, Tool] = {
    "checkAvailability": check_availability,
    "bookAppointment": book_appointment,
}
