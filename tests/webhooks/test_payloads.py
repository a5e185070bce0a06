"""`load_json`: what Postgres would refuse is replaced (and the original kept), what is too
deep is refused with a reason, everything else reads as before."""

from __future__ import annotations

import base64

import pytest

from app.webhooks.payloads import MAX_JSON_DEPTH, RAW_BODY_KEY, PayloadError, load_json


def test_an_ordinary_body_is_returned_untouched() -> None:
    body = b'{"message": {"type": "end-of-call-report", "summary": "Booked \\ud83d\\ude00"}}'
    assert load_json(body) == {"message": {"type": "end-of-call-report", "summary": "Booked 😀"}}


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b'{"t": "cut \\ud83d"}', "cut \ufffd"),  # a lone high surrogate (half an emoji)
        (b'{"t": "\\ude00 tail"}', "\ufffd tail"),  # a lone low surrogate
        (b'{"t": "a\\u0000b"}', "a\ufffdb"),  # an escaped NUL
        (b'{"t": "a\x00b"}', "a\ufffdb"),  # a raw NUL byte inside the string
        (b'{"t": "caf\xe9"}', "caf\ufffd"),  # Latin-1, not UTF-8
    ],
)
def test_what_postgres_refuses_becomes_fffd_and_the_original_is_kept(
    body: bytes, text: str
) -> None:
    data = load_json(body)
    assert data["t"] == text
    assert base64.b64decode(data[RAW_BODY_KEY]) == body


def test_keys_and_huge_integers_are_made_storable_too() -> None:
    data = load_json(b'{"k\\u0000": 1, "n": 123456789012345678901234567890, "s": "\\ud800"}')
    assert data["k\ufffd"] == 1 and data["n"] == "123456789012345678901234567890"


def test_depth_up_to_the_limit_reads_and_beyond_is_refused() -> None:
    ok = b'{"a":' * (MAX_JSON_DEPTH - 1) + b"[1]" + b"}" * (MAX_JSON_DEPTH - 1)
    assert load_json(ok) is not None
    for deep in (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
                 b"[" * 100_000 + b"]" * 100_000,  # beyond orjson's limit: the stdlib path
                 b'{"a": "\\ud800", "b": ' + b"[" * 5000 + b"]" * 5000 + b"}"):  # fmt: skip
        with pytest.raises(PayloadError, match=f"deeper than {MAX_JSON_DEPTH} levels"):
            load_json(deep)


def test_many_brackets_inside_strings_are_not_depth() -> None:
    body = b'{"t": "' + b"[{" * 500 + b'"}'
    assert load_json(body)["t"].startswith("[{[{")


def test_the_deepest_branch_counts_wherever_it_sits_among_wide_siblings() -> None:
    """Depth is the deepest branch's, not the first or last one's: a wide report (many
    messages) whose one nested branch, anywhere, goes a level too far is refused."""

    def nest(levels: int) -> str:
        return '{"a":' * (levels - 1) + "[1]" + "}" * (levels - 1)

    siblings = [nest(3)] * 40
    for at in (0, 20, 39):
        ok = [*siblings[:at], nest(MAX_JSON_DEPTH - 1), *siblings[at + 1 :]]
        assert load_json(("[" + ",".join(ok) + "]").encode()) is not None
        deep = [*siblings[:at], nest(MAX_JSON_DEPTH), *siblings[at + 1 :]]
        with pytest.raises(PayloadError, match=f"deeper than {MAX_JSON_DEPTH} levels"):
            load_json(("[" + ",".join(deep) + "]").encode())
