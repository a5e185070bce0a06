"""`POST /webhooks/booking`: bookings from any calendar (GoHighLevel, Cal.com, a script).

Contract (docs/appointments.md):
- body: JSON `{"external_id", "starts_at" (ISO 8601 with offset), "ends_at" | "duration_minutes",
  "name", "phone" (E.164) and/or "email", "timezone" (IANA), "notes", "status" ("booked" |
  "cancelled"), "event_at" (ISO 8601: when the calendar emitted the event)}`; the same
  external_id again is idempotent, with a new start it reschedules;
  Cal.com's own webhook body (`triggerEvent` BOOKING_CREATED / _RESCHEDULED / _CANCELLED)
  is accepted as is;
- verified with BOOKING_WEBHOOK_SECRET: header `X-Booking-Signature` (or Cal.com's
  `X-Cal-Signature-256`) = hex HMAC-SHA256 of the raw body, optionally `sha256=`-prefixed,
  compared in constant time;
- 413 body too large → 415 not JSON → 401 signature → 400 malformed JSON (or nested too
  deep) → 422 invalid booking (the reason names the fields; a date outside 2000-2199 is
  invalid); 200 `{"outcome", "appointment_id"}` otherwise, and the confirmation goes out
  right away (a background tick of the loop);
- every delivery is stored in webhook_events under the SHA-256 of its body, in the same
  transaction: a replayed body is `duplicate` and changes nothing;
- deliveries are ordered by `event_at` (Cal.com: `createdAt`; else the time received): an
  older event than the last applied is `stale` (200, nothing changes), and a cancellation
  that arrives before its booking is kept, so the late booking stays cancelled.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.appointments.loop import tick
from app.core.phone import E164
from app.core.settings import Settings
from app.db.appointments import BookingIn
from app.jobs.appointments import appointment_deps
from app.webhooks.common import (
    JSON_TYPES,
    Rejected,
    SafeRoute,
    context,
    parse_json,
    read_body,
    reject,
    require_media_type,
    secret_value,
    unverified_allowed,
)
from app.webhooks.spooling import verified

router = APIRouter(route_class=SafeRoute)
SIGNATURE_HEADERS = ("x-booking-signature", "x-cal-signature-256")
EARLIEST_YEAR, LATEST_YEAR = 2000, 2199


class BookingBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    external_id: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    duration_minutes: int | None = Field(default=None, ge=5, le=1440)
    name: str | None = Field(default=None, max_length=200)
    phone: E164 | None = None
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)
    timezone: str | None = None
    notes: str | None = Field(default=None, max_length=2000)
    status: Literal["booked", "cancelled"] = "booked"
    event_at: AwareDatetime | None = None

    @field_validator("starts_at", "ends_at", "event_at")
    @classmethod
    def _plausible(cls, value: AwareDatetime | None) -> AwareDatetime | None:
        # A year-9999 start overflowed when its end was computed (a 500); no calendar books
        # outside these years.
        if value is not None and not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
            raise ValueError(f"must be between {EARLIEST_YEAR} and {LATEST_YEAR}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        try:
            return str(ZoneInfo(value)) if value else None
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("not an IANA timezone") from exc


def signature_ok(settings: Settings, body: bytes, headers: Any) -> bool:
    """Constant-time check of the hex HMAC-SHA256 of the raw body."""
    secret = secret_value(settings.booking_webhook_secret)
    if secret is None:
        return unverified_allowed(settings, settings.booking_webhook_secret)
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    for name in SIGNATURE_HEADERS:
        given = headers.get(name, "").strip().lower().removeprefix("sha256=")
        if given and hmac.compare_digest(given.encode(), expected.encode()):
            return True
    return False


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _answer(responses: dict[str, Any], key: str) -> Any:
    value = responses.get(key)
    return value.get("value") if isinstance(value, dict) else value


def from_calcom(event: dict[str, Any]) -> dict[str, Any]:
    """Cal.com's native webhook (`triggerEvent` + `payload`) as the generic body. A
    reschedule moves the original booking (`rescheduleUid`) when Cal.com names it."""
    p = _object(event.get("payload"))
    attendees = p.get("attendees")
    first = _object(attendees[0] if isinstance(attendees, list) and attendees else None)
    responses = _object(p.get("responses"))
    trigger = str(event.get("triggerEvent", ""))
    return {
        "external_id": (p.get("rescheduleUid") if trigger == "BOOKING_RESCHEDULED" else None)
        or p.get("uid"),
        "starts_at": p.get("startTime"), "ends_at": p.get("endTime"),
        "name": first.get("name"), "email": first.get("email"),
        "phone": first.get("phoneNumber") or _answer(responses, "attendeePhoneNumber"),
        "timezone": first.get("timeZone"), "notes": p.get("title"),
        "status": "cancelled" if trigger == "BOOKING_CANCELLED" else "booked",
        "event_at": event.get("createdAt"),  # when Cal.com emitted this event
    }  # fmt: skip


def to_booking(data: Any, settings: Settings) -> BookingIn:
    """The validated booking, or Rejected(422) naming the invalid fields."""
    if not isinstance(data, dict):
        raise Rejected(422, "body must be a JSON object")
    if "triggerEvent" in data:
        data = from_calcom(data)
    try:
        body = BookingBody.model_validate(data)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})
        raise Rejected(422, f"invalid booking: {', '.join(fields)}") from exc
    if not body.phone and not body.email:
        raise Rejected(422, "invalid booking: phone or email required")
    minutes = body.duration_minutes or settings.appointment_minutes
    ends = body.ends_at or body.starts_at + timedelta(minutes=minutes)
    if ends <= body.starts_at:
        raise Rejected(422, "invalid booking: ends_at must be after starts_at")
    return BookingIn(
        external_id=f"booking:{body.external_id}", starts_at=body.starts_at, ends_at=ends,
        name=body.name, phone=body.phone, email=body.email.lower() if body.email else None,
        timezone=body.timezone or settings.business_timezone, lead_timezone=body.timezone,
        notes=body.notes, source="webhook", status=body.status, event_at=body.event_at,
    )  # fmt: skip


@router.post("/webhooks/booking")
async def booking_webhook(request: Request, background: BackgroundTasks) -> JSONResponse:
    """Store a booking (see the module contract) and send its confirmation."""
    ctx = context(request)
    try:
        require_media_type(request, JSON_TYPES)
        body = await read_body(request, ctx.settings.webhook_max_body_bytes)
        if not signature_ok(ctx.settings, body, request.headers):
            raise Rejected(401, "invalid or missing X-Booking-Signature")
        verified(request, body)  # from here on a database outage spools it
        data = parse_json(body)
        booking = to_booking(data, ctx.settings)
    except Rejected as exc:
        return reject("booking", exc)
    event = {"dedupe_key": f"booking:{hashlib.sha256(body).hexdigest()}", "payload": data}
    result = await ctx.repos.appointments.upsert(booking, ctx.clock.now(), event)
    if result.outcome in ("no_lead", "unknown"):
        return reject("booking", Rejected(422, f"booking not applied: {result.outcome}"))
    background.add_task(tick, appointment_deps(ctx))
    appointment_id = result.appointment.id if result.appointment else None
    return JSONResponse({"outcome": result.outcome, "appointment_id": appointment_id})
