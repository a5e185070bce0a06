"""Repository for consent records, holds and their release (supabase/schemas/13_consent.sql).

Contract:
- `grant` records consents for the leads with a phone or email (a channel already on record
  keeps its first grant; a revoked consent stays revoked unless an operator grants it again);
- `for_lead` lists a lead's records, revoked ones included;
- `release` clears a held lead's `needs_review` and sets the enrollments the hold paused back
  to active, recorded in consent_releases;
- `summary` is what `nightshift status`, the status page and the digest show: leads held for a
  human and the steps and rows refused (for want of consent, a hold, a do-not-call list) since
  a moment, per reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.db.models import ConsentChannel, ConsentIn, ConsentSource, Model
from app.db.transport import Transport


class ConsentRecord(Model):
    id: int
    lead_id: int
    channel: ConsentChannel
    granted_at: datetime
    source: ConsentSource
    consent_text: str | None = None
    consent_url: str | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None


class Release(Model):
    lead_id: int
    released: bool
    held_reason: str | None = None
    enrollments: int = 0


class ConsentRepository:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def grant(self, items: Sequence[tuple[str, ConsentIn]], now: datetime) -> dict[str, int]:
        """Record each (address, consent); returns how many leads each address matched."""
        payload = [
            {"address": address, **consent.model_dump(mode="json", exclude_none=True)}
            for address, consent in items
        ]
        if not payload:
            return {}
        rows = await self.transport.call("consent_grant", {"p_items": payload, "p_now": now})
        return {r["address"]: int(r["leads"]) for r in rows}

    async def for_lead(self, lead_id: int) -> list[ConsentRecord]:
        rows = await self.transport.call("consent_list", {"p_lead_id": lead_id})
        return [ConsentRecord.model_validate(r) for r in rows]

    async def release(
        self, address: str, by: str, note: str | None, now: datetime
    ) -> list[Release]:
        """Release the holds of the leads with this phone or lower-cased email."""
        rows = await self.transport.call(
            "consent_release", {"p_address": address, "p_by": by, "p_note": note, "p_now": now}
        )
        return [Release.model_validate(r) for r in rows]

    async def summary(self, since: datetime, limit: int = 10) -> dict[str, Any]:
        """{held, held_leads: [{id, phone, email, reason, updated_at}], skipped: [{reason,
        channel, leads, times}]} (refusals since `since`)."""
        rows = await self.transport.call("consent_summary", {"p_since": since, "p_limit": limit})
        value = rows[0]["consent_summary"] if rows else None
        return dict(value or {"held": 0, "held_leads": [], "skipped": []})
