"""Planning an appointment version's messages: what is sent, on which channel, and when.

Contract of `plan(appointment, now, ...)`:
- confirmation: email now; SMS now, or at the next permitted instant when it is night;
- reminder_24h / reminder_1h: exactly 24 h / 1 h before the start (absolute hours, so a DST
  change in between moves the local clock time, never the interval), by email and by SMS;
  an SMS that would fall outside the lead's permitted hours moves to the LATEST permitted
  instant before it (never into the night, never before now); a reminder whose time already
  passed when the booking arrived is skipped (the confirmation covers it);
- no_show: one SMS (email when the lead has no phone) `NO_SHOW_GRACE_MINUTES` after the end,
  at the next permitted instant; whether it is sent is decided when it is due;
- a channel without an address (or opted out) is planned as `skipped` with the reason.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.appointments.quiet_hours import earliest_permitted, latest_permitted
from app.compliance.gate import LeadFacts
from app.db.appointments import Appointment, Kind, PlannedMessage

REMINDERS: dict[Kind, timedelta] = {
    "reminder_24h": timedelta(hours=24),
    "reminder_1h": timedelta(hours=1),
}


def lead_facts(appointment: Appointment) -> LeadFacts:
    return LeadFacts(
        phone=appointment.phone,
        email=appointment.email,
        state=appointment.state,
        timezone=appointment.lead_timezone,
        opted_out=frozenset(appointment.opted_out),
    )


def display_zone(appointment: Appointment, default_tz: str) -> ZoneInfo:
    """The zone the lead reads times in: theirs, else the appointment's, else the business's."""
    for name in (appointment.lead_timezone, appointment.timezone, default_tz):
        try:
            if name:
                return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def _item(
    a: Appointment, kind: Kind, channel: str, due: datetime | None, why: str
) -> PlannedMessage:
    skipped = due is None or bool(why)
    return PlannedMessage(
        appointment_id=a.id, version=a.version, kind=kind, channel=channel,
        due_at=due or a.starts_at, status="skipped" if skipped else "scheduled",
        reason=(why or "quiet_hours") if skipped else None,
    )  # fmt: skip


def _unreachable(a: Appointment, channel: str) -> str:
    address = a.phone if channel == "sms" else a.email
    if not address:
        return f"no_{'phone' if channel == 'sms' else 'email'}"
    if channel in a.opted_out or "all" in a.opted_out:
        return "opted_out"
    return ""


def plan(a: Appointment, now: datetime, default_tz: str, grace: timedelta) -> list[PlannedMessage]:
    """Every message of this appointment version (see the module contract)."""
    facts = lead_facts(a)
    items = [
        _item(a, "confirmation", "email", now, _unreachable(a, "email")),
        _item(a, "confirmation", "sms", earliest_permitted(now, facts, default_tz),
              _unreachable(a, "sms")),
    ]  # fmt: skip
    for kind, ahead in REMINDERS.items():
        target = a.starts_at - ahead
        late = "booked_late" if target <= now else ""
        items.append(_item(a, kind, "email", target, late or _unreachable(a, "email")))
        sms_at = None if late else latest_permitted(target, now, facts, default_tz)
        items.append(_item(a, kind, "sms", sms_at, late or _unreachable(a, "sms")))
    channel = "sms" if a.phone else "email"
    follow_up = a.ends_at + grace
    due = earliest_permitted(follow_up, facts, default_tz) if channel == "sms" else None
    # no permitted time known: still due then (the no-show mark), the text is re-checked
    due = due or follow_up
    items.append(_item(a, "no_show", channel, due, ""))
    return items
