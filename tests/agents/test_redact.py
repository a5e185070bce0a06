"""Redaction of transcribed words before they are published (docs/agents.md "The training
loop"): phone numbers, emails and payment details, as callers actually say them."""

from __future__ import annotations

import pytest

from app.scoring.redact import redact


@pytest.mark.parametrize(
    ("said", "published"),
    [
        ("Sure, call me back at (512) 555-0147 after six.",
         "Sure, call me back at [phone] after six."),
        ("My cell is +1 512.555.0147, my wife's is 555-0199.",
         "My cell is [phone], my wife's is [phone]."),
        ("It's five one two, five five five, zero one four seven.", "It's [number]."),
        ("Send the quote to Maria.Gonzalez+hvac@outlook.com please.",
         "Send the quote to [email] please."),
        ("Card is 4111 1111 1111 1111, expires oh nine twenty eight, CVV is 123.",
         "Card is [card], expires oh nine twenty eight, CVV is [code]."),
        ("Use my Amex 3782-822463-10005 for the deposit.", "Use my Amex [card] for the deposit."),
        ("the three digits on the back are 737", "the three digits on the back are [code]"),
        ("My routing number is 021000021 and the account number is 123456789012.",
         "My routing number is [account] and the account number is [account]."),
    ],
)  # fmt: skip
def test_contact_and_payment_details_are_replaced(said: str, published: str) -> None:
    assert redact(said) == published


def test_what_the_playbook_is_about_is_kept() -> None:
    said = "It's a 15 year old 3 ton unit; $89 for the visit at 9:30, or Saturday 2 to 4pm in 2027?"
    assert redact(said) == said
