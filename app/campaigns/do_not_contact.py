"""Do-not-contact set by the operator: one address, an import column, a do-not-call list.

Contract:
- `dnc_channels(value)`: what an operator writes (`yes`, `true`, `1`, `x`, `all`, `sms`,
  `text`, `email`, `calls`, or several: `sms;calls`) → the channels (`email`, `sms`, `call`);
  blank, `no`, `false`, `0` → none; anything else is a ValueError (a row-level error: a lead
  whose wishes cannot be read is not imported as contactable);
- `do_not_contact(...)`: a phone or an email, normalised, opted out of those channels on every
  lead that has it, and suppressed even before any lead has it (03_outbox.sql);
- `parse_dnc_list(text)`: a do-not-call export as operators get it — one number a line, a CSV
  with a phone column, the registry's area-code/number pairs, with punctuation, `+1`/`1`
  prefixes, quotes, a BOM, blank lines — into E.164 numbers; a line that is no US number is
  reported with its line number and skipped, never guessed;
- `import_dnc_list(...)`: those numbers added to the list every call claim scrubs against,
  with the list's source, date and scope ("calls", or "calls_texts": campaign and rescue
  texts are refused too, at the claim and at the last moment);
- `record_consent(...)`: consent a person gave the operator (on the phone, in person),
  recorded with source `operator` (docs/consent.md);
- `release_hold(...)`: a person read a held lead's words and found no opt-out: the hold is
  lifted (leads.needs_review cleared, the enrollments it paused active again), recorded with
  who released it and why it was held.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from email_validator import EmailNotValidError, validate_email

from app.core.phone import Phone
from app.db.consent import ConsentRepository, Release
from app.db.models import ConsentChannel, ConsentIn
from app.db.outbox import OutboxRepository

DncScope = Literal["calls", "calls_texts"]

ALL = ["email", "sms", "call"]
_WORDS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(["yes", "y", "true", "1", "x", "all", "dnc", "do not contact"], tuple(ALL)),
    **dict.fromkeys(["sms", "text", "texts"], ("sms",)),
    **dict.fromkeys(["email", "emails", "e-mail"], ("email",)),
    **dict.fromkeys(["call", "calls", "phone", "voice"], ("call",)),
    **dict.fromkeys(["", "no", "n", "false", "0"], ()),
}
CHANNEL_OPTIONS = {"sms": ["sms"], "email": ["email"], "calls": ["call"], "all": ALL}


def dnc_channels(value: str) -> list[str]:
    """The channels a `do_not_contact` cell names (see module contract)."""
    found: set[str] = set()
    for part in re.split(r"[;,/|+]| and ", value.strip().lower()):
        word = part.strip()
        if word not in _WORDS:
            raise ValueError(f"{value.strip()!r}: use yes/no, or sms, email, calls, all")
        found.update(_WORDS[word])
    return [c for c in ALL if c in found]


def normalise_address(raw: str) -> str:
    """An E.164 phone or a lower-cased email; ValueError when it is neither."""
    text = raw.strip()
    if "@" in text:
        try:
            return validate_email(text, check_deliverability=False).normalized.lower()
        except EmailNotValidError as exc:
            raise ValueError(str(exc)) from exc
    return Phone.parse(text).e164


async def do_not_contact(
    outbox: OutboxRepository, address: str, channels: list[str], source: str, now: datetime
) -> int:
    """Opt `address` out of `channels`; returns how many leads it matched (0: suppressed
    ahead of any lead)."""
    matched = await outbox.do_not_contact([(normalise_address(address), channels)], source, now)
    return sum(matched.values())


@dataclass
class DncList:
    phones: list[str] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, what was wrong)


def _number_in(cells: list[str]) -> str | None:
    """The phone text of one row: an area code and a 7-digit number in two cells (the
    registry's download), else the first cell with at least 10 digits."""
    digits = [re.sub(r"\D", "", c) for c in cells]
    if len(digits) >= 2 and len(digits[0]) == 3 and len(digits[1]) == 7:
        return digits[0] + digits[1]
    return next((c for c, d in zip(cells, digits, strict=True) if len(d) >= 10), None)


def parse_dnc_list(text: str) -> DncList:
    """Every US number of a do-not-call export (see module contract)."""
    out, seen = DncList(), set()
    for line, cells in enumerate(csv.reader(io.StringIO(text.lstrip("\ufeff"))), start=1):
        cells = [c.strip() for c in cells if c.strip()]
        if not cells or not any(ch.isdigit() for ch in "".join(cells)):
            continue  # a blank line or a header
        raw = _number_in(cells)
        try:
            if raw is None:
                raise ValueError("no 10-digit phone number")
            phone = Phone.parse(raw).e164
        except ValueError as exc:
            out.errors.append((line, f"{','.join(cells)!r}: {exc}"))
            continue
        if phone not in seen:
            seen.add(phone)
            out.phones.append(phone)
    return out


async def import_dnc_list(
    outbox: OutboxRepository, text: str, source: str, list_date: date | None, now: datetime,
    scope: DncScope = "calls",
) -> tuple[int, DncList]:  # fmt: skip
    """Add the export's numbers to the do-not-call list; returns (numbers stored, parsed)."""
    parsed = parse_dnc_list(text)
    stored = 0
    for start in range(0, len(parsed.phones), 5000):  # one round trip per 5,000 numbers
        chunk = parsed.phones[start : start + 5000]
        stored += await outbox.import_dnc(chunk, source, list_date, now, scope)
    return stored, parsed


CONSENT_OPTIONS: dict[str, tuple[ConsentChannel, ...]] = {
    "sms": ("sms",), "email": ("email",), "calls": ("calls",), "ai_voice": ("ai_voice",),
    "all": ("sms", "email", "calls", "ai_voice"),
}  # fmt: skip


async def record_consent(
    consent: ConsentRepository, address: str, channels: tuple[ConsentChannel, ...],
    text: str | None, url: str | None, now: datetime,
) -> int:  # fmt: skip
    """The operator records consent the person gave them (source `operator`, now) for every
    lead with this phone or email; returns how many leads matched. A consent revoked by an
    opt-out is granted again only this way, and the opt-out itself still stands until the
    person opts back in (START)."""
    items = [(normalise_address(address),
              ConsentIn(channel=c, source="operator", granted_at=now, text=text, url=url))
             for c in channels]  # fmt: skip
    matched = await consent.grant(items, now)
    return max(matched.values(), default=0)


async def release_hold(
    consent: ConsentRepository, address: str, by: str, note: str | None, now: datetime
) -> list[Release]:
    """Lift the hold on every lead with this phone or email (see module contract); one
    Release per lead (`released` False: it was not held)."""
    return await consent.release(normalise_address(address), by, note, now)
