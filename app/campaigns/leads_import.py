"""`nightshift leads import FILE.csv`: normalise, validate, merge, report row by row.

Contract: the file is a CRM or spreadsheet export (app/campaigns/import_file.py: header
aliases such as "First Name", "Mobile", "Email Address", "Tags", `--map column=field`, BOM,
`;` delimiters, Windows line endings). Fields: `name` (or first/last name), `phone`, `email`,
`company`, `industry`, `state`, `timezone`, `source`, `tags`; at least one of phone/email per
row; any other column is kept in the lead's `attributes`. Names are parsed with nameparser
("Doe, Jane" → Jane Doe), phones become E.164 and must belong to `country` (default US),
emails are validated and lower-cased, states become two-letter codes, timezones must be
IANA names. A row with any invalid value, a NUL or a byte that is not UTF-8 is rejected
whole (nothing half-written) with its line, column and reason; the other rows are imported.
Leads merge on phone, else email (supabase `import_leads`): a merge never renames a person
or drops a phone or email silently, every merge that differs from the lead and every
duplicate row of the file is reported (`ImportReport.merges`). `dry_run`: the same report,
nothing written. An optional `do_not_contact` column (yes/true/1/x/all, or sms, email,
calls; app/campaigns/do_not_contact.py) opts the row's lead out of those channels as it is
imported; a value that cannot be read rejects the row. Optional consent columns
(`consent_sms`, `consent_ai_voice`, ...; app/campaigns/consent_columns.py) record the
lead's consent with it; a value that cannot be read rejects the row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email

from app.campaigns.consent_columns import COLUMNS as CONSENT_COLUMNS
from app.campaigns.consent_columns import consent_cells
from app.campaigns.do_not_contact import dnc_channels
from app.campaigns.import_file import bad_cell, read_records
from app.campaigns.import_values import import_phone, person_name, tag_list
from app.compliance.rules import US_STATES
from app.db.models import ImportOutcome, LeadIn, MergeChange
from app.db.outbox import OutboxRepository
from app.db.repositories import LeadRepository

COLUMNS = ("name", "phone", "email", "company", "industry", "state", "timezone", "source")
NAME_PARTS = ("first_name", "last_name")
DNC_COLUMN = "do_not_contact"
TAGS = "tags"
NOT_ATTRIBUTES = frozenset((*COLUMNS, *NAME_PARTS, DNC_COLUMN, TAGS, *CONSENT_COLUMNS))
BATCH = 1000
Wish = tuple[str, list[str]]  # (address, channels) for OutboxRepository.do_not_contact
Progress = Callable[[int], None]  # rows read so far


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.column}: {self.reason}"


def describe_change(change: MergeChange) -> str:
    """One field of a merge in words ("name kept 'Maria Gonzalez' (file: 'Dupe Maria')")."""
    what, kept, file = change.field, change.kept, change.file
    if change.change == "added":
        return f"{what} {file!r} added"
    if change.change == "conflict":
        return f"{what} {file!r} left on lead #{change.other_lead} (it is theirs)"
    if change.change == "updated":
        return f"{what} {kept!r} -> {file!r}"
    saved = f", the file's saved in {change.saved_as}" if change.saved_as else ""
    return f"{what} kept {kept!r} (file: {file!r}{saved})"


@dataclass(frozen=True)
class Merge:
    """A row merged into a lead that differs from it, or that an earlier row of the file
    created or merged into (a duplicate row)."""

    line: int
    lead_id: int
    matched_on: str
    changes: list[MergeChange]
    duplicate_of: int | None = None  # the earlier line of this file

    def __str__(self) -> str:
        target = (
            f"line {self.duplicate_of}'s lead" if self.duplicate_of else f"lead #{self.lead_id}"
        )
        head = f"line {self.line}: merged into {target} (same {self.matched_on})"
        changes = "; ".join(describe_change(c) for c in self.changes)
        return f"{head}: {changes}" if changes else f"{head}, nothing changed"


@dataclass
class ImportReport:
    read: int = 0
    imported: int = 0
    updated: int = 0
    do_not_contact: int = 0  # rows whose do_not_contact column opted their lead out
    errors: list[RowError] = field(default_factory=list)
    merges: list[Merge] = field(default_factory=list)
    dry_run: bool = False

    @property
    def rejected(self) -> int:
        return len({e.line for e in self.errors})

    def lines(self) -> list[str]:
        """Every rejected row and every reported merge, in file order."""
        items: list[tuple[int, str]] = [(e.line, str(e)) for e in self.errors]
        items += [(m.line, str(m)) for m in self.merges]
        return [text for _, text in sorted(items, key=lambda item: item[0])]

    def summary(self) -> str:
        dnc = f", do-not-contact {self.do_not_contact}" if self.do_not_contact else ""
        if self.dry_run:
            return (
                f"dry run, nothing written: would import {self.imported}, update "
                f"{self.updated}, reject {self.rejected}{dnc}"
            )
        return f"imported {self.imported}, updated {self.updated}, rejected {self.rejected}{dnc}"


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


NORMALISERS: dict[str, Callable[[str], str]] = {
    "email": normalise_email,
    "state": normalise_state,
    "timezone": normalise_timezone,
}


def parse_row(
    line: int, row: dict[str, str], country: str = "US"
) -> tuple[LeadIn | None, list[RowError]]:
    """One CSV row (keys: fields and lower-cased extra headers) → a lead, or the errors that
    reject it."""
    values: dict[str, str] = {}
    errors: list[RowError] = []
    for column in COLUMNS[1:]:
        raw = (row.get(column) or "").strip()
        if not raw:
            continue
        try:
            normalise = NORMALISERS.get(column, str.strip)
            values[column] = import_phone(raw, country) if column == "phone" else normalise(raw)
        except ValueError as exc:
            errors.append(RowError(line, column, str(exc)))
    if not errors and "phone" not in values and "email" not in values:
        errors.append(RowError(line, "phone/email", "a lead needs a phone or an email"))
    consents, problems = consent_cells(row)  # app/campaigns/consent_columns.py
    errors += [RowError(line, column, reason) for column, reason in problems]
    if errors:
        return None, errors
    parts = [row.get(key) or "" for key in ("name", *NAME_PARTS)]
    name, first = person_name(*parts)
    attributes: dict[str, object] = {
        k: v.strip() for k, v in row.items() if k and k not in NOT_ATTRIBUTES and v and v.strip()
    }
    if any(k in row for k in NAME_PARTS):  # the export's own First Name beats a guess
        attributes["first_name"] = first or ""
    if tags := tag_list(row.get(TAGS) or ""):
        attributes[TAGS] = tags
    return LeadIn(**values, name=name, attributes=attributes, consents=consents), []


def dnc_wishes(line: int, row: dict[str, str], lead: LeadIn) -> tuple[list[Wish], list[RowError]]:
    """The row's `do_not_contact` cell as (address, channels) for each of the lead's
    addresses, or the error that rejects the row."""
    try:
        channels = dnc_channels(row.get(DNC_COLUMN) or "")
    except ValueError as exc:
        return [], [RowError(line, DNC_COLUMN, str(exc))]
    addresses = [a for a in (lead.phone, lead.email) if a] if channels else []
    return [(a, channels) for a in addresses], []


@dataclass
class _Batch:
    lines: list[int] = field(default_factory=list)
    leads: list[LeadIn] = field(default_factory=list)
    wishes: list[Wish] = field(default_factory=list)
    first_line: dict[int, int] = field(default_factory=dict)  # lead id → first line of file


async def import_csv(
    data: str | bytes,
    leads: LeadRepository,
    now: datetime,
    outbox: OutboxRepository | None = None,
    *,
    country: str = "US",
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import every valid row in batches (one round trip per batch, and one more for the
    batch's do-not-contact wishes, through `outbox`); see module contract. A dry run sends
    the whole file as one batch, so a duplicate row is recognised wherever it is."""
    raw = data.encode("utf-8", errors="surrogateescape") if isinstance(data, str) else data
    _, records = read_records(raw, mapping)
    report = ImportReport(dry_run=dry_run)
    batch = _Batch()
    size = None if dry_run else BATCH
    for line, row in records:
        report.read += 1
        damaged = bad_cell(row)
        if damaged:
            report.errors.append(RowError(line, *damaged))
            continue
        lead, errors = parse_row(line, row, country)
        wished: list[Wish] = []
        if lead:
            wished, dnc_errors = dnc_wishes(line, row, lead)
            errors += dnc_errors
        report.errors += errors
        if lead and not errors:
            batch.lines.append(line)
            batch.leads.append(lead)
            batch.wishes += wished
            report.do_not_contact += bool(wished)
        if size and len(batch.leads) >= size:
            await _flush(batch, leads, outbox, now, report)
            if progress:
                progress(report.read)
    await _flush(batch, leads, outbox, now, report)
    if progress:
        progress(report.read)
    return report


