"""Short tracked links for texts: `PUBLIC_BASE_URL/l/<code>` (issue 17 item 5).

An SMS is paid per segment, so its tracked link must be short: the code carries only which
message and which of its links, and a 32-bit MAC; the target URL is read from the message's
row (`payload.links[i]`, written with the row by the same insert: no round trip per text).

Contract:
- a code is Crockford base32, lower case, of `varint(link << 2 | kind)`, the message's ids
  as varints (drip: enrollment id, step position — the outbox key `drip:<e>:<p>`; rescue:
  the call id — the key `rescue:<lead>:<call>` is found through the call), then
  HMAC-SHA256(secret, "l." + those bytes)[:4]. A drip link is 15 characters, a rescue
  link 13 (ids below 2,097,152);
- `read_short_code` accepts what phones and carriers do to a link: upper case (Crockford is
  case-insensitive; O/I/L read as 0/1/1), trailing punctuation ("…/l/ab3de9x." ) and text
  a carrier appended without a space: the code is self-delimiting, so anything after its
  last character is ignored. Anything else (a changed character, a truncated code, another
  secret) → None: the route answers 404, never a 500;
- the secret is `link_secret` (app.core.tokens): the same key as the email tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Kind = Literal["drip", "rescue"]
_KINDS: tuple[Kind, ...] = ("drip", "rescue")
_IDS = {"drip": 2, "rescue": 1}  # how many ids each kind carries
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford: no i, l, o, u
_VALUE = {ch: i for i, ch in enumerate(_ALPHABET)} | {"i": 1, "l": 1, "o": 0}
_FROM_RFC4648 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET)
_MAC_BYTES = 4
_MAX_VARINT = 9  # bytes: ids are bigints (< 2**63)
_MAX_CHARS = 52  # longer than any code (two 9-byte ids, a 3-byte head, the MAC: 40)


@dataclass(frozen=True)
class ShortLink:
    """Link number `link` of a message: a drip step (`ids` = enrollment id, step position)
    or a rescue text (`ids` = the call id)."""

    kind: Kind
    ids: tuple[int, ...]
    link: int = 0

    @property
    def message_key(self) -> str | None:
        """The outbox key, when the code alone gives it (a drip step)."""
        return f"drip:{self.ids[0]}:{self.ids[1]}" if self.kind == "drip" else None


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(data: bytes, at: int) -> tuple[int, int] | None:
    """(value, next offset), or None when `data` ends first or it is too long."""
    value = 0
    for shift, i in enumerate(range(at, min(len(data), at + _MAX_VARINT))):
        value |= (data[i] & 0x7F) << (7 * shift)
        if not data[i] & 0x80:
            return value, i + 1
    return None


@lru_cache(maxsize=8)
def _keyed(secret: bytes) -> hmac.HMAC:
    """The HMAC state after the key and the "l." prefix: copied per code (the drip mints one
    per text; keying afresh each time was a third of the cost)."""
    return hmac.new(secret, b"l.", hashlib.sha256)


def _mac(secret: bytes, body: bytes) -> bytes:
    state = _keyed(secret).copy()
    state.update(body)
    return state.digest()[:_MAC_BYTES]


def _encode(data: bytes) -> str:
    """Crockford base32 of `data`, lower case, unpadded (RFC 4648's bit order)."""
    return base64.b32encode(data).decode().rstrip("=").translate(_FROM_RFC4648)


def _decode_prefix(code: str) -> bytes:
    """The whole bytes of the leading base32 characters (a stop at the first other one)."""
    values: list[int] = []
    for ch in code[:_MAX_CHARS].lower():  # a longer code is text appended to a real one
        value = _VALUE.get(ch)
        if value is None:
            break
        values.append(value)
    whole = 5 * len(values) // 8
    bits = 0
    for value in values:
        bits = bits << 5 | value
    return (bits >> (5 * len(values) - 8 * whole)).to_bytes(whole, "big") if whole else b""


def short_code(secret: bytes, link: ShortLink) -> str:
    if len(link.ids) != _IDS[link.kind] or not 0 <= link.link < 2**16:
        raise ValueError(f"a {link.kind} short link carries {_IDS[link.kind]} id(s)")
    if any(not 0 <= i < 2**63 for i in link.ids):
        raise ValueError("short-link ids are bigints: 0 <= id < 2**63")
    body = _varint(link.link << 2 | _KINDS.index(link.kind))
    body += b"".join(_varint(i) for i in link.ids)
    return _encode(body + _mac(secret, body))


def read_short_code(secret: bytes, code: str) -> ShortLink | None:
    """The link of a genuine code (see the module's contract for what is tolerated)."""
    data = _decode_prefix(code.strip())
    head = _read_varint(data, 0)
    if head is None or head[0] & 3 >= len(_KINDS):
        return None
    kind, at, ids = _KINDS[head[0] & 3], head[1], []
    for _ in range(_IDS[kind]):
        field = _read_varint(data, at)
        if field is None:
            return None
        ids.append(field[0])
        at = field[1]
    mac = data[at : at + _MAC_BYTES]
    if len(mac) != _MAC_BYTES or not hmac.compare_digest(mac, _mac(secret, data[:at])):
        return None
    return ShortLink(kind, tuple(ids), head[0] >> 2)


def short_url(base_url: str, secret: bytes, link: ShortLink) -> str:
    """`<base_url>/l/<code>` (base_url: PUBLIC_BASE_URL)."""
    return f"{base_url}/l/{short_code(secret, link)}"
