"""Leads that consented: what a test builds when it expects automated texts and AI calls.

nightshift texts a lead for a campaign (or a missed-call rescue) only with `sms` consent on
record and places an AI call only with `ai_voice` consent (supabase/schemas/13_consent.sql).
A test whose lead should be contacted says so by building it here; a lead built with
`LeadIn(...)` alone has no consent, as a real import without consent columns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.db.models import ConsentIn, LeadIn

GRANTED = datetime(2026, 11, 1, tzinfo=UTC)
WORDING = "I agree to receive texts and AI-voice calls from Acme HVAC about my service."


def consents(*channels: str) -> list[ConsentIn]:
    """Consent records (source: web form) for `channels` (default: every channel)."""
    return [
        ConsentIn(channel=c, source="web_form", granted_at=GRANTED, text=WORDING)  # type: ignore[arg-type]
        for c in channels or ("sms", "email", "calls", "ai_voice")
    ]


def consented_lead(**fields: Any) -> LeadIn:
    """A LeadIn with consent to every channel on record."""
    return LeadIn(**fields, consents=consents())
