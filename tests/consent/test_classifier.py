"""The revocation classifier on the labelled table of everyday replies (tests/consent/replies.tsv)
and on the normalisation it promises."""

from __future__ import annotations

from collections import Counter

import pytest

from app.consent.keywords import classify as classify_sms
from app.consent.revocation import classify
from app.consent.text import canonical
from tests.consent.table import Row, rows

TABLE = rows()


def test_the_table_is_big_and_varied() -> None:
    labels = Counter(row.label for row in TABLE)
    assert len(TABLE) >= 200
    assert labels["opt_out"] >= 100 and labels["reply"] >= 60 and labels["ambiguous"] >= 10
    spanish = [r for r in TABLE if any(w in r.text.lower() for w in ("mensajes", "baja", "no me"))]
    assert len(spanish) >= 20


def test_recall_and_benign_rate() -> None:
    """Issue 14: ≥ 98 % of opt-outs opt out, ≤ 1 in 20 benign replies does."""
    opt_outs = [r for r in TABLE if r.label == "opt_out"]
    benign = [r for r in TABLE if r.label == "reply"]
    caught = [r for r in opt_outs if classify(r.text).kind == "opt_out"]
    flagged = [r.text for r in benign if classify(r.text).kind == "opt_out"]
    assert len(caught) / len(opt_outs) >= 0.98, [r.text for r in opt_outs if r not in caught]
    assert len(flagged) / len(benign) <= 1 / 20, flagged


def test_an_opt_out_is_never_a_plain_reply() -> None:
    """When unsure, opt out or hold: no labelled opt-out may come back as a reply."""
    missed = [r.text for r in TABLE if r.label == "opt_out" and classify(r.text).kind == "reply"]
    assert missed == []


@pytest.mark.parametrize("row", [r for r in TABLE if r.label == "opt_out" and r.scope], ids=str)
def test_scope_covers_the_channels_named(row: Row) -> None:
    verdict = classify(row.text)
    assert verdict.kind == "opt_out"
    assert row.scope is not None and set(row.scope) <= set(verdict.scope), verdict


def test_held_texts_are_held_and_keywords_are_keywords() -> None:
    for row in TABLE:
        if row.label in ("start", "help"):
            assert classify(row.text).kind == row.label, row.text
    held = [r for r in TABLE if r.label == "ambiguous"]
    wrong = [r.text for r in held if classify(r.text).kind == "reply"]
    assert len(wrong) <= 1, wrong


@pytest.mark.parametrize(
    ("raw", "same_as"),
    [
        ("Don\u2019t message me", "don't message me"),
        ("\uff33\uff34\uff2f\uff30", "stop"),
        ("STOPPPP!!!", "stop"),
        ("S T O P", "stop"),
        ("No más mensajes", "no mas mensajes"),
        ("pls   remove\n", "please remove"),
        ("stop it 🙏", "stop it"),
    ],
)
def test_normalisation(raw: str, same_as: str) -> None:
    assert canonical(raw).text == canonical(same_as).text


def test_words_on_a_call_name_calls() -> None:
    verdict = classify("please don't call me again", "call")
    assert verdict.kind == "opt_out" and verdict.scope == ("call",)
    assert classify("take me off your list", "call").scope == ("call", "email", "sms")


def test_twilio_opt_out_type_is_honoured() -> None:
    """Advanced Opt-Out: Twilio's OptOutType wins over our reading of a custom keyword."""
    assert classify_sms("ARRET", "+14155550199", opt_out_type="STOP").kind == "stop"
    assert classify_sms("ARRET", "+14155550199").kind == "reply"
    assert classify_sms("go", "+14155550199", opt_out_type="START").kind == "start"
    stopall = classify_sms("STOPALL", "+14155550199", opt_out_type="STOP")
    assert stopall.scope == ("call", "email", "sms")


def test_ack_from_oncall_stays_an_ack() -> None:
    inbound = classify_sms("ack A1B2", "+14155550100", ["+14155550100"])
    assert inbound.kind == "ack" and inbound.ack_code == "A1B2"
