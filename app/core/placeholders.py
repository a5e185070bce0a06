"""Values that were never really set: empty, copied from an example, or the shipped demo."""

from __future__ import annotations

import re

from pydantic import SecretStr

# A value that was obviously copied from an example and never filled in.
_PLACEHOLDER = re.compile(
    r"^(|x+|changeme|change[-_]me|replace[-_]?me|todo|tbd|placeholder|dummy|example|secret"
    r"|your[-_ ].*|<.*>|\.\.\.|(re|sk|pk|ac|key)_?x+)$",
    re.IGNORECASE,
)

# Demo values that make `make dev` readable; production must replace every one of them.
DEMO_DEFAULTS = {
    "BUSINESS_NAME": "Demo Heating & Air",
    "BUSINESS_POSTAL_ADDRESS": "100 Main St, Springfield, IL 62701",
    "BOOKING_URL": "https://example.com/book",
}


def is_placeholder(value: str | SecretStr | None) -> bool:
    """True when a value is missing, blank or an obvious copy-paste placeholder."""
    if value is None:
        return True
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    return bool(_PLACEHOLDER.match(raw.strip()))
