"""How simulated people say stop: everyday wording, generated (issue 14 item 8).

Contract: `text_revocation(rng)` and `voice_revocation(rng)` draw a revocation the way a
person writes or says it — English or Spanish, with a greeting or not, politeness, emoji,
shouting, typographic apostrophes, stretched letters, a typo — and the channels a reasonable
reader takes it to cover (`scope`): "sms" (a bare keyword: this channel), "phone" (calls and
texts: "wrong number", "stop calling"), "all" (contact in general: "take me off your list").
The simulator's world holds nightshift to that scope (app/simulate/audit.py), whatever the
classifier makes of the words. Deterministic for a seeded generator; nothing here knows the
classifier (app/consent), so the wording is not shaped to what it expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Scope = Literal["sms", "phone", "calls", "all"]

# (words, scope): the core of a revocation by text, before any decoration.
TEXT_CORES: tuple[tuple[str, Scope], ...] = (
    ("stop", "sms"), ("STOP", "sms"), ("unsubscribe", "sms"), ("cancel", "sms"),
    ("end", "sms"), ("quit", "sms"), ("opt out", "sms"), ("stop texting me", "sms"),
    ("stop sending me texts", "sms"), ("don't text me", "sms"), ("dont text me anymore", "sms"),
    ("don't message me", "sms"), ("no more msgs", "sms"), ("no more texts please", "sms"),
    ("please stop messaging me", "sms"), ("stop it", "sms"), ("stop pls", "sms"),
    ("unsubscribe me", "sms"), ("pls remove", "all"), ("remove me", "all"),
    ("remove me from your list", "all"), ("take me off your list", "all"),
    ("take me off this list", "all"), ("leave me alone", "all"), ("stop contacting me", "all"),
    ("do not contact me again", "all"), ("not interested, stop", "all"),
    ("i never signed up for this", "all"), ("this is spam", "all"), ("STOPALL", "all"),
    ("wrong number", "phone"), ("you have the wrong number", "phone"),
    ("stop calling and texting me", "phone"), ("quit texting me", "sms"),
    ("no más mensajes", "sms"), ("no me escriban más", "sms"), ("alto", "sms"),
    ("baja", "all"), ("darme de baja", "all"), ("por favor dejen de mandarme mensajes", "sms"),
    ("quítenme de su lista", "all"), ("déjenme en paz", "all"), ("número equivocado", "phone"),
    ("ya no me manden mensajes", "sms"), ("basta", "sms"),
)  # fmt: skip

# What a person says on a call: the assistant may call the optOut tool, or only the words
# remain (the end-of-call transcript).
VOICE_CORES: tuple[tuple[str, Scope], ...] = (
    ("please don't call me again", "calls"), ("stop calling me", "calls"),
    ("don't call this number anymore", "calls"), ("put me on your do not call list", "calls"),
    ("I don't want these calls", "calls"), ("take me off your list", "all"),
    ("don't contact me again, not by phone, not by text", "all"),
    ("no me llamen más", "calls"), ("no vuelvan a llamarme", "calls"),
    ("quítenme de su lista, por favor", "all"),
)  # fmt: skip

OPENINGS = ("", "", "", "hey ", "Hi, ", "ok ", "Look, ", "hola, ", "Sorry but ", "Yeah no. ")
CLOSINGS = ("", "", "", " please", " thanks", " thank you", "!!", "!!!", ".", " 🙏", " 🛑",
            " 😡", " gracias", ", thanks.", " pls", " ASAP")  # fmt: skip


@dataclass(frozen=True)
class Revocation:
    text: str
    scope: Scope


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _stretch(word: str, rng: np.random.Generator) -> str:
    """A letter typed several times ("stooop"), or in a longer word a neighbouring pair
    swapped ("remvoe"; in a short one a swap is often another word: "alto", "alot")."""
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    if len(letters) < 3:
        return word
    i = letters[int(rng.integers(1, len(letters) - 1))]
    if rng.random() < 0.6 or len(letters) < 5:
        return word[:i] + word[i] * int(rng.integers(2, 5)) + word[i + 1 :]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def decorate(core: str, rng: np.random.Generator) -> str:
    """The core as a person types it: a greeting, case, apostrophes, a typo, a closing."""
    text = core
    if "'" in text and rng.random() < 0.5:
        text = text.replace("'", "\u2019")  # a phone's typographic apostrophe
    roll = rng.random()
    if roll < 0.2:
        text = text.upper()
    elif roll < 0.5:
        text = text[:1].upper() + text[1:]
    if rng.random() < 0.15:  # one typo or stretched letter in the first word
        first, _, rest = text.partition(" ")
        text = _stretch(first, rng) + (" " + rest if rest else "")
    return f"{_pick(rng, OPENINGS)}{text}{_pick(rng, CLOSINGS)}".strip()


def text_revocation(rng: np.random.Generator) -> Revocation:
    words, scope = TEXT_CORES[int(rng.integers(len(TEXT_CORES)))]
    return Revocation(decorate(words, rng), scope)


def voice_revocation(rng: np.random.Generator) -> Revocation:
    words, scope = VOICE_CORES[int(rng.integers(len(VOICE_CORES)))]
    text = f"{_pick(rng, ('', 'Okay, ', 'Listen, ', 'Mira, '))}{words}."
    return Revocation(text, scope)
