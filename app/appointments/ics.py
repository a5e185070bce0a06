"""A minimal iCalendar (RFC 5545) invite for one appointment.

Contract: CRLF line endings, lines folded at 75 octets, text values escaped; times in UTC
(`Z`), so every calendar shows the right local time whatever its zone. UID is stable per
appointment and SEQUENCE grows with each reschedule, so a calendar updates the event
instead of adding a second one. METHOD:PUBLISH (no organizer mailbox to answer to).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Split a content line into 75-octet pieces (continuations start with a space)."""
    raw, parts = line.encode("utf-8"), list[str]()
    while len(raw) > 75:
        cut = 75 if not parts else 74
        while cut > 0 and (raw[cut] & 0xC0) == 0x80:  # never split a UTF-8 character
            cut -= 1
        parts.append(raw[:cut].decode("utf-8"))
        raw = raw[cut:]
    parts.append(raw.decode("utf-8"))
    return "\r\n ".join(parts)


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def invite(
    *,
    uid: str,
    sequence: int,
    starts_at: datetime,
    ends_at: datetime,
    summary: str,
    location: str,
    description: str,
    now: datetime,
    cancelled: bool = False,
) -> str:
    """The .ics text of one event."""
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//nightshift//appointments//EN",
        "CALSCALE:GREGORIAN", "METHOD:PUBLISH", "BEGIN:VEVENT",
        f"UID:{uid}", f"SEQUENCE:{sequence}", f"DTSTAMP:{_stamp(now)}",
        f"DTSTART:{_stamp(starts_at)}", f"DTEND:{_stamp(ends_at)}",
        f"SUMMARY:{_escape(summary)}", f"LOCATION:{_escape(location)}",
        f"DESCRIPTION:{_escape(description)}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        "END:VEVENT", "END:VCALENDAR",
    ]  # fmt: skip
    return "".join(_fold(line) + "\r\n" for line in lines)


def attachment(text: str, filename: str = "invite.ics") -> dict[str, str]:
    """The email payload's attachment item (Resend shape: base64 content)."""
    content = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return {"filename": filename, "content": content, "content_type": "text/calendar"}
