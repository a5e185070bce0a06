"""The send path's speed-ups give the same bytes and the same answers: a text's form encoded
by `form_quote` is `quote_plus`'s (the POST's headers kept by body length: the same-length
texts of tests/providers/test_twilio_prepared.py), and a 2xx body decoded by orjson is what
`response.json()` reads (a body orjson refuses is read by the stdlib as before)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote_plus

import httpx
import pytest

from app.providers.errors import ProviderError, classify_twilio
from app.providers.http import decoded
from app.providers.twilio import form_quote

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
# what owners write and leads' numbers look like: punctuation of every kind, a tab, a line
# break, a percent sign, accents, an emoji, a lone "+" and a number with a space in it
TEXTS = [
    "Hi Dana, Acme HVAC here: want a furnace check this week? Reply STOP to opt out.",
    "20% off + free filter & no trip fee!\tBook: https://acme.test/b?x=1&y=2#top ~ok_",
    'Hi José, still there? 😀\r\nO\'Brien said "yes" (maybe) [soon] {later} |pipe| ^ ` \\',
    "+15558675310",
    "+1 555 867 5310",
    "",
]


@pytest.mark.parametrize("text", TEXTS)
def test_form_quote_is_quote_plus(text: str) -> None:
    assert form_quote(text) == quote_plus(text)


def test_form_quote_is_quote_plus_for_every_ascii_character() -> None:
    for code in range(128):
        assert form_quote(chr(code)) == quote_plus(chr(code)), code
        assert form_quote(f"a{chr(code)} b") == quote_plus(f"a{chr(code)} b"), code


def test_a_lone_surrogate_fails_as_quote_plus_fails() -> None:
    with pytest.raises(UnicodeEncodeError):
        quote_plus("\ud800")
    with pytest.raises(UnicodeEncodeError):
        form_quote("\ud800")


def answer(body: bytes) -> httpx.Response:
    return httpx.Response(201, content=body, headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    "body",
    [
        b'{"sid": "SM1", "status": "queued", "price": null, "num_segments": "1"}',
        b'{"body": "Hi Jos\\u00e9 \\ud83d\\ude00", "a": [1, 2.5, -3e-7, true, false]}',
        b'{"dup": 1, "dup": 2}',  # a repeated key: the last wins in both
        b'{"n": NaN, "inf": Infinity}',  # orjson refuses: the stdlib reads it
        b'{"big": 123456789012345678901234567890}',  # past 64 bits: the stdlib reads it
        b'{"huge": 1e400, "neg": [-12345678901234567890]}',  # inf; past 64 bits, negative
        b'\xef\xbb\xbf{"bom": true}',  # a BOM: the stdlib's detect_encoding reads it
        '{"utf16": "yes"}'.encode("utf-16"),
    ],
    ids=["twilio", "unicode", "duplicate key", "nan", "big int", "huge", "bom", "utf-16"],
)
def test_a_2xx_body_decodes_as_response_json_does(body: bytes) -> None:
    response = answer(body)
    assert decoded(response, "twilio", classify_twilio, NOW) == answer(body).json()


def test_a_2xx_body_that_is_not_json_is_still_a_provider_error() -> None:
    with pytest.raises(ProviderError, match="non-JSON body"):
        decoded(answer(b"<html>ok</html>"), "twilio", classify_twilio, NOW)
