"""A phone number as one value: E.164, validated once with phonenumbers, carrying what the
compliance gate needs (its candidate time zones and its area code's state).

Contract:
- `Phone.parse(raw, region="US")`: what a person or a CRM export writes ("(212) 555-0188",
  "+1 212 555 0188", "212.555.0188") → a valid number, else `InvalidPhone` with the reason;
- `Phone.from_e164(text)`: what a provider or an API sends must already be E.164
  ("+12125550188"); anything else is `InvalidPhone`;
- `E164` / `PhoneText`: the same two rules as pydantic field types, so a model parsed at the
  edge holds a normalised number and nothing downstream validates it again;
- `.zones`: the IANA zones the number may be in (empty when unknown: invalid, toll-free,
  non-geographic); for the NANP area codes whose exchanges span zones and whose exchange
  phonenumbers does not list, every zone of the area code (docs/notes/compliance.md §5: one default
  zone is no proof); `.state`: the US state of a NANP area code (FL/OK/CT presume residency
  from it), from a generated table (the geocoder costs ~0.8 s per process).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated

import phonenumbers
from phonenumbers import timezone as pn_timezone
from phonenumbers.tzdata import TIMEZONE_DATA
from pydantic import BeforeValidator

from app.core.npa_states import NPA_STATE

# NANP area codes whose exchanges span several zones (phonenumbers 9.0.43 data): an exchange
# missing from the override table falls back to ONE default zone, which is not proof.
SPLIT_AREA_CODES = frozenset(
    [
        "208",
        "219",
        "270",
        "308",
        "423",
        "541",
        "574",
        "605",
        "606",
        "620",
        "701",
        "775",
        "785",
        "812",
        "850",
        "906",
        "907",
        "928",
    ]
)


class InvalidPhone(ValueError):
    """Not a usable phone number; the message says why (shown to whoever sent it)."""


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str

    @classmethod
    def parse(cls, raw: str, region: str = "US") -> Phone:
        """A number as people write it, read in `region` when it has no country code."""
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException as exc:
            raise InvalidPhone("not a phone number") from exc
        if not phonenumbers.is_valid_number(number):
            raise InvalidPhone("not a valid phone number")
        return cls(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))

    @classmethod
    def from_e164(cls, text: str) -> Phone:
        """A number a machine sent: E.164 only (`+` and the country code)."""
        if not text.startswith("+"):
            raise InvalidPhone("not an E.164 phone number (+ and country code)")
        phone = cls.parse(text, region="ZZ")
        if phone.e164 != text:
            raise InvalidPhone("not an E.164 phone number (+ and country code)")
        return phone

    @property
    def zones(self) -> tuple[str, ...]:
        return candidate_zones(self.e164)

    @property
    def state(self) -> str | None:
        return area_code_state(self.e164)

    def __str__(self) -> str:
        return self.e164


@lru_cache(maxsize=64)
def _area_code_zones(npa: str) -> tuple[str, ...]:
    """Every zone any prefix of this NANP area code maps to."""
    prefix = "1" + npa
    found = {z for key, zones in TIMEZONE_DATA.items() if key.startswith(prefix) for z in zones}
    return tuple(sorted(found))


def _exchange_listed(national: str) -> bool:
    return any(("1" + national[:n]) in TIMEZONE_DATA for n in range(4, len(national) + 1))


@lru_cache(maxsize=100_000)
def candidate_zones(e164: str) -> tuple[str, ...]:
    """The zones a stored E.164 number may be in; empty when unknown (see the module doc)."""
    try:
        number = phonenumbers.parse(e164, "US")
    except phonenumbers.NumberParseException:
        return ()
    geographic = phonenumbers.is_number_type_geographical(
        phonenumbers.number_type(number), number.country_code or 1
    )
    if not phonenumbers.is_valid_number(number) or not geographic:
        return ()
    zones = tuple(z for z in pn_timezone.time_zones_for_number(number) if z != "Etc/Unknown")
    national = str(number.national_number)
    if national[:3] in SPLIT_AREA_CODES and not _exchange_listed(national):
        zones = _area_code_zones(national[:3])
    return zones


def area_code_state(e164: str) -> str | None:
    """The state of a NANP number's area code; None outside the NANP or for no state."""
    if not (e164.startswith("+1") and len(e164) == 12 and e164[2:].isdigit()):
        return None
    return NPA_STATE.get(e164[2:5])


def _parsed(value: object) -> object:
    return Phone.parse(value).e164 if isinstance(value, str) else value


def _e164(value: object) -> object:
    return Phone.from_e164(value).e164 if isinstance(value, str) else value


# pydantic field types: parsed once at the edge, normalised E.164 text afterwards
PhoneText = Annotated[str, BeforeValidator(_parsed)]
E164 = Annotated[str, BeforeValidator(_e164)]
