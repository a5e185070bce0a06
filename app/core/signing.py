"""The two keyed-hash primitives the hand-written verifiers need (pure, no settings).

Contract:
- `hmac_sha256_hex(key, message)` is hex(HMAC-SHA256(key, message)), a `str` key taken as
  its UTF-8 bytes;
- `constant_time_equal(a, b)` compares two strings in time that does not depend on where
  they differ; strings of different lengths, or with characters UTF-8 cannot encode (a lone
  surrogate from a hostile header), are simply unequal, never an exception.

Twilio and Resend (Svix) webhooks are verified by the providers' own libraries
(`app.webhooks.signatures`); only checks no SDK offers (Vapi's secret and HMAC credential)
use these.
"""

from __future__ import annotations

import hashlib
import hmac


def hmac_sha256_hex(key: str | bytes, message: bytes) -> str:
    """hex(HMAC-SHA256(key, message))."""
    raw = key.encode() if isinstance(key, str) else key
    return hmac.new(raw, message, hashlib.sha256).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    """True when `a == b`, compared in constant time (`hmac.compare_digest`)."""
    try:
        # compare_digest takes str only when ASCII: compare the UTF-8 bytes instead.
        return hmac.compare_digest(a.encode(), b.encode())
    except UnicodeEncodeError:
        return False
