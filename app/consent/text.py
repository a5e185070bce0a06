"""Normalising what a person wrote or said, before deciding what it means.

Contract of `canonical(text) -> Canonical`:
- Unicode NFKC, then typographic quotes and apostrophes made ASCII (U+2019 "Don\u2019t" =
  "Don't");
- accents stripped ("más" = "mas", "envíen" = "envien"), case folded;
- apostrophes dropped inside words ("don't" = "dont"), every other character that is not a
  letter or a digit is a separator; emoji, punctuation and line breaks also end a clause
  ("stop it 🙏" → the clause "stop it"), except 🛑, 🚫 and ⛔, which read as "stop";
- every run of a repeated letter collapsed to one ("STOPPP" = "stop", "pleeease" =
  "please"; "all" becomes "al": phrases are canonicalised the same way, see `canon_word`);
- letters typed one by one are joined ("S T O P" = "stop"), common text-speak mapped
  ("pls" = "please", "u" = "you", "msgs" = "mesages"), and two neighbouring letters swapped
  in a revocation's words put back ("edn" = "end", "remvoe" = "remove", "atlo" = "alto").
`Canonical.text` is the whole message as one line of canonical words; `.clauses` the same
words split where the writer paused (punctuation, emoji, line breaks).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_QUOTES = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u00b4": "'", "`": "'", "\u02bc": "'", "\uff07": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    }
)  # fmt: skip
# 🛑 octagonal sign, 🚫 no entry sign, ⛔ no entry: read as "stop"
_EMOJI_WORDS = {"\U0001f6d1": " stop ", "\U0001f6ab": " stop ", "\u26d4": " stop "}
_CLAUSE_BREAK = "\n"
# Written as the person types them; canonicalised below like everything else.
_TEXT_SPEAK = {
    "pls": "please", "plz": "please", "plss": "please", "plse": "please", "pleas": "please",
    "plez": "please", "pleae": "please", "plis": "please", "u": "you", "ur": "your",
    "yr": "your", "msg": "message", "msgs": "messages", "mssg": "message", "mssgs": "messages",
    "mesage": "message", "mesages": "messages", "msj": "mensaje", "msjs": "mensajes",
    "txt": "text", "txts": "texts", "txting": "texting", "txtn": "texting", "tx": "text",
    "textin": "texting", "texing": "texting", "callin": "calling", "dnt": "dont",
    "thx": "thanks", "thanx": "thanks", "ty": "thanks", "tnx": "thanks",
    "st0p": "stop", "stahp": "stop", "stawp": "stop", "stopit": "stop", "5top": "stop",
    "stpo": "stop", "sotp": "stop", "srop": "stop", "stp": "stop",
    "intrested": "interested", "interesed": "interested", "intersted": "interested",
    "interestd": "interested", "intereste": "interested", "intrsted": "interested",
    "unsub": "unsubscribe", "unsuscribe": "unsubscribe", "unsubcribe": "unsubscribe",
    "unsubscibe": "unsubscribe", "unsubsribe": "unsubscribe", "usubscribe": "unsubscribe",
    "unsubscrib": "unsubscribe", "unsuscribir": "unsubscribe", "desuscribir": "unsubscribe",
    "desuscribirme": "unsubscribe",
    "remvoe": "remove", "remov": "remove", "romove": "remove", "emove": "remove",
    "conact": "contact", "contac": "contact", "contat": "contact",
    "xq": "porque", "pq": "porque",
}  # fmt: skip


def canon_word(word: str) -> str:
    """One word's canonical form: every run of a repeated letter collapsed to one."""
    return re.sub(r"([a-z])\1+", r"\1", word)


TEXT_SPEAK = {canon_word(k): canon_word(v) for k, v in _TEXT_SPEAK.items()}

# Two neighbouring letters swapped as thumbs do ("edn", "remvoe", "worng", "qiut", "atlo"),
# for the words a revocation is made of. Not the swaps that are words or common spellings of
# their own ("ned", "alot", "lits").
_SWAPPABLE = (
    "stop stopall unsubscribe remove cancel end quit alto basta baja wrong number "
    "leave alone text texting message messages contact interested spam list equivocado "
    "dejenme quitenme mensajes numero opt dont pls"
)
_NOT_SWAPS = frozenset({"ned", "alot", "lits", "tset", "lsit"})


def _swaps(word: str) -> dict[str, str]:
    out = {}
    for i in range(len(word) - 1):
        swapped = canon_word(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
        if swapped != canon_word(word) and swapped not in _NOT_SWAPS:
            out[swapped] = TEXT_SPEAK.get(canon_word(word), canon_word(word))
    return out


SWAPPED = {k: v for w in _SWAPPABLE.split() for k, v in _swaps(w).items()}


@dataclass(frozen=True)
class Canonical:
    text: str  # the whole message, canonical words separated by single spaces
    clauses: tuple[str, ...]  # the same words, split where the writer paused


def fold(text: str) -> str:
    """NFKC, ASCII quotes, no accents, case folded; clause breaks as newlines."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    for emoji, word in _EMOJI_WORDS.items():
        text = text.replace(emoji, word + _CLAUSE_BREAK)
    out: list[str] = []
    for ch in unicodedata.normalize("NFKD", text):
        category = unicodedata.category(ch)
        if category == "Mn":  # a combining accent: "á" → "a"
            continue
        if ch == "'":
            out.append("")  # "don't" → "dont"
        elif ch.isalnum():
            out.append(ch)
        elif ch == "#":
            out.append(" number ")  # "wrong #", "remove my #"
        elif ch in " \t-_/&+*@":
            out.append(" ")
        else:  # punctuation, emoji, symbols, line breaks: the writer paused
            out.append(_CLAUSE_BREAK)
    return "".join(out).casefold()


def _join_spelled(words: list[str]) -> list[str]:
    """Letters typed one by one ("s t o p") become one word; two letters stay ("u r")."""
    out: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if len(word) == 1 and word.isalpha():
            run.append(word)
            continue
        out.extend(["".join(run)] if len(run) >= 3 else run)
        run = []
        if word:
            out.append(word)
    return out


def words_of(clause: str) -> list[str]:
    words = [canon_word(w) for w in clause.split()]
    return [TEXT_SPEAK.get(w) or SWAPPED.get(w, w) for w in _join_spelled(words)]


def canonical(text: str) -> Canonical:
    clauses = []
    for part in fold(text).split(_CLAUSE_BREAK):
        words = words_of(part)
        if words:
            clauses.append(" ".join(words))
    return Canonical(" ".join(clauses), tuple(clauses))
