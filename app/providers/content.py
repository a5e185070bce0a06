"""Email content rules, enforced for every email in the adapter layer (not per campaign).

Contract for `prepare_email`:
- every email gets a text part beside the html (derived from the html when absent);
- marketing email needs an unsubscribe URL, which must be https (plain http is accepted only
  for a loopback host, i.e. local development): it becomes `List-Unsubscribe: <url>` plus
  `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058 one-click), and the footer of
  both parts carries the business name, its postal address (CAN-SPAM) and the link;
- a violation raises `EmailContentError` (permanent: nothing is sent).
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.providers.errors import PermanentProviderError
from app.providers.ports import EmailMessage

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_TAG = re.compile(r"<[^>]+>")
_BLOCK = re.compile(r"</?(p|div|br|tr|h[1-6]|li)\b[^>]*>", re.IGNORECASE)
_DROP = re.compile(r"<(style|script|head)\b.*?</\1>", re.IGNORECASE | re.DOTALL)


class EmailContentError(PermanentProviderError):
    """The email breaks a content rule; fix the template or the data."""

    def __init__(self, message: str) -> None:
        super().__init__("email", message, code="content_rules")


@dataclass(frozen=True)
class Business:
    name: str
    postal_address: str


@dataclass(frozen=True)
class PreparedEmail:
    html: str
    text: str
    headers: dict[str, str]


def html_to_text(html: str) -> str:
    """A plain-text rendering of simple email html (tags dropped, blocks on new lines)."""
    text = _BLOCK.sub("\n", _DROP.sub("", html))
    text = html_lib.unescape(_TAG.sub("", text))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def check_unsubscribe_url(url: str | None) -> str:
    """The URL itself when it is a usable List-Unsubscribe target, else EmailContentError."""
    if not url:
        raise EmailContentError("marketing email needs an unsubscribe URL")
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.netloc:
        return url
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return url  # local development only
    raise EmailContentError("List-Unsubscribe must be an https URL")


def _footer(business: Business, unsubscribe_url: str) -> tuple[str, str]:
    name = html_lib.escape(business.name)
    address = html_lib.escape(business.postal_address)
    link = html_lib.escape(unsubscribe_url, quote=True)
    html = (
        '<p style="font-size:12px;color:#666">'
        f'{name} · {address} · <a href="{link}">Unsubscribe</a></p>'
    )
    text = f"--\n{business.name}, {business.postal_address}\nUnsubscribe: {unsubscribe_url}"
    return html, text


def prepare_email(message: EmailMessage, business: Business) -> PreparedEmail:
    """Apply the content rules above to one message."""
    text = message.text if message.text else html_to_text(message.html)
    if message.kind != "marketing":
        return PreparedEmail(html=message.html, text=text, headers={})
    url = check_unsubscribe_url(message.unsubscribe_url)
    footer_html, footer_text = _footer(business, url)
    if "</body>" in message.html:
        html = message.html.replace("</body>", footer_html + "</body>", 1)
    else:
        html = message.html + footer_html
    headers = {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return PreparedEmail(html=html, text=f"{text}\n\n{footer_text}", headers=headers)
