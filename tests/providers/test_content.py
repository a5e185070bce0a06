"""Email content rules: one-click unsubscribe headers, text part, postal address footer."""

from __future__ import annotations

import pytest

from app.providers.content import (
    Business,
    EmailContentError,
    check_unsubscribe_url,
    html_to_text,
    prepare_email,
)
from app.providers.ports import EmailMessage

BUSINESS = Business("Acme HVAC & Air", "1 Elm St, Dayton, OH 45402")


def message(**overrides: object) -> EmailMessage:
    values: dict[str, object] = {
        "outbox_id": 1,
        "idempotency_key": "k1",
        "to": "dana@example.org",
        "subject": "Hello",
        "html": "<html><body><h1>Hi</h1><p>Fall tune-up &amp; check</p></body></html>",
        "unsubscribe_url": "https://acme.example/u/tok",
    }
    return EmailMessage(**{**values, **overrides})  # type: ignore[arg-type]


def test_marketing_email_gets_one_click_headers_and_footer_in_both_parts() -> None:
    prepared = prepare_email(message(), BUSINESS)
    assert prepared.headers == {
        "List-Unsubscribe": "<https://acme.example/u/tok>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert "Acme HVAC &amp; Air · 1 Elm St, Dayton, OH 45402" in prepared.html
    assert prepared.html.index("1 Elm St") < prepared.html.index("</body>")
    assert prepared.text.startswith("Hi\n\nFall tune-up & check")
    assert prepared.text.endswith(
        "Acme HVAC & Air, 1 Elm St, Dayton, OH 45402\nUnsubscribe: https://acme.example/u/tok"
    )


def test_a_given_text_part_is_kept() -> None:
    prepared = prepare_email(message(text="Plain words."), BUSINESS)
    assert prepared.text.startswith("Plain words.\n\n--\n")


@pytest.mark.parametrize(
    "url", [None, "", "http://acme.example/u/tok", "mailto:unsub@acme.example", "https:///u"]
)
def test_marketing_email_needs_an_https_unsubscribe_url(url: str | None) -> None:
    with pytest.raises(EmailContentError):
        prepare_email(message(unsubscribe_url=url), BUSINESS)


def test_loopback_http_is_allowed_for_local_development() -> None:
    assert check_unsubscribe_url("http://127.0.0.1:8000/u/t") == "http://127.0.0.1:8000/u/t"


def test_transactional_email_needs_no_unsubscribe_but_gets_a_text_part() -> None:
    prepared = prepare_email(message(kind="transactional", unsubscribe_url=None), BUSINESS)
    assert prepared.headers == {} and prepared.text == "Hi\n\nFall tune-up & check"
    assert "1 Elm St" not in prepared.html


def test_html_to_text_drops_styles_and_scripts() -> None:
    html = "<style>p{color:red}</style><p>One<br>Two</p><script>x()</script>"
    assert html_to_text(html) == "One\nTwo"