def _record(batch: _Batch, outcomes: list[ImportOutcome], report: ImportReport) -> None:
    for line, outcome in zip(batch.lines, outcomes, strict=True):
        lead_id = outcome.lead_id
        if outcome.action == "skipped" or lead_id is None:
            reason = "this person was erased (console); they are never imported again"
            report.errors.append(RowError(line, "phone/email", reason))
            continue
        earlier = batch.first_line.setdefault(lead_id, line)
        if outcome.action == "created":
            report.imported += 1
            continue
        report.updated += 1
        duplicate_of = earlier if earlier != line else None
        if outcome.changes or duplicate_of:
            matched = outcome.matched_on or "phone"
            report.merges.append(Merge(line, lead_id, matched, outcome.changes, duplicate_of))


async def _flush(
    batch: _Batch,
    leads: LeadRepository,
    outbox: OutboxRepository | None,
    now: datetime,
    report: ImportReport,
) -> None:
    if batch.wishes and outbox is None:  # never import a lead as contactable against its wishes
        raise ValueError("a do_not_contact column needs the outbox repository")
    if batch.leads:
        outcomes = await leads.import_rows(batch.leads, now, dry_run=report.dry_run)
        _record(batch, outcomes, report)
    if batch.wishes and outbox is not None and not report.dry_run:
        await outbox.do_not_contact(batch.wishes, "import", now)
    batch.lines.clear()
    batch.leads.clear()
    batch.wishes.clear()
