"""`nightshift leads import FILE.csv`: normalise, validate, merge, report row by row.

Contract: columns `name, phone, email, company, industry, state, timezone, source` (header
names case-insensitive; at least one of phone/email per row; any other column is kept in the
lead's `attributes`). Phones become E.164 (default region US), emails are validated and
lower-cased, states become two-letter codes, timezones must be IANA names. A row with any
invalid value is rejected whole (nothing half-written) with its line, column and reason; the
other rows are imported. Leads merge on phone, else email, so a re-import is idempotent.
An optional `do_not_contact` column (yes/true/1/x/all, or sms, email, calls; app/campaigns/
do_not_contact.py) opts the row's lead out of those channels as it is imported; a value that
cannot be read rejects the row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email

from app.campaigns.do_not_contact import dnc_channels
from app.compliance.rules import US_STATES
from app.core.phone import Phone
from app.db.models import LeadIn
from app.db.outbox import OutboxRepository
from app.db.repositories import LeadRepository

COLUMNS = ("name", "phone", "email", "company", "industry", "state", "timezone", "source")
DNC_COLUMN = "do_not_contact"
BATCH = 1000
Wish = tuple[str, list[str]]  # (address, channels) for OutboxRepository.do_not_contact


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.column}: {self.reason}"


@dataclass
class ImportReport:
    read: int = 0
    imported: int = 0
    updated: int = 0
    do_not_contact: int = 0  # rows whose do_not_contact column opted their lead out
    errors: list[RowError] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len({e.line for e in self.errors})

    def summary(self) -> str:
        dnc = f", do-not-contact {self.do_not_contact}" if self.do_not_contact else ""
        return f"imported {self.imported}, updated {self.updated}, rejected {self.rejected}{dnc}"


def normalise_phone(raw: str) -> str:
    return Phone.parse(raw).e164  # InvalidPhone is a ValueError: a row-level error


def normalise_email(raw: str) -> str:
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc


def normalise_state(raw: str) -> str:
    code = raw.strip().upper()
    if code in US_STATES.values():
        return code
    by_name = {name.upper(): c for name, c in US_STATES.items()}
    if code in by_name:
        return by_name[code]
    raise ValueError("not a US state (use a two-letter code such as TX)")


def normalise_timezone(raw: str) -> str:
    try:
        ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("not an IANA timezone such as America/Chicago") from exc
    return raw.strip()


NORMALISERS = {
    "phone": normalise_phone,
    "email": normalise_email,
    "state": normalise_state,
    "timezone": normalise_timezone,
}


def parse_row(line: int, row: dict[str, str]) -> tuple[LeadIn | None, list[RowError]]:
    """One CSV row → a lead, or the errors that reject it."""
    values: dict[str, str] = {}
    errors: list[RowError] = []
    for column in COLUMNS:
        raw = (row.get(column) or "").strip()
        if not raw:
            continue
        try:
            values[column] = NORMALISERS[column](raw) if column in NORMALISERS else raw
        except ValueError as exc:
            errors.append(RowError(line, column, str(exc)))
    if not errors and "phone" not in values and "email" not in values:
        errors.append(RowError(line, "phone/email", "a lead needs a phone or an email"))
    if errors:
        return None, errors
    extra = {
        k: v.strip()
        for k, v in row.items()
        if k and k not in COLUMNS and k != DNC_COLUMN and v and v.strip()
    }
    return LeadIn(**values, attributes=extra), []


def read_rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row with lower-cased headers); raises ValueError without a header."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise ValueError("the file is empty or has no header row")
    reader.fieldnames = [(name or "").strip().lower() for name in reader.fieldnames]
    if not {"phone", "email"} & set(reader.fieldnames):
        raise ValueError("the header has neither a phone nor an email column")
    for row in reader:
        yield reader.line_num, row


def dnc_wishes(line: int, row: dict[str, str], lead: LeadIn) -> tuple[list[Wish], list[RowError]]:
    """The row's `do_not_contact` cell as (address, channels) for each of the lead's
    addresses, or the error that rejects the row."""
    try:
        channels = dnc_channels(row.get(DNC_COLUMN) or "")
    except ValueError as exc:
        return [], [RowError(line, DNC_COLUMN, str(exc))]
    addresses = [a for a in (lead.phone, lead.email) if a] if channels else []
    return [(a, channels) for a in addresses], []


async def import_csv(
    text: str, leads: LeadRepository, now: datetime, outbox: OutboxRepository | None = None
) -> ImportReport:
    """Import every valid row in batches (one round trip per batch, and one more for the
    batch's do-not-contact wishes, through `outbox`); see module contract."""
    report = ImportReport()
    batch: list[LeadIn] = []
    wishes: list[Wish] = []
    for line, row in read_rows(text):
        report.read += 1
        lead, errors = parse_row(line, row)
        wished: list[Wish] = []
        if lead:
            wished, dnc_errors = dnc_wishes(line, row, lead)
            errors += dnc_errors
        report.errors += errors
        if lead and not errors:
            batch.append(lead)
            wishes += wished
            report.do_not_contact += bool(wished)
        if len(batch) >= BATCH:
            await _flush(batch, wishes, leads, outbox, now, report)
    await _flush(batch, wishes, leads, outbox, now, report)
    return report


async def _flush(
    batch: list[LeadIn],
    wishes: list[Wish],
    leads: LeadRepository,
    outbox: OutboxRepository | None,
    now: datetime,
    report: ImportReport,
) -> None:
    if wishes and outbox is None:  # never import a lead as contactable against its wishes
        raise ValueError("a do_not_contact column needs the outbox repository")
    if batch:
        counts = await leads.upsert(batch, now)
        report.imported += counts.inserted
        report.updated += counts.updated
        batch.clear()
    if wishes and outbox is not None:
        await outbox.do_not_contact(wishes, "import", now)
        wishes.clear()
