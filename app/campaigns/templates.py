"""Message templates: Jinja2 in a sandbox with strict undefined, tracked links, SMS segments.

Contract:
- a template may use only `lead`, `business`, `booking_url` and `unsubscribe_url`; a
  misspelt or unknown variable fails when the campaign is LOADED (`check_template`), never
  as a blank in a customer's message; a missing lead value renders as an empty string, but
  `lead.first_name` falls back to "there" and a greeting left without its name ("Hi ,")
  is rendered "Hi there,";
- the sandbox refuses attribute tricks (`__class__`, ...); email HTML is autoescaped;
- `rewrite_links` turns every http(s) link of an email into a tracked link;
  `rewrite_text_links` every http(s) URL of a text (trailing punctuation is not part of
  it), returning the distinct URLs in order: a short link names its URL by that index;
  `track_text_links` makes them the short links of one text (`payload.links` keeps the URLs;
  docs/campaigns.md "Tracked links");
- `sms_segments` counts segments as carriers do: GSM-7 (160, or 153 per part) unless any
  character needs UCS-2 (70, or 67 per part); GSM extension characters count twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from app.campaigns.import_values import first_name_of
from app.core.settings import Settings
from app.core.short_links import ShortLink, short_url
from app.core.tokens import link_secret
from app.providers.content import Business

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")
_HREF = re.compile(r"""href=(["'])(https?://[^"']+)\1""", re.IGNORECASE)
_TEXT_URL = re.compile(r"""https?://[^\s<>"']+""", re.IGNORECASE)
_TRAILING = ".,;:!?)]}"  # "Book at https://x.example/book." : the full stop is the sentence's
GREETING_FALLBACK = "there"
# a text's link as the drip sends it (/l/ + a 15-character code) under a typical
# PUBLIC_BASE_URL: what the campaign check counts segments with
SAMPLE_SHORT_LINK = "https://nightshift.example.com/l/0388c0r39nh2n20"
_EMPTY_GREETING = re.compile(r"\b(Hi|Hello|Hey|Dear|Hola)[ \t]+([,!])", re.IGNORECASE)
_BLANK_THEN_PUNCTUATION = (" ,", " !", "\t,", "\t!")  # what _EMPTY_GREETING ends with


class TemplateProblem(ValueError):
    """A template that cannot be used; the message says why."""


def _finalize(value: Any) -> Any:
    return "" if value is None else value


_TEXT = SandboxedEnvironment(undefined=StrictUndefined, finalize=_finalize, autoescape=False)
_HTML = SandboxedEnvironment(undefined=StrictUndefined, finalize=_finalize, autoescape=True)

SAMPLE_LEAD: dict[str, Any] = {
    "id": 1, "name": "Sam Rivera", "first_name": "Sam", "phone": "+15125550100",
    "email": "sam@example.com", "company": "Rivera Dental", "industry": "dental",
    "state": "TX", "timezone": "America/Chicago", "source": "web_form", "attributes": {},
}  # fmt: skip


def lead_variables(lead: Mapping[str, Any]) -> dict[str, Any]:
    """The `lead` variable: the lead's columns plus `first_name` — the import's First Name
    column when it had one, else parsed from the name ("Doe, Jane" → Jane), else "there"
    (a greeting never renders "Hi ,")."""
    values = {key: lead.get(key) for key in SAMPLE_LEAD}
    values["attributes"] = attributes = dict(lead.get("attributes") or {})
    given = attributes.get("first_name")
    first = given.strip() if isinstance(given, str) else first_name_of(lead.get("name"))
    values["first_name"] = first or GREETING_FALLBACK
    return values


def variables(
    lead: Mapping[str, Any], business: Business, booking_url: str, unsubscribe_url: str
) -> dict[str, Any]:
    return {
        "lead": lead_variables(lead),
        "business": {"name": business.name, "postal_address": business.postal_address},
        "booking_url": booking_url,
        "unsubscribe_url": unsubscribe_url,
    }


@lru_cache(maxsize=1024)
def _compiled(source: str, html: bool) -> Template:
    """Compiling costs ~2 ms; a campaign's few templates are compiled once per process."""
    template = (_HTML if html else _TEXT).from_string(source)
    # Jinja keeps a template's globals as a ChainMap over the environment's and copies them
    # into each render's context, a ChainMap walk per name: flattened once (the same names
    # and values; nothing adds globals to these environments), a render costs ~4 µs, not ~8.
    template.globals = dict(template.globals)
    return template


def render(source: str, values: Mapping[str, Any], *, html: bool = False) -> str:
    """Render one template; any template error becomes TemplateProblem."""
    try:
        rendered = _compiled(source, html).render(values)
    except TemplateError as exc:
        raise TemplateProblem(str(exc)) from exc
    # "Hi {{ lead.name }}," with no name on file: greet like a person would. The pattern
    # needs a blank right before the comma or "!": without one it cannot match (most texts),
    # and four substring probes cost a tenth of the regex's scan.
    if not any(pair in rendered for pair in _BLANK_THEN_PUNCTUATION):
        return rendered
    return _EMPTY_GREETING.sub(rf"\1 {GREETING_FALLBACK}\2", rendered)


def check_template(source: str, *, html: bool = False) -> str:
    """Compile and render against a sample lead: unknown variables fail here, at load time.
    Returns the sample rendering (used to count SMS segments)."""
    sample = variables(
        SAMPLE_LEAD, Business("Sample Co", "1 Main St"), "https://b.example", "https://u.example"
    )
    return render(source, sample, html=html)


def rewrite_links(html: str, make_link: Callable[[str], str]) -> str:
    """Replace every http(s) href with `make_link(url)` (the same URL gets the same link)."""
    links: dict[str, str] = {}

    def swap(match: re.Match[str]) -> str:
        url = match[2]
        if url not in links:
            links[url] = make_link(url)
        return f"href={match[1]}{links[url]}{match[1]}"

    return _HREF.sub(swap, html)


def rewrite_text_links(
    text: str, make_link: Callable[[str, int], str], keep: Callable[[str], bool] = lambda _: False
) -> tuple[str, list[str]]:
    """Replace every http(s) URL of a plain text with `make_link(url, index)`, `index` the
    URL's place among the distinct URLs replaced (the same URL gets the same link); URLs
    for which `keep(url)` is true stay as they are. Returns (text, the replaced URLs)."""
    urls: list[str] = []

    def swap(match: re.Match[str]) -> str:
        found = match[0]
        url = found.rstrip(_TRAILING)
        if keep(url):
            return found
        if url not in urls:
            urls.append(url)
        return make_link(url, urls.index(url)) + found[len(url) :]

    return _TEXT_URL.sub(swap, text), urls


def track_text_links(
    text: str, settings: Settings, message: ShortLink, keep: Callable[[str], bool] = lambda _: False
) -> tuple[str, list[str]]:
    """`text` with each URL (but those `keep` leaves) replaced by `message`'s short link of
    that URL's index, and the URLs replaced: the outbox row stores them as `payload.links`."""
    if "://" not in text:  # no http(s) URL can match (most texts): nothing to replace
        return text, []
    secret = link_secret(settings)

    def short(_url: str, index: int) -> str:
        link = ShortLink(message.kind, message.ids, index)
        return short_url(settings.public_base_url, secret, link)

    return rewrite_text_links(text, short, keep)


def sms_segments(text: str) -> tuple[str, int]:
    """(encoding, segment count) for an SMS body."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text):
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        return "GSM-7", 1 if units <= 160 else -(-units // 153)
    units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)  # UTF-16 code units
    return "UCS-2", 1 if units <= 70 else -(-units // 67)
