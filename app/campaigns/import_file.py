"""Reading a lead export as CRMs and spreadsheets write it: bytes → (line, row) pairs.

Contract:
- the file is read as bytes: a UTF-8 BOM is dropped (Excel writes one), UTF-16 with a BOM is
  decoded as such; an invalid UTF-8 byte or a NUL does not stop the file, it marks its cell,
  and `bad_cell(row)` names the first damaged column so the importer rejects that ROW only;
- Windows, Unix and old-Mac line endings all work; the delimiter is the one of `,` `;` tab `|`
  that the header line holds most (European Excel writes `;`);
- headers are matched to lead fields case-, space-, dash- and underscore-insensitively through
  `ALIASES` (GoHighLevel, HubSpot, Jobber, ServiceTitan and Excel-template names: "First Name",
  "Mobile Phone Number", "Email Address", "Tags", ...); `mapping` (`--map column=field`) wins
  over the aliases and `ignore` drops a column; several columns of one field (Mobile and
  Phone) are tried in alias order, first non-empty wins, the others are kept as attributes;
- a row's keys are the field names for matched columns and the lower-cased header for the
  rest (kept in the lead's `attributes`).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

# field → header spellings, most specific first (normalised: lower-case letters and digits)
ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "fullname", "contactname", "customername", "clientname", "leadname",
             "displayname"),
    "first_name": ("firstname", "first", "givenname", "fname", "contactfirstname"),
    "last_name": ("lastname", "last", "surname", "familyname", "lname", "contactlastname"),
    "phone": ("mobile", "mobilephone", "mobilephonenumber", "mobilenumber", "cell",
              "cellphone", "cellnumber", "cellphonenumber", "phone", "phonenumber",
              "primaryphone", "primaryphonenumber", "phone1", "mainphone", "contactphone",
              "telephone", "tel", "homephone", "workphone", "businessphone"),
    "email": ("email", "emailaddress", "primaryemail", "primaryemailaddress", "email1",
              "mail", "contactemail", "workemail", "personalemail"),
    "company": ("company", "companyname", "business", "businessname", "organization",
                "organisation", "organizationname", "account", "accountname", "employer"),
    "industry": ("industry", "vertical", "businesstype"),
    "state": ("state", "stateregion", "stateprovince", "province", "region", "statecode",
              "billingstate", "mailingstate", "servicestate"),
    "timezone": ("timezone", "tz", "ianatimezone"),
    "source": ("source", "leadsource", "originalsource", "contactsource", "sourcename"),
    "tags": ("tags", "tag", "labels", "label", "contacttags"),
    "do_not_contact": ("donotcontact", "dnc"),
}  # fmt: skip
FIELDS = tuple(ALIASES)
IGNORE = "ignore"
DELIMITERS = (",", ";", "\t", "|")
_BAD_BYTE = re.compile("[\x00\udc80-\udcff]")


def header_key(name: str) -> str:
    """`Email Address`, `email_address`, `E-mail address` → `emailaddress`."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """`["Cell #=phone", "Notes=ignore"]` → {header key: field}; ValueError names a bad pair."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, sep, target = pair.rpartition("=")
        target = target.strip().lower().replace(" ", "_")
        if not sep or not column.strip():
            raise ValueError(f"--map {pair!r}: use COLUMN=FIELD, e.g. 'Best Number=phone'")
        if target not in (*FIELDS, IGNORE):
            known = ", ".join((*FIELDS, IGNORE))
            raise ValueError(f"--map {pair!r}: {target!r} is not one of {known}")
        mapping[header_key(column)] = target
    return mapping


def decode(data: bytes) -> str:
    """Text of the file; bytes that are not UTF-8 survive as lone surrogates (see bad_cell)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="surrogateescape")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    return data.decode("utf-8", errors="surrogateescape")


def sniff_delimiter(text: str) -> str:
    """The delimiter the header line holds most of (`,` when it holds none)."""
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def bad_cell(row: Mapping[str, str]) -> tuple[str, str] | None:
    """(column, reason) of the row's first cell holding a NUL or an invalid UTF-8 byte."""
    for column, value in row.items():
        found = _BAD_BYTE.search(value or "")
        if found:
            char = found.group()
            reason = (
                "a NUL byte (the file is damaged here); the row was not imported"
                if char == "\x00"
                else f"byte 0x{ord(char) - 0xDC00:02X} is not UTF-8 (save the file as "
                "CSV UTF-8); the row was not imported"
            )
            return column, reason
    return None


@dataclass(frozen=True)
class Columns:
    """Which header columns feed which field (in priority order), and the rest."""

    fields: dict[str, list[int]]
    extra: dict[int, str]  # column index → attribute key
    headers: list[str]

    @classmethod
    def of(cls, headers: list[str], mapping: Mapping[str, str]) -> Columns:
        keys = [header_key(h) for h in headers]
        fields: dict[str, list[int]] = {}
        taken: set[int] = set()
        for i, key in enumerate(keys):  # --map first: the user knows their file
            target = mapping.get(key)
            if target:
                taken.add(i)
                if target != IGNORE:
                    fields.setdefault(target, []).append(i)
        for field, aliases in ALIASES.items():
            if field in fields:
                continue
            for alias in aliases:
                for i, key in enumerate(keys):
                    if key == alias and i not in taken:
                        fields.setdefault(field, []).append(i)
                        taken.add(i)
        extra = {
            i: h.strip().lower() for i, h in enumerate(headers) if i not in taken and h.strip()
        }
        return cls(fields, extra, headers)

    def row(self, cells: list[str]) -> dict[str, str]:
        """One CSV record → {field or attribute key: value}; a field takes its first non-empty
        column, and a different value in another of its columns is kept as an attribute."""

        def get(i: int) -> str:
            return cells[i].strip() if i < len(cells) else ""

        row: dict[str, str] = {}
        for field, indexes in self.fields.items():
            values = [(i, get(i)) for i in indexes]
            chosen = next((v for _, v in values if v), "")
            row[field] = chosen
            for i, v in values:
                if v and v != chosen:
                    row[self.headers[i].strip().lower()] = v
        for i, key in self.extra.items():
            row[key] = get(i)
        return row


def read_records(
    data: bytes, mapping: Mapping[str, str] | None = None
) -> tuple[Columns, Iterator[tuple[int, dict[str, str]]]]:
    """The header's columns and an iterator of (line number, row); ValueError when the file
    has no header or no column that can hold a phone or an email."""
    text = decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    headers = next(reader, None)
    if not headers or not any(h.strip() for h in headers):
        raise ValueError("the file is empty or has no header row")
    columns = Columns.of(headers, mapping or {})
    if not {"phone", "email"} & set(columns.fields):
        raise ValueError(
            "the header has neither a phone nor an email column (headers: "
            f"{', '.join(h.strip() for h in headers)}); name one with --map COLUMN=phone"
        )

    def records() -> Iterator[tuple[int, dict[str, str]]]:
        try:
            for cells in reader:
                if not any(c.strip() for c in cells):
                    continue  # blank lines (trailing newlines, spreadsheet padding)
                yield reader.line_num, columns.row(cells)
        except csv.Error as exc:  # e.g. a cell over the csv module's 128 KiB limit
            raise ValueError(f"line {reader.line_num}: {exc}; nothing after it was read") from exc

    return columns, records()
