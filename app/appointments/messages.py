"""The words of every appointment message, in the lead's timezone.

Contract: `render(...)` returns the outbox message for one planned send, keyed
`appt:<id>:v<version>:<kind>:<channel>` (every message once per appointment version);
emails are transactional and the confirmation carries the `.ics` invite; texts name the
business, the local date and time, and the C/R/X replies.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from app.appointments import ics
from app.appointments.schedule import display_zone
from app.core.settings import Settings
from app.db.appointments import Appointment, Kind
from app.db.outbox import MessageIn

REPLY_HINT = "Reply C to confirm, R to reschedule, X to cancel."


@dataclass(frozen=True)
class Senders:
    """Provider names the outbox rows are written for (real or dry-run)."""

    email: str
    sms: str


def when(appointment: Appointment, default_tz: str) -> str:
    """'Mon, Nov 2 at 10:00 AM EST' in the lead's zone."""
    local = appointment.starts_at.astimezone(display_zone(appointment, default_tz))
    return local.strftime("%a, %b %-d at %-I:%M %p %Z")


def _sms_text(kind: Kind, a: Appointment, s: Settings) -> str:
    at = when(a, s.business_timezone)
    return {
        "confirmation": f"{s.business_name}: you're booked for {at}. {REPLY_HINT}",
        "reminder_24h": f"{s.business_name}: reminder, your appointment is {at}. {REPLY_HINT}",
        "reminder_1h": f"{s.business_name}: see you soon, your appointment is {at}. {REPLY_HINT}",
        "no_show": f"{s.business_name}: we missed you {at}. Pick a new time: {s.booking_url}",
    }[kind] + " Reply STOP to opt out."


def _subject(kind: Kind, a: Appointment, s: Settings) -> str:
    at = when(a, s.business_timezone)
    return {
        "confirmation": f"Your appointment with {s.business_name} on {at}",
        "reminder_24h": f"Reminder: your appointment with {s.business_name} on {at}",
        "reminder_1h": f"In one hour: your appointment with {s.business_name}",
        "no_show": f"We missed you: pick a new time with {s.business_name}",
    }[kind]


def invite_text(a: Appointment, s: Settings, now: datetime) -> str:
    host = urlsplit(s.public_base_url).hostname or "nightshift"
    return ics.invite(
        uid=f"appointment-{a.id}@{host}", sequence=a.version - 1, starts_at=a.starts_at,
        ends_at=a.ends_at, summary=f"Appointment with {s.business_name}",
        location=s.business_postal_address, description=f"Reschedule: {s.booking_url}", now=now,
    )  # fmt: skip


def _email_payload(kind: Kind, a: Appointment, s: Settings, now: datetime) -> dict[str, object]:
    subject, name = _subject(kind, a, s), a.lead_name or "there"
    lines = [
        f"Hi {name},",
        f"{subject}." if kind != "no_show" else f"We missed you {when(a, s.business_timezone)}.",
        f"To reschedule or cancel, reply to our text or visit {s.booking_url}.",
    ]
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    payload: dict[str, object] = {"subject": subject, "html": body, "text": "\n\n".join(lines)}
    if kind == "confirmation":
        payload["attachments"] = [ics.attachment(invite_text(a, s, now))]
    return payload


def render(
    kind: Kind, channel: str, a: Appointment, s: Settings, senders: Senders, now: datetime
) -> MessageIn:
    """The outbox message of one planned send."""
    key = f"appt:{a.id}:v{a.version}:{kind}:{channel}"
    common = {"idempotency_key": key, "kind": "transactional", "lead_id": a.lead_id}
    if channel == "sms":
        assert a.phone is not None
        return MessageIn(**common, channel="sms", to_address=a.phone, provider=senders.sms,
                         payload={"body": _sms_text(kind, a, s)})  # fmt: skip
    assert a.email is not None
    return MessageIn(**common, channel="email", to_address=a.email, provider=senders.email,
                     payload=_email_payload(kind, a, s, now))  # fmt: skip


def reply_text(action: str, a: Appointment, s: Settings) -> str:
    """Our answer to a C / R / X reply."""
    at = when(a, s.business_timezone)
    return {
        "confirm": f"{s.business_name}: thanks, you're confirmed for {at}.",
        "reschedule": f"{s.business_name}: pick a new time here: {s.booking_url}",
        "cancel": f"{s.business_name}: your appointment {at} is cancelled. "
        f"Book again any time: {s.booking_url}",
    }[action]
