"""Cell values of a lead export as people and spreadsheets write them.

Contract:
- `person_name(full, first, last)`: a display name and a first name, parsed with `nameparser`
  ("Doe, Jane" → "Jane Doe", first "Jane"; "Dr. Maria Gonzalez" → first "Maria"); an
  all-capitals or all-lower-case name is capitalised ("MARIA GONZALEZ" → "Maria Gonzalez");
  separate First/Last columns win over a full name's guess, unless only one of them is
  filled and holds a comma ("Doe, Jane" typed into First Name);
- `first_name_of(name)`: the first name a greeting uses ("" when the name has none, e.g.
  "Mr. & Mrs. Smith"): templates fall back to "there";
- `import_phone(raw, country)`: Excel's ways of writing a number ("'5125550100",
  `="5125550100"`, "5125550100.0") are read, scientific notation ("5.12556E+09", digits lost)
  is refused, and a number of another country than `country` is refused with its country;
- `tag_list(raw)`: "vip, spring promo; hvac" → ["vip", "spring promo", "hvac"].
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from nameparser import HumanName

from app.core.phone import InvalidPhone

_EXCEL_TEXT = re.compile(r'^="(.*)"$')
_EXCEL_FLOAT = re.compile(r"^\+?\d{7,15}\.0+$")
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?E\+\d+$", re.IGNORECASE)


def _capitalised(name: HumanName) -> HumanName:
    name.capitalize(force=False)  # only ALL CAPS or all lower case: "McDonald" stays
    return name


@lru_cache(maxsize=65536)  # exports repeat names; parsing one costs ~0.2 ms
def _parsed(text: str) -> tuple[str, str]:
    """(display form, first name) of a full name."""
    parsed = _capitalised(HumanName(text))
    return str(parsed).strip(), str(parsed.first).strip()


@lru_cache(maxsize=65536)
def _part(text: str) -> str:
    """One First or Last Name cell, capitalised only when it is ALL CAPS or all lower case."""
    if not (text.isupper() or text.islower()):
        return text
    return str(_capitalised(HumanName(text))).strip()


def first_name_of(name: str | None) -> str:
    """The first name in a stored display name, or "" (see module contract)."""
    text = (name or "").strip()
    return _parsed(text)[1] if text else ""


def person_name(full: str, first: str = "", last: str = "") -> tuple[str | None, str | None]:
    """(display name, first name); (None, None) when every part is empty."""
    first, last, full = first.strip(), last.strip(), full.strip()
    if bool(first) != bool(last) and "," in first + last:  # "Doe, Jane" typed in one column
        full, first, last = first or last, "", ""
    if first or last:
        given, family = _part(first) if first else "", _part(last) if last else ""  # "Mary Ann"
        return " ".join(p for p in (given, family) if p) or None, given or None
    if not full:
        return None, None
    display, given = _parsed(full)
    return display or full, given or None


def import_phone(raw: str, country: str = "US") -> str:
    """E.164 of a number written in a spreadsheet; ValueError with the reason otherwise."""
    text = raw.strip().lstrip("'")
    excel = _EXCEL_TEXT.match(text)
    if excel:
        text = excel.group(1)
    if _SCIENTIFIC.match(text):
        raise ValueError(
            f"{raw.strip()!r} is in scientific notation: the spreadsheet lost the number's "
            "digits (format the column as Text and export again)"
        )
    if _EXCEL_FLOAT.match(text):
        text = text.split(".", 1)[0]
    try:
        number = phonenumbers.parse(text, country)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid phone number")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(number)
    if region != country:
        raise ValueError(
            f"{e164} is a {region or 'non-geographic'} number (+{number.country_code}); only "
            f"{country} numbers are imported (--country {country})"
        )
    return e164


def tag_list(raw: str) -> list[str]:
    """Tags of a cell, split on commas, semicolons and pipes, blanks dropped, order kept."""
    seen: dict[str, None] = {}
    for part in re.split(r"[,;|]", raw):
        tag = part.strip()
        if tag:
            seen.setdefault(tag, None)
    return list(seen)
