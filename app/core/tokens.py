"""Signed link tokens for click tracking (`/r/<token>`) and one-click unsubscribe
(`/u/<token>`). The campaigns engineer builds links with `click_url` / `unsubscribe_url`.

Contract:
- a token is `<base64url(compact JSON)>.<base64url(HMAC-SHA256(secret, kind + payload))[:22]>`;
  `kind` ("r" or "u") is part of the MAC, so a click token never unsubscribes anybody;
- `read_*` returns None for anything not minted with the same secret (tampered, truncated,
  another kind): the routes answer 404, so a redirect target is only ever a URL that this
  server sealed into a token when it built the message (no open redirect);
- the secret is `LINK_SIGNING_SECRET`; when unset it is derived from the database
  credential (see `link_secret`), so tokens survive restarts. Rotating it breaks old links;
- a click token names the message it was sent in (A/B attribution, `variant_stats`): its
  outbox id when known, else its outbox key (`message_key`, the row's idempotency key,
  e.g. `drip:<enrollment>:<position>`): a message's links are rendered before its row is
  written, so the key is what the drip can seal; the click route resolves it to the row.
  Tokens minted before the key existed carry neither and still redirect.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit

from app.core.settings import Settings

Kind = Literal["r", "u"]
_MAC_CHARS = 22  # 132 bits of HMAC-SHA256, base64url
_DEV_SECRET = b"nightshift-development-link-secret"


@dataclass(frozen=True)
class ClickToken:
    url: str
    lead_id: int | None = None
    message_id: int | None = None
    campaign_id: int | None = None
    message_key: str | None = None


@dataclass(frozen=True)
class UnsubscribeToken:
    email: str
    lead_id: int | None = None
    campaign_id: int | None = None


def link_secret(settings: Settings) -> bytes:
    """LINK_SIGNING_SECRET, else a key derived from the database credential, else (embedded
    development database only) a fixed development key."""
    if settings.link_signing_secret is not None:
        return settings.link_signing_secret.get_secret_value().encode()
    for source in (settings.database_url, settings.supabase_service_role_key):
        if source is not None and source.get_secret_value():
            return _derived(source.get_secret_value().encode())
    return _DEV_SECRET


@lru_cache(maxsize=4)
def _derived(material: bytes) -> bytes:
    """Derived once per credential: the drip asks for the key once per text."""
    return hmac.new(material, b"nightshift link tokens v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, kind: Kind, payload: str) -> str:
    return _b64(hmac.new(secret, f"{kind}.{payload}".encode(), hashlib.sha256).digest())[
        :_MAC_CHARS
    ]


def sign(secret: bytes, kind: Kind, data: dict[str, Any]) -> str:
    """A token carrying `data` (None values dropped)."""
    compact = {k: v for k, v in data.items() if v is not None}
    payload = _b64(json.dumps(compact, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_mac(secret, kind, payload)}"


def unsign(secret: bytes, kind: Kind, token: str) -> dict[str, Any] | None:
    """The data of a genuine token of this kind, else None."""
    payload, _, mac = token.partition(".")
    if not payload or len(mac) != _MAC_CHARS:
        return None
    if not hmac.compare_digest(mac.encode(), _mac(secret, kind, payload).encode()):
        return None
    try:
        data = json.loads(_unb64(payload))
    except (binascii.Error, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def click_token(secret: bytes, link: ClickToken) -> str:
    if urlsplit(link.url).scheme not in ("http", "https"):
        raise ValueError("only http(s) links can be tracked")
    data = {"u": link.url, "l": link.lead_id, "m": link.message_id, "c": link.campaign_id,
            "k": link.message_key}  # fmt: skip
    return sign(secret, "r", data)


def read_click_token(secret: bytes, token: str) -> ClickToken | None:
    data = unsign(secret, "r", token)
    url = data.get("u") if data else None
    if not data or not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        return None
    key = data.get("k")
    return ClickToken(url, _int(data.get("l")), _int(data.get("m")), _int(data.get("c")),
                      key if isinstance(key, str) else None)  # fmt: skip


def unsubscribe_token(secret: bytes, target: UnsubscribeToken) -> str:
    data = {"e": target.email.lower(), "l": target.lead_id, "c": target.campaign_id}
    return sign(secret, "u", data)


def read_unsubscribe_token(secret: bytes, token: str) -> UnsubscribeToken | None:
    data = unsign(secret, "u", token)
    email = data.get("e") if data else None
    if not data or not isinstance(email, str) or "@" not in email:
        return None
    return UnsubscribeToken(email, _int(data.get("l")), _int(data.get("c")))


def click_url(settings: Settings, link: ClickToken) -> str:
    """`PUBLIC_BASE_URL/r/<token>` for a link in a message."""
    return f"{settings.public_base_url}/r/{click_token(link_secret(settings), link)}"


def unsubscribe_url(settings: Settings, target: UnsubscribeToken) -> str:
    """`PUBLIC_BASE_URL/u/<token>`: for `List-Unsubscribe` and the footer link."""
    return f"{settings.public_base_url}/u/{unsubscribe_token(link_secret(settings), target)}"


# --- Reply-To addresses (inbound email replies, issue 16) ---------------------------------
# `reply+<lead>-<enrollment>-<position>-<mac>@<RESEND_INBOUND_DOMAIN>`: digits and lowercase
# hex only, because a sender's mail server may change the case of an address; 80 bits of
# HMAC-SHA256 so nobody can write as a lead by guessing one.
_REPLY_MAC_HEX = 20
_REPLY_RE = re.compile(r"reply\+(\d{1,18})-(\d{1,18})-(\d{1,4})-([0-9a-f]{20})@", re.IGNORECASE)


@dataclass(frozen=True)
class ReplyToken:
    """The drip message a reply answers: its lead, enrollment and step position (the
    outbox key `drip:<enrollment>:<position>`)."""

    lead_id: int
    enrollment_id: int
    position: int


def _reply_mac(secret: bytes, token: ReplyToken) -> str:
    text = f"e.{token.lead_id}-{token.enrollment_id}-{token.position}"
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()[:_REPLY_MAC_HEX]


def reply_local_part(secret: bytes, token: ReplyToken) -> str:
    ids = f"{token.lead_id}-{token.enrollment_id}-{token.position}"
    return f"reply+{ids}-{_reply_mac(secret, token)}"


def read_reply_address(secret: bytes, address: str) -> ReplyToken | None:
    """The token of a genuine reply address (any case, display name allowed), else None."""
    match = _REPLY_RE.search(address)
    if match is None:
        return None
    token = ReplyToken(int(match[1]), int(match[2]), int(match[3]))
    if not hmac.compare_digest(match[4].lower(), _reply_mac(secret, token)):
        return None
    return token


def reply_address(settings: Settings, token: ReplyToken) -> str | None:
    """`reply+<token>@RESEND_INBOUND_DOMAIN` for a marketing email's Reply-To, or None when
    no receiving domain is configured (the email then has no Reply-To)."""
    domain = (settings.resend_inbound_domain or "").strip().lower()
    if not domain:
        return None
    return f"{reply_local_part(link_secret(settings), token)}@{domain}"
