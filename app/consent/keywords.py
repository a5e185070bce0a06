"""Classifying an inbound SMS body: opt-out, opt-in, help, an on-call ACK, a doubt, or a reply.

Rules (docs/notes/compliance.md §2, docs/notes/twilio-resend.md §6):
- `ACK <code>` counts only from an ONCALL_PHONES number; from anyone else it is classified
  like any other text;
- Twilio's `OptOutType` (STOP | START | HELP, sent with Advanced Opt-Out) is honoured when
  present: Twilio has already applied it on its side, so we agree with it;
- everything else is app.consent.revocation's verdict: opt-out ("stop", with the channels
  it covers), START/HELP keywords, "ambiguous" (held for a human) or a reply.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from app.consent.revocation import Channel, Verdict
from app.consent.revocation import classify as revocation

Kind = Literal["stop", "start", "help", "ack", "ambiguous", "reply"]
_ACK = re.compile(r"^ACK\s+([A-Z0-9-]{2,32})$")
_PUNCTUATION = " \t\r\n.!?,;:\"'"
_KINDS: dict[str, Kind] = {
    "opt_out": "stop", "start": "start", "help": "help", "ambiguous": "ambiguous",
    "reply": "reply",
}  # fmt: skip


@dataclass(frozen=True)
class Inbound:
    kind: Kind
    ack_code: str | None = None
    scope: tuple[Channel, ...] = ()  # channels an opt-out covers
    reason: str = ""


def normalise(body: str) -> str:
    """Upper case, trimmed of whitespace and punctuation, inner whitespace collapsed."""
    return " ".join(body.strip(_PUNCTUATION).upper().split())


def _from_twilio(opt_out_type: str | None, verdict: Verdict) -> Inbound | None:
    """Twilio's own verdict; a STOP covers SMS at least, more when the words say so."""
    kind = (opt_out_type or "").strip().upper()
    if kind == "STOP":
        scope = verdict.scope if verdict.kind == "opt_out" else ("sms",)
        return Inbound("stop", scope=scope, reason="twilio:OptOutType=STOP")
    if kind in ("START", "HELP"):
        return Inbound("start" if kind == "START" else "help", reason=f"twilio:OptOutType={kind}")
    return None


def classify(
    body: str, sender: str, oncall_phones: Sequence[str] = (), opt_out_type: str | None = None
) -> Inbound:
    """The inbound SMS's kind (see the module contract)."""
    match = _ACK.match(normalise(body))
    if match and sender in oncall_phones:
        return Inbound("ack", match.group(1))
    verdict = revocation(body, "sms")
    if twilio := _from_twilio(opt_out_type, verdict):
        return twilio
    return Inbound(_KINDS[verdict.kind], scope=verdict.scope, reason=verdict.reason)
