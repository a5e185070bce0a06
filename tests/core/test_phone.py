"""`Phone`: how people and CRM exports write numbers, and what machines must send."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from app.core.phone import E164, InvalidPhone, Phone, PhoneText

AS_PEOPLE_WRITE_THEM = [
    "(212) 555-0188",
    "212-555-0188",
    "212.555.0188",
    "2125550188",
    "+1 212 555 0188",
    "+1 (212) 555-0188",
    "1-212-555-0188",
    " 212 555 0188 ",
    "+12125550188",
]


@pytest.mark.parametrize("raw", AS_PEOPLE_WRITE_THEM)
def test_a_number_as_people_write_it_becomes_e164(raw: str) -> None:
    assert Phone.parse(raw).e164 == "+12125550188"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("call me", "not a phone number"),
        ("", "not a phone number"),
        ("555-0188", "not a valid phone number"),  # no area code
        ("+1 555 555 0100", "not a valid phone number"),  # 555 is no area code
    ],
)
def test_what_is_no_number_says_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhone, match=reason):
        Phone.parse(raw)


@pytest.mark.parametrize(
    "text", ["212-555-0188", "+1 212 555 0188", "12125550188", "1 (212) 555-0188"]
)
def test_a_machine_must_send_e164(text: str) -> None:
    with pytest.raises(InvalidPhone, match=r"E\.164"):
        Phone.from_e164(text)
    assert Phone.from_e164("+442071234567").e164 == "+442071234567"


def test_zones_and_state_come_with_the_number() -> None:
    assert Phone("+18504341234").zones == ("America/Chicago",)  # Pensacola
    # 850 spans two zones and this exchange is not listed: both, never one default
    assert set(Phone("+18505550123").zones) == {"America/Chicago", "America/New_York"}
    assert Phone("+18504341234").state == "FL"
    assert Phone("+18005550100").zones == ()  # toll-free: no zone is proof
    assert Phone("+442071234567").state is None


def test_the_pydantic_types_parse_once_at_the_edge() -> None:
    class Form(BaseModel):
        typed: PhoneText
        sent: E164 | None = None

    assert Form(typed="(212) 555-0188").typed == "+12125550188"
    with pytest.raises(ValidationError, match=r"E\.164"):
        Form(typed="2125550188", sent="212-555-0188")
