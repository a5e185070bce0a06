"""Pure signature checks for the three webhook providers (no I/O, no settings).

Contract: each `verify_*` returns True only when the request provably comes from the
provider; a missing header, a malformed value or an unset secret is simply False, never an
exception. Signatures are compared in constant time (for equal lengths: a length is no
secret).

- Twilio `X-Twilio-Signature`: the `twilio` SDK's `RequestValidator` decides (validate()'s
  rule from its parts: the URL as it came first, its other port form only when that fails):
  base64(HMAC-SHA1(auth token, url + name+value pairs sorted by name, then value)); for a
  JSON body Twilio adds `bodySHA256=<hex>` to the query and signs the URL alone. The URL is
  also tried with its port added (the scheme's default) or removed.
- Resend (Svix): `standardwebhooks.Webhook.sign` (the class `svix.webhooks.Webhook` wraps)
  computes `v1,` + base64(HMAC-SHA256(base64decode(secret minus `whsec_`),
  `svix-id.svix-timestamp.body`)); any entry of the space-separated `svix-signature` header
  may match, label included; `svix-timestamp` is plain decimal digits and |now - timestamp|
  <= 300 s, boundary inclusive, on the injected clock. The SDK decodes the secret (unpadded
  base64 too); one that decodes to no key is False.
- Vapi: `x-vapi-secret: <secret>` or `Authorization: Bearer <secret>`; or, when the HMAC
  secret is set, `x-signature` = hex(HMAC-SHA256(secret, `{x-timestamp}.{raw body}`)) with
  the timestamp in seconds or milliseconds (unit undocumented) within 300 s. Vapi ships no
  verifier, so this one is ours (`app.core.signing`).

The SDKs are imported inside the functions: the web function's cold start does not pay for
them (bench/cold_start.py), only the first request of each provider does (~15 ms Twilio,
~10 ms standardwebhooks).

Where the SDK's rule differs from the hand-written check this module replaced, the SDK's
holds for Twilio: identical repeated name=value pairs count once, any port (not only the
default one) is also tried removed, and `bodySHA256` must be lower-case hex as Twilio sends
it. For Svix, `resend.Webhooks.verify` is not used: it reads the real clock (so a frozen or
injected clock cannot be honoured), accepts any label before the comma (`v1a,<sig>`), and
fails a body that is not JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse, urlsplit

from app.core.signing import constant_time_equal, hmac_sha256_hex

if TYPE_CHECKING:
    from standardwebhooks.webhooks import Webhook

SVIX_TOLERANCE_SECONDS = 300
VAPI_HMAC_TOLERANCE_SECONDS = 300


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


# ------------------------------------------------------------------------------------------
# Twilio
# ------------------------------------------------------------------------------------------
class _MultiParams(dict[str, list[str]]):
    """Form params with repeated names, in the shape the SDK reads: `getall(name)` (the
    Flask/multidict API; a plain dict would keep one value per name)."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def _multi(pairs: Iterable[tuple[str, str]]) -> _MultiParams:
    params = _MultiParams()
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    return params


def _twilio_validate(auth_token: str, url: str, params: Any, signature: str) -> bool:
    """The SDK's `RequestValidator.validate(url, params, signature)`, decided by the SDK's own
    parts. For form params it is validate()'s rule — the signature of the URL without its
    port or the one with it (the scheme's default added when it has none) — but the URL in
    the form it came in is signed first and the other form only when that does not match
    (validate() computes both, every time: a status callback paid two HMACs and two URL
    rebuilds; bench/webhook_post_cpu.py). A JSON body (`str`: the bodySHA256 variant) goes to
    validate() itself."""
    from twilio.request_validator import RequestValidator, add_port, compare, remove_port

    try:
        validator = RequestValidator(auth_token)
        if isinstance(params, str):
            return validator.validate(url, params, signature) is True
        parsed = urlparse(url)
        forms = (add_port, remove_port) if parsed.port else (remove_port, add_port)
        return any(
            compare(validator.compute_signature(form(parsed), params), signature) for form in forms
        )
    except ValueError:
        # urllib refuses the URL (a non-numeric port, a broken IPv6 host) or the text holds
        # a lone surrogate UTF-8 cannot encode: not a request Twilio signed.
        return False


