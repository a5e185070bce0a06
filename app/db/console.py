"""The console repository (functions in supabase/schemas/09_console.sql).

Contract: one Postgres function per method, one round trip. Reads return JSON-ready dicts
(times as ISO strings) exactly as the console pages and their `Accept: application/json`
answers show them; actions raise app.db.errors.NotFound for an unknown campaign or
appointment. Every action the console takes is recorded with `audit` (erasure records its
own audit row in the same transaction).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.db.transport import Transport


class ConsoleRepository:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def _value(self, function: str, args: dict[str, Any]) -> Any:
        rows = await self.transport.call(function, args)
        return rows[0][function] if rows else None

    async def overview(self, timezone: str, now: datetime, limit: int = 10) -> dict[str, Any]:
        """Today / 7 days / 30 days (whole days in `timezone`), paused campaigns, leads held
        for a human and the hottest leads never called."""
        args = {"p_tz": timezone, "p_now": now, "p_limit": limit}
        result: dict[str, Any] = await self._value("console_overview", args)
        return result

    async def leads(
        self,
        query: str = "",
        *,
        status: str = "",
        min_score: float | None = None,
        campaign: str = "",
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        args = {"p_query": query, "p_status": status, "p_min_score": min_score,
                "p_campaign": campaign, "p_limit": limit}  # fmt: skip
        result: list[dict[str, Any]] = await self._value("console_leads", args)
        return result

    async def lead(self, lead_id: int) -> dict[str, Any] | None:
        """`{lead, timeline}` (newest first), or None when there is no such lead."""
        result: dict[str, Any] | None = await self._value("console_lead", {"p_id": lead_id})
        return result

    async def campaigns(self, slug: str | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._value("console_campaigns", {"p_slug": slug})
        return result

    async def calls(self, timezone: str, since: datetime, now: datetime) -> dict[str, Any]:
        args = {"p_tz": timezone, "p_from": since, "p_now": now}
        result: dict[str, Any] = await self._value("console_calls", args)
        return result

    async def appointments(self, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        args = {"p_now": now, "p_limit": limit}
        result: list[dict[str, Any]] = await self._value("console_appointments", args)
        return result

    async def pause(self, slug: str, reason: str, now: datetime) -> dict[str, Any]:
        args = {"p_slug": slug, "p_reason": reason, "p_now": now}
        rows = await self.transport.call("console_campaign_pause", args)
        return rows[0]

    async def cancel_appointment(self, appointment_id: int, now: datetime) -> dict[str, Any]:
        args = {"p_id": appointment_id, "p_now": now}
        rows = await self.transport.call("console_appointment_cancel", args)
        return rows[0]

    async def erase(self, lead_id: int, session: str, now: datetime) -> bool:
        args = {"p_id": lead_id, "p_session": session, "p_now": now}
        return bool(await self._value("console_erase_lead", args))

    async def is_erased(self, phone: str | None, email: str | None) -> bool:
        args = {"p_phone": phone, "p_email": email}
        return bool(await self._value("console_is_erased", args))

    async def audit(
        self,
        action: str,
        session: str,
        now: datetime,
        *,
        lead_id: int | None = None,
        campaign_id: int | None = None,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> int:
        args = {"p_action": action, "p_lead_id": lead_id, "p_campaign_id": campaign_id,
                "p_target": target, "p_detail": detail or {}, "p_session": session,
                "p_now": now}  # fmt: skip
        return int(await self._value("console_audit_record", args))
