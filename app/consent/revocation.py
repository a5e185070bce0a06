"""Does this text revoke consent? One classifier for SMS, email replies and call transcripts.

Contract of `classify(text, channel) -> Verdict(kind, scope, reason)`:
- `kind`: "opt_out" | "ambiguous" | "reply" | "start" | "help". When the words could be an
  opt-out or a reply, the answer is "opt_out" or "ambiguous", never "reply" (FCC 24-18:
  consent may be revoked by any reasonable means; docs/notes/compliance.md §2);
- the text is normalised first (app.consent.text): case, NFKC, typographic quotes, accents,
  emoji, repeated letters and punctuation, whitespace, text-speak;
- "start"/"help": Twilio's opt-in and help keywords as the whole message (START, YES,
  UNSTOP; HELP, INFO, and AYUDA);
- "opt_out": a keyword (Twilio's list, FCC/CTIA words, Spanish ones) alone in the message or
  in a clause of its own with only politeness around it ("stop it 🙏", "STOP. wrong
  number"), a clear English or Spanish phrase ("no more msgs", "no me escriban"), "not
  interested" as the whole point, or a "stop" left standing at a clause's start or end once
  the benign look-alikes ("stop by Tuesday", "don't stop", "my AC stopped") are set aside;
- "ambiguous": a "stop" elsewhere in a sentence, CANCEL/END/QUIT among other words (a visit
  cancelled?), "not interested" inside a longer message, limits on contact ("don't call
  before 5"), "how did you get my number", "no thanks";
- `scope`: the channels ("call", "email", "sms") the opt-out covers: a bare keyword covers
  the channel it came by (STOPALL, REMOVE and BAJA every channel); a phrase covers the
  channels it names plus the one it came by, every channel when it names none or speaks of
  contact in general ("remove me from your list", "leave me alone"); "wrong number" covers
  the phone channels. Empty for anything but an opt-out;
- `reason`: why, for the audit trail and the human who reviews an ambiguous text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from app.consent import phrases as p
from app.consent.text import canonical

Kind = Literal["opt_out", "ambiguous", "reply", "start", "help"]
Channel = Literal["call", "email", "sms"]
ALL: tuple[Channel, ...] = ("call", "email", "sms")
KEYWORD_ALL = frozenset({"stopal", "remove", "baja"})  # canonical forms
_CHANNEL_WORDS: tuple[tuple[Channel, re.Pattern[str]], ...] = (
    ("sms", p.SMS_WORDS), ("call", p.CALL_WORDS), ("email", p.EMAIL_WORDS),
)  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    scope: tuple[Channel, ...] = ()
    reason: str = ""


def _joined(clause: str) -> str:
    for pattern, word in p.JOINS:
        clause = pattern.sub(word, clause)
    return clause


def _neutral(clause: str) -> str:
    """The clause with its benign look-alikes replaced by `~`."""
    for pattern in p.BENIGN:
        clause = pattern.sub("~", clause)
    return clause


def _core(text: str) -> list[str]:
    return [w for w in text.split() if w not in p.FILLER]


def _named(text: str) -> set[Channel]:
    return {channel for channel, pattern in _CHANNEL_WORDS if pattern.search(text)}


def keyword_scope(text: str, channel: Channel) -> tuple[Channel, ...]:
    """A keyword covers the channel it came by, plus any its message names."""
    if KEYWORD_ALL & set(text.split()):
        return ALL
    named = _named(text) | {channel}
    if p.PHONE_ONLY.search(text):
        named |= {"call", "sms"}
    return tuple(sorted(named))


def phrase_scope(text: str, channel: Channel) -> tuple[Channel, ...]:
    """A phrase covers what it names (and its own channel); contact in general: everything."""
    named = _named(text)
    if p.PHONE_ONLY.search(text):
        return tuple(sorted(named | {"call", "sms", channel}))
    if not named or p.ALL_WORDS.search(text) or KEYWORD_ALL & set(text.split()):
        return ALL
    return tuple(sorted(named | {channel}))


def _keyword(clauses: list[str], whole: str, channel: Channel) -> Verdict | None:
    words = whole.split()
    if len(words) == 1 and words[0] in p.START:
        return Verdict("start", reason=f"keyword:{words[0]}")
    if len(words) == 1 and words[0] in p.HELP:
        return Verdict("help", reason=f"keyword:{words[0]}")
    core = _core(whole)
    if core and all(w in p.STRONG | p.WEAK for w in core):
        return Verdict("opt_out", keyword_scope(whole, channel), f"keyword:{' '.join(core)}")
    for clause in clauses:
        core = _core(clause)
        if core and all(w in p.STRONG for w in core):
            return Verdict("opt_out", keyword_scope(whole, channel), f"keyword:{clause}")
    return None


def _phrase(clauses: list[str], whole: str, channel: Channel) -> Verdict | None:
    """The clearest phrase first (it names the channels), a keyword-like clause last."""
    if match := p.CONTACT_LIMITS.search(whole):
        return Verdict("ambiguous", reason=f"contact_limits:{match.group()}")
    for pattern in p.OPT_OUT:
        if match := pattern.search(whole):
            return Verdict("opt_out", phrase_scope(whole, channel), f"phrase:{match.group()}")
    for pattern in p.CLAUSE_OPT_OUT:
        for clause in clauses:
            if match := pattern.search(clause):
                return Verdict("opt_out", phrase_scope(whole, channel), f"phrase:{match.group()}")
    doubt = None
    if match := p.NOT_INTERESTED.search(whole):
        short = len(_core(whole)) <= p.NOT_INTERESTED_MAX_WORDS
        if short and not p.INTERESTED_IN_SOMETHING.search(whole):
            return Verdict("opt_out", phrase_scope(whole, channel), f"phrase:{match.group()}")
        doubt = Verdict("ambiguous", reason=f"not_interested:{match.group()}")
    for clause in clauses:
        if match := p.CLAUSE_KEYWORD.search(clause):
            return Verdict("opt_out", keyword_scope(whole, channel), f"keyword:{match.group()}")
    return doubt


def _doubt(clauses: list[str], whole: str) -> Verdict | None:
    for pattern, why in p.AMBIGUOUS:
        if any(pattern.search(text) for text in (whole, *clauses)):
            return Verdict("ambiguous", reason=why)
    if len(clauses) > 1:
        for clause in clauses:
            core = _core(clause)
            if core and all(w in p.WEAK for w in core):
                return Verdict("ambiguous", reason=f"keyword_among_words:{clause}")
    return None


def _stray_stop(clauses: list[str], whole: str, channel: Channel) -> Verdict | None:
    """A "stop" that no look-alike explains: imperative at a clause's edge, else a doubt."""
    for clause in clauses:
        core = _core(clause)
        if "stop" not in core:
            continue
        if core[0] == "stop" or core[-1] == "stop":
            return Verdict("opt_out", keyword_scope(whole, channel), f"stop_in:{clause}")
        return Verdict("ambiguous", reason=f"stop_in:{clause}")
    return None


def classify(text: str, channel: Channel = "sms") -> Verdict:
    """What `text`, received on `channel`, says about consent (see the module contract)."""
    clauses = [_joined(c) for c in canonical(text).clauses]
    whole = " ".join(clauses)
    if not whole:
        return Verdict("reply", reason="empty")
    neutral = [_neutral(c) for c in clauses]
    joined = " ".join(neutral)
    phrase = _phrase(neutral, joined, channel)
    if verdict := _keyword(clauses, whole, channel):
        if verdict.kind == "opt_out" and phrase and phrase.kind == "opt_out":
            # "Not interested, please stop": the phrase's channels count too
            scope = tuple(sorted(set(verdict.scope) | set(phrase.scope)))
            return Verdict("opt_out", scope, f"{verdict.reason}; {phrase.reason}")
        return verdict
    return (
        phrase
        or _doubt(neutral, joined)
        or _stray_stop(neutral, joined, channel)
        or Verdict("reply", reason="no_revocation")
    )
