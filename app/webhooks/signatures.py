"""Pure signature checks for the three webhook providers (no I/O, no settings).

Contract: each function returns True only when the request provably comes from the
provider; every comparison is constant-time (`hmac.compare_digest`); a missing header,
a malformed value or an unset secret is simply False, never an exception.

- Twilio `X-Twilio-Signature`: base64(HMAC-SHA1(auth token, url + sorted name+value
  pairs)); for a JSON body Twilio adds `bodySHA256=<hex>` to the query and signs the URL
  alone (twilio-python `RequestValidator.validate`). Like the SDK, the URL is also tried
  with the default port added or removed.
- Resend (Svix): `v1,` + base64(HMAC-SHA256(base64decode(secret minus `whsec_`),
  `svix-id.svix-timestamp.body`)); any `v1` entry of the space-separated header may match;
  |now - timestamp| <= 300 s, boundary inclusive (svix, standardwebhooks).
- Vapi: `x-vapi-secret: <secret>` or `Authorization: Bearer <secret>`; or, when the HMAC
  secret is set, `x-signature` = hex(HMAC-SHA256(secret, `{x-timestamp}.{raw body}`)) with
  the timestamp in seconds or milliseconds (unit undocumented) within 300 s.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit, urlunsplit

SVIX_TOLERANCE_SECONDS = 300
VAPI_HMAC_TOLERANCE_SECONDS = 300


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# ------------------------------------------------------------------------------------------
# Twilio
# ------------------------------------------------------------------------------------------
def twilio_signature(auth_token: str, url: str, pairs: Iterable[tuple[str, str]] = ()) -> str:
    """The signature Twilio computes: params sorted by name, then by value (duplicates)."""
    data = url + "".join(name + value for name, value in sorted(pairs))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _port_variants(url: str) -> list[str]:
    """The URL as given, plus with the scheme's default port added or removed."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    if default is None or not parts.hostname:
        return [url]
    host = parts.hostname
    with_port = f"{host}:{default}"
    if parts.port is None:
        other = urlunsplit(parts._replace(netloc=_netloc(parts.netloc, host, with_port)))
    elif parts.port == default:
        other = urlunsplit(parts._replace(netloc=_netloc(parts.netloc, f"{host}:{default}", host)))
    else:
        return [url]
    return [url, other]


def _netloc(netloc: str, old: str, new: str) -> str:
    userinfo, _, hostport = netloc.rpartition("@")
    hostport = new if hostport.lower() == old.lower() else hostport
    return f"{userinfo}@{hostport}" if userinfo else hostport


def verify_twilio_pairs(
    auth_token: str, url: str, pairs: Iterable[tuple[str, str]], signature: str
) -> bool:
    """Form-encoded variant over a list of pairs (keeps repeated names, e.g. MediaUrl)."""
    if not auth_token or not signature:
        return False
    items = list(pairs)
    return any(
        _equal(twilio_signature(auth_token, u, items), signature) for u in _port_variants(url)
    )


def _verify_twilio_json(auth_token: str, url: str, body: str, signature: str) -> bool:
    expected = parse_qs(urlsplit(url).query).get("bodySHA256", [""])[0]
    actual = hashlib.sha256(body.encode()).hexdigest()
    if not expected or not _equal(actual, expected.lower()):
        return False
    return verify_twilio_pairs(auth_token, url, (), signature)


def verify_twilio_signature(
    auth_token: str, url: str, params: Mapping[str, str] | str, signature: str
) -> bool:
    """Twilio's `X-Twilio-Signature` over the public URL and the form params; a `str` is
    the raw JSON body (the URL must then carry `bodySHA256`)."""
    if isinstance(params, str):
        return bool(auth_token and signature) and _verify_twilio_json(
            auth_token, url, params, signature
        )
    return verify_twilio_pairs(auth_token, url, params.items(), signature)


# ------------------------------------------------------------------------------------------
# Resend (Svix)
# ------------------------------------------------------------------------------------------
def _svix_key(secret: str) -> bytes | None:
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return None


def svix_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` as Svix signs it (used by tests to sign their own bodies)."""
    key = _svix_key(secret) or b""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify_svix_signature(
    secret: str, headers: Mapping[str, str], body: bytes, now: datetime | None = None
) -> bool:
    """Svix headers (`svix-id`, `svix-timestamp`, `svix-signature`), 300 s tolerance."""
    h = _lower(headers)
    msg_id, stamp, header = h.get("svix-id"), h.get("svix-timestamp"), h.get("svix-signature")
    if not (secret and msg_id and stamp and header) or _svix_key(secret) is None:
        return False
    try:
        sent = int(stamp)
    except ValueError:
        return False
    now = now or datetime.now(UTC)
    if abs(now.timestamp() - sent) > SVIX_TOLERANCE_SECONDS:
        return False
    expected = svix_signature(secret, msg_id, stamp, body)
    candidates = [part for part in header.split(" ") if part.startswith("v1,")]
    return any(_equal(candidate, expected) for candidate in candidates)


# ------------------------------------------------------------------------------------------
# Vapi
# ------------------------------------------------------------------------------------------
def vapi_hmac_signature(secret: str, timestamp: str, body: bytes) -> str:
    """hex(HMAC-SHA256(secret, `{timestamp}.{body}`)): Vapi's HMAC credential defaults."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _timestamp_fresh(stamp: str, now: datetime) -> bool:
    try:
        value = float(stamp)
    except ValueError:
        return False
    seconds = value / 1000 if value > 1e11 else value  # milliseconds or seconds
    return abs(now.timestamp() - seconds) <= VAPI_HMAC_TOLERANCE_SECONDS


def _vapi_hmac_ok(h: dict[str, str], body: bytes, secret: str, now: datetime) -> bool:
    signature, stamp = h.get("x-signature", ""), h.get("x-timestamp", "")
    if not (signature and stamp) or not _timestamp_fresh(stamp, now):
        return False
    expected = vapi_hmac_signature(secret, stamp, body)
    return _equal(signature.strip().lower().removeprefix("sha256="), expected)


def _vapi_secret_ok(h: dict[str, str], secret: str) -> bool:
    given = h.get("x-vapi-secret")
    if given is not None and _equal(given, secret):
        return True
    scheme, _, token = h.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and _equal(token.strip(), secret)


def verify_vapi_request(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: str | None,
    hmac_secret: str | None,
    now: datetime | None = None,
) -> bool:
    """The configured Vapi credential: the shared secret (`x-vapi-secret` or Bearer) or,
    when `hmac_secret` is set, the HMAC signature. Nothing configured → False."""
    h = _lower(headers)
    if secret and _vapi_secret_ok(h, secret):
        return True
    if hmac_secret:
        return _vapi_hmac_ok(h, body, hmac_secret, now or datetime.now(UTC))
    return False
