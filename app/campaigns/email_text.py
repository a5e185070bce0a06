"""What a person wrote in an email reply: the new text without the quoted history, and
whether the email is an automatic answer (out-of-office, vacation, bounce) rather than one.

Contract:
- `reply_text(text, html)`: the part above the quoted history (`On … wrote:` in English,
  Spanish, French, German; Outlook's `-----Original Message-----` and `From:/Sent:` block;
  `>` lines; a `-- ` signature; "Sent from my …"); from `html` (tags removed, Gmail's and
  Outlook's quote containers cut) when there is no plain-text part;
- `auto_reply_reason(headers, subject, sender)`: why this is an automatic answer, or None.
  RFC 3834 `Auto-Submitted` (anything but `no`), `X-Autoreply`/`X-Autorespond`/
  `X-Autoresponder`, `Precedence: auto_reply | bulk | junk | list`, Microsoft's
  `X-MS-Exchange-Inbox-Rules-Loop`, a mailer-daemon/postmaster sender, or a typical
  out-of-office subject ("Automatic reply:", "Out of office", "Abwesenheitsnotiz", …).
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Mapping
from typing import Any

_QUOTE_HEADER = re.compile(
    r"^\s*(on\b.{0,200}\bwrote:|el\b.{0,200}\bescribi[oó]:|le\b.{0,200}\ba [ée]crit\s*:"
    r"|am\b.{0,200}\bschrieb\b.{0,100}:|-{2,}\s*original message\s*-{2,}"
    r"|-{2,}\s*forwarded message\s*-{2,}|_{10,}\s*$)",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"^\s*\*?(from|de|von)\s*:\*?\s", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(sent|date|to|subject|enviado|fecha|gesendet)\s*:", re.I)
_SIGNATURE = re.compile(
    r"^(-- ?|sent from my \w+.*|enviado desde mi \w+.*|get outlook for .*)$", re.I
)
_HTML_CUT = re.compile(
    r"<(div|blockquote)[^>]*(gmail_quote|divRplyFwdMsg|appendonsend|yahoo_quoted|type=\"?cite)"
    r"|<blockquote",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]+>")
_BLOCK_END = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h\d)\b[^>]*>", re.IGNORECASE)
_INVISIBLE = re.compile(r"<(style|script|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)

_AUTO_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|out of (the )?office"
    r"|ooo\b|away from (the )?office|on vacation|vacation (reply|response)|abwesenheitsnotiz"
    r"|r[ée]ponse automatique|respuesta autom[aá]tica|fuera de la oficina"
    r"|undeliverable|delivery status notification|mail delivery failed)",
    re.IGNORECASE,
)
_BULK_PRECEDENCE = {"auto_reply", "bulk", "junk", "list"}
_AUTO_FLAGS = ("x-autoreply", "x-autorespond", "x-autoresponder")
_DAEMONS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|donotreply)@", re.IGNORECASE)


def html_to_text(html: str) -> str:
    """The visible text of an HTML reply above its quote container."""
    cut = _HTML_CUT.search(html)
    body = html[: cut.start()] if cut else html
    body = _INVISIBLE.sub("", body)
    body = _BLOCK_END.sub("\n", body)
    return html_lib.unescape(_TAG.sub("", body))


def strip_quoted(text: str) -> str:
    """The lines above the quoted history and signature, trimmed."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _SIGNATURE.match(line.strip()) or _QUOTE_HEADER.match(line):
            break
        if _OUTLOOK_FROM.match(line) and any(_OUTLOOK_NEXT.match(n) for n in lines[i + 1 : i + 4]):
            break
        joined = f"{line} {lines[i + 1]}" if i + 1 < len(lines) else line
        if line.strip().lower().startswith(("on ", "el ", "le ", "am ")) and _QUOTE_HEADER.match(
            joined
        ):  # Gmail wraps a long "On … <address> wrote:" over two lines
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


def reply_text(text: str | None, html: str | None) -> str:
    """What the person wrote: the plain-text part, else the HTML part, quotes removed."""
    if text and text.strip():
        return strip_quoted(text)
    if html and html.strip():
        return strip_quoted(html_to_text(html))
    return ""


def header(headers: Mapping[str, Any], name: str) -> str | None:
    """A header's value, by case-insensitive name (a list: its first item)."""
    for key, value in headers.items():
        if key.lower() == name:
            if isinstance(value, list):
                value = value[0] if value else None
            return str(value) if value is not None else None
    return None


def auto_reply_reason(headers: Mapping[str, Any], subject: str | None, sender: str) -> str | None:
    """Why the email is an automatic answer, or None when a person wrote it."""
    submitted = (header(headers, "auto-submitted") or "").strip().lower()
    if submitted and submitted != "no":
        return f"Auto-Submitted: {submitted}"
    for flag in _AUTO_FLAGS:
        if header(headers, flag) is not None:
            return f"{flag} header"
    precedence = (header(headers, "precedence") or "").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    if header(headers, "x-ms-exchange-inbox-rules-loop") is not None:
        return "Exchange inbox rule"
    if _DAEMONS.match(sender):
        return "sent by a mail system"
    if subject and _AUTO_SUBJECT.match(subject):
        return f"out-of-office subject: {subject[:80]}"
    return None
