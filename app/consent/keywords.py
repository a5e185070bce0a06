"""Classifying an inbound SMS body: opt-out, opt-in, help, an on-call ACK, or a reply.

Rules (docs/notes/compliance.md §2, docs/notes/twilio-resend.md §6):
- Twilio's defaults, whole body, trimmed, any case: opt-out STOP, STOPALL, UNSUBSCRIBE,
  CANCEL, END, QUIT, REVOKE, OPTOUT (the last two since 2025-04-29); opt-in START, YES,
  UNSTOP; help HELP, INFO. We classify the body ourselves: `OptOutType` only arrives with
  Advanced Opt-Out;
- beyond Twilio's exact match, FCC 24-18 ("any reasonable method"): trailing punctuation
  ("Stop."), "opt out"/"opt-out", and clear phrases ("stop texting me", "remove me", ...)
  are opt-outs too;
- `ACK <code>` counts only from an ONCALL_PHONES number; from anyone else it is a reply.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["stop", "start", "help", "ack", "reply"]

OPT_OUT = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT",
     "OPT OUT", "OPT-OUT"}
)  # fmt: skip
OPT_IN = frozenset({"START", "YES", "UNSTOP"})
HELP = frozenset({"HELP", "INFO"})
OPT_OUT_PHRASES = (
    "STOP TEXTING", "STOP MESSAGING", "STOP CONTACTING", "STOP CALLING", "REMOVE ME",
    "UNSUBSCRIBE ME", "DO NOT CONTACT", "DON'T CONTACT", "DO NOT TEXT", "DON'T TEXT",
    "TAKE ME OFF", "OPT ME OUT", "LEAVE ME ALONE",
)  # fmt: skip
_ACK = re.compile(r"^ACK\s+([A-Z0-9-]{2,32})$")
_PUNCTUATION = " \t\r\n.!?,;:\"'"


@dataclass(frozen=True)
class Inbound:
    kind: Kind
    ack_code: str | None = None


def normalise(body: str) -> str:
    """Upper case, trimmed of whitespace and punctuation, inner whitespace collapsed."""
    return " ".join(body.strip(_PUNCTUATION).upper().split())


def classify(body: str, sender: str, oncall_phones: Sequence[str] = ()) -> Inbound:
    text = normalise(body)
    if text in OPT_OUT or any(phrase in text for phrase in OPT_OUT_PHRASES):
        return Inbound("stop")
    if text in OPT_IN:
        return Inbound("start")
    if text in HELP:
        return Inbound("help")
    match = _ACK.match(text)
    if match and sender in oncall_phones:
        return Inbound("ack", match.group(1))
    return Inbound("reply")