def twilio_signature(auth_token: str, url: str, pairs: Iterable[tuple[str, str]] = ()) -> str:
    """The signature Twilio computes for `url` and the form `pairs` (the SDK's
    `compute_signature`; tests use it to sign their own requests)."""
    from twilio.request_validator import RequestValidator

    return str(RequestValidator(auth_token).compute_signature(url, _multi(pairs)))


def verify_twilio_pairs(
    auth_token: str, url: str, pairs: Iterable[tuple[str, str]], signature: str
) -> bool:
    """Form-encoded variant over a list of pairs (keeps repeated names, e.g. MediaUrl)."""
    if not auth_token or not signature:
        return False
    return _twilio_validate(auth_token, url, _multi(pairs), signature)


def verify_twilio_signature(
    auth_token: str, url: str, params: Mapping[str, str] | str, signature: str
) -> bool:
    """Twilio's `X-Twilio-Signature` over the public URL and the form params; a `str` is
    the raw JSON body (the URL must then carry `bodySHA256`, the hex SHA-256 of that body)."""
    if not auth_token or not signature:
        return False
    if isinstance(params, str):
        try:
            signed_body = "bodySHA256" in parse_qs(urlsplit(url).query)
        except ValueError:
            return False
        # Without bodySHA256 the SDK would read the string as form params and raise.
        return signed_body and _twilio_validate(auth_token, url, params, signature)
    return _twilio_validate(auth_token, url, dict(params), signature)


# ------------------------------------------------------------------------------------------
# Resend (Svix)
# ------------------------------------------------------------------------------------------
def _svix_webhook(secret: str) -> Webhook | None:
    """The SDK's signer for `secret`, or None when the secret decodes to no key."""
    from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

    try:
        return Webhook(secret)
    except (EmptyWebhookSecretError, ValueError):  # binascii.Error is a ValueError
        return None


def _at(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def svix_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` as Svix signs it (tests use it to sign their own bodies);
    ValueError for a secret that holds no key or a timestamp that is not an integer."""
    webhook = _svix_webhook(secret)
    if webhook is None:
        raise ValueError("not a Svix signing secret")
    return webhook.sign(msg_id, _at(int(timestamp)), body)


def verify_svix_signature(
    secret: str, headers: Mapping[str, str], body: bytes, now: datetime | None = None
) -> bool:
    """Svix headers (`svix-id`, `svix-timestamp`, `svix-signature`, any case) on the raw
    body; the timestamp within 300 s of `now` (default: the real clock)."""
    h = _lower(headers)
    msg_id, stamp, header = h.get("svix-id"), h.get("svix-timestamp"), h.get("svix-signature")
    if not (secret and msg_id and stamp and header):
        return False
    # Plain decimal digits only: the SDK signs the integer it is given, so the header must be
    # that integer's own spelling ("+1614265330" or " 1614265330" were signed as written).
    if not (stamp.isascii() and stamp.isdigit()):
        return False
    moment = now or datetime.now(UTC)
    try:
        sent = int(stamp)
        fresh = abs(moment.timestamp() - sent) <= SVIX_TOLERANCE_SECONDS
    except (ValueError, OverflowError):  # thousands of digits: int() or float() refuses
        return False
    webhook = _svix_webhook(secret) if fresh else None
    if webhook is None:
        return False
    # The SDK's own verify() reads the real clock, so it is its sign() that is used here, and
    # the comparison below is the one verify() makes: whole `v1,<sig>` entries.
    expected = webhook.sign(msg_id, _at(sent), body)
    return any(constant_time_equal(entry, expected) for entry in header.split(" "))


# ------------------------------------------------------------------------------------------
# Vapi
# ------------------------------------------------------------------------------------------
def vapi_hmac_signature(secret: str, timestamp: str, body: bytes) -> str:
    """hex(HMAC-SHA256(secret, `{timestamp}.{body}`)): Vapi's HMAC credential defaults."""
    return hmac_sha256_hex(secret, timestamp.encode() + b"." + body)


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
    return constant_time_equal(signature.strip().lower().removeprefix("sha256="), expected)


def _vapi_secret_ok(h: dict[str, str], secret: str) -> bool:
    given = h.get("x-vapi-secret")
    if given is not None and constant_time_equal(given, secret):
        return True
    scheme, _, token = h.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and constant_time_equal(token.strip(), secret)


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
