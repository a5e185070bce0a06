"""What production refuses in a setting's *shape*, and how a refusal is worded
(app.core.settings calls these).

Contract: each check takes a value and returns None when it is acceptable, else the reason
an operator reads after the variable's name. A reason never contains any part of a secret
(only what the value should look like); a non-secret value (a URL) may be quoted.
`describe` words pydantic's errors the same way: variables and messages, never the input.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from pydantic import ValidationError

STATUS_TOKEN_MIN_LENGTH = 32
_TWILIO_SID = {"AC": "an Account SID", "MG": "a Messaging Service SID"}
_LOCAL_HOSTS = {"localhost", "localhost.localdomain", "ip6-localhost"}
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")


def status_token_problem(value: str) -> str | None:
    if len(value) < STATUS_TOKEN_MIN_LENGTH:
        return (
            f"must be at least {STATUS_TOKEN_MIN_LENGTH} characters "
            "(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return None


def resend_secret_problem(value: str) -> str | None:
    """Resend's signing secret is Svix's: `whsec_` then base64."""
    prefix, _, key = value.partition("_")
    if prefix != "whsec" or not key:
        return "must be whsec_ followed by base64 (copy it from the webhook's page in Resend)"
    try:
        decoded = base64.b64decode(key + "=" * (-len(key) % 4), validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) < 16:
        return "is not whsec_ followed by base64 (copy it from the webhook's page in Resend)"
    return None


def twilio_sid_problem(value: str, prefix: str) -> str | None:
    """Twilio SIDs are two letters and 32 hex digits (`AC…` accounts, `MG…` services)."""
    if re.fullmatch(prefix + r"[0-9a-fA-F]{32}", value.strip()):
        return None
    return f"must be {_TWILIO_SID[prefix]}: {prefix} followed by 32 hex digits"


def public_url_problem(url: str) -> str | None:
    """The address providers call back and people click: https, and reachable from outside."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return f"must be an https:// URL (got {url!r})"
    host = parts.hostname.lower().rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # a name: not resolved at startup, judged by its shape
        if host in _LOCAL_HOSTS or host.endswith(_LOCAL_SUFFIXES) or "." not in host:
            return f"must be a public address, not a local one (got {url!r})"
        return None
    if not address.is_global:
        return f"must be a public address, not a private or loopback one (got {url!r})"
    return None


CHECKS: dict[str, Callable[[str], str | None]] = {
    "PUBLIC_BASE_URL": public_url_problem,
    "STATUS_TOKEN": status_token_problem,
    "RESEND_WEBHOOK_SECRET": resend_secret_problem,
    "TWILIO_ACCOUNT_SID": lambda value: twilio_sid_problem(value, "AC"),
    "TWILIO_MESSAGING_SERVICE_SID": lambda value: twilio_sid_problem(value, "MG"),
}


def refusals(values: dict[str, str | None]) -> list[tuple[str, str]]:
    """(variable, reason) for each set value (variable → value) whose shape is refused."""
    found = [(name, CHECKS[name](value)) for name, value in values.items() if value]
    return [(name, reason) for name, reason in found if reason]


def describe(error: ValidationError, own: type[Exception]) -> str:
    """One line per error: the variable and pydantic's message, never the input value (for
    a model check pydantic quotes every input, secrets included, truncated to their ends).
    An error of type `own` raised by a validator is given as its own message."""
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, own):
            lines.append(str(cause))
            continue
        name = ".".join(str(part) for part in item["loc"]).upper()
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{name}: {message}" if name else message)
    return "\n".join(lines)
