"""Redaction of what a caller or agent said before it leaves nightshift (the training
documents published into the agents' knowledge base, docs/agents.md).

Contract: `redact(text)` replaces
- email addresses with `[email]`;
- payment details: a card number (13-19 digits, in groups or not) with `[card]`; a
  security code (CVV, CVC, "security code", "the three digits on the back") with `[code]`;
  a bank account or routing number (digits after "account", "routing", "ABA", "IBAN",
  "sort code") with `[account]`;
- phone numbers (7 or more digits with the usual separators, `+1 (512) 555-0147`,
  `512.555.0147`) with `[phone]`;
- the same numbers spoken as words in a transcript ("five one two five five five ...",
  seven or more number words in a row) with `[number]`.
Order matters: payment details first (a card number would also look like a phone number),
then phones, then spelled digits. A short number (a time, "2 units", a year, "$89") is kept:
it is what the playbook is about.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.I)
# card: 13-19 digits, optionally in groups separated by a space or dash
_CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
_CODE = re.compile(
    r"\b(cvv2?|cvc2?|cid|security code|verification code|three digits on the back|"
    r"code on the back)\b(\W{0,4}(?:is|are|it'?s|:)?\W{0,3})\d{3,4}\b",
    re.I,
)
_ACCOUNT = re.compile(
    r"\b(account|acct|routing|aba|iban|sort code|checking|savings)\b"
    r"((?:\s*(?:number|no\.?|#|is|it'?s|:))*\W{0,3})(?:[A-Z]{2}\d{2})?\d(?:[ -]?\d){4,33}",
    re.I,
)
_PHONE = re.compile(r"(?<![\w(])\+?\(?\d[\d ().-]{5,}\d(?![\w])")
_DIGIT_WORD = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|double|triple)"
_SPOKEN = re.compile(rf"\b{_DIGIT_WORD}(?:[\s,.-]+{_DIGIT_WORD}){{6,}}\b", re.I)


def _phone(match: re.Match[str]) -> str:
    digits = sum(c.isdigit() for c in match.group(0))
    return "[phone]" if digits >= 7 else match.group(0)


def redact(text: str) -> str:
    """`text` with contact and payment details replaced (see the module contract)."""
    text = _EMAIL.sub("[email]", text)
    text = _CODE.sub(lambda m: f"{m.group(1)}{m.group(2)}[code]", text)
    text = _ACCOUNT.sub(lambda m: f"{m.group(1)}{m.group(2)}[account]", text)
    text = _CARD.sub("[card]", text)
    text = _PHONE.sub(_phone, text)
    return _SPOKEN.sub("[number]", text)
