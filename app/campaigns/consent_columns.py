"""The consent columns of a lead import (docs/campaigns.md "Consent columns").

Contract of `consent_cells(row) -> (consents, errors)`:
- `consent_sms`, `consent_email`, `consent_calls`, `consent_ai_voice`: yes / y / true / 1 / x
  (granted, at `consent_at` or at the import), a date or a date and time (granted then:
  `2026-03-14`, `2026-03-14T09:30:00-05:00`, `3/14/2026`), or blank / no / n / false / 0
  (no consent on record for that channel);
- `consent_source`: how it was given — import (the default), web_form, booking_form,
  inbound_call, operator (also: web, form, website, booking, call, phone);
- `consent_text` / `consent_url`: the words the person agreed to, or where they stand;
- `consent_at`: when, for every channel granted with a bare yes.
A cell that cannot be read is an error (column, reason) that rejects the row: a lead whose
consent cannot be read is not imported as if it had none, nor as if it had given it. An AI
call needs `consent_ai_voice`; a campaign text needs `consent_sms` (supabase 13_consent.sql).
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.db.models import ConsentChannel, ConsentIn, ConsentSource

CHANNEL_COLUMNS: dict[str, ConsentChannel] = {
    "consent_sms": "sms", "consent_email": "email", "consent_calls": "calls",
    "consent_ai_voice": "ai_voice",
}  # fmt: skip
SOURCE, TEXT, URL, AT = "consent_source", "consent_text", "consent_url", "consent_at"
COLUMNS = frozenset((*CHANNEL_COLUMNS, SOURCE, TEXT, URL, AT))
YES = frozenset(("yes", "y", "true", "1", "x", "granted", "si", "sí"))
NO = frozenset(("", "no", "n", "false", "0"))
SOURCES: dict[str, ConsentSource] = {
    "import": "import", "web_form": "web_form", "web form": "web_form", "web": "web_form",
    "form": "web_form", "website": "web_form", "booking_form": "booking_form",
    "booking form": "booking_form", "booking": "booking_form", "inbound_call": "inbound_call",
    "inbound call": "inbound_call", "call": "inbound_call", "phone": "inbound_call",
    "operator": "operator",
}  # fmt: skip
Problem = tuple[str, str]  # (column, reason)


def parse_when(raw: str) -> datetime:
    """An ISO date or date-time, or M/D/YYYY; a date alone is midnight UTC, a time without
    an offset is UTC. ValueError otherwise."""
    text = raw.strip()
    try:
        if "/" in text:
            month, day, year = (int(p) for p in text.split("/"))
            return datetime(year, month, day, tzinfo=UTC)
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text!r}: use yes/no or a date such as 2026-03-14") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _granted(raw: str, default: datetime | None) -> tuple[bool, datetime | None]:
    word = raw.strip().lower()
    if word in NO:
        return False, None
    if word in YES:
        return True, default
    return True, parse_when(word)


def consent_cells(row: dict[str, str]) -> tuple[list[ConsentIn], list[Problem]]:
    """The row's consent records, or the problems that reject it (see module contract)."""
    if not any((row.get(c) or "").strip() for c in COLUMNS):
        return [], []
    problems: list[Problem] = []
    source = SOURCES.get((row.get(SOURCE) or "import").strip().lower() or "import")
    if source is None:
        problems.append((SOURCE, f"use one of {', '.join(sorted(set(SOURCES.values())))}"))
    at: datetime | None = None
    if (row.get(AT) or "").strip():
        try:
            at = parse_when(row[AT])
        except ValueError as exc:
            problems.append((AT, str(exc)))
    consents: list[ConsentIn] = []
    for column, channel in CHANNEL_COLUMNS.items():
        try:
            granted, when = _granted(row.get(column) or "", at)
        except ValueError as exc:
            problems.append((column, str(exc)))
            continue
        if granted and source is not None:
            consents.append(ConsentIn(
                channel=channel, source=source, granted_at=when,
                text=(row.get(TEXT) or "").strip() or None,
                url=(row.get(URL) or "").strip() or None,
            ))  # fmt: skip
    return ([] if problems else consents), problems
