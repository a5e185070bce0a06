"""The agents repository: pushed agent versions and the agents' external calendar bookings.

Functions: supabase/schemas/12_agents.sql.
- `record_version` numbers pushes per agent (1, 2, ...) under a lock;
- `vapi_id(agent, campaign)` is the latest pushed Vapi id of an agent, or of the agent a
  campaign chose (its definition's `assistant`); None when never pushed;
- calendar bookings are keyed by tool call, so a retried tool call finds its booking.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from app.db.models import Model
from app.db.transport import Transport

CalendarStatus = Literal["booked", "failed", "cancelled"]


class AgentVersion(Model):
    agent: str
    version: int
    content_hash: str
    vapi_assistant_id: str
    vapi_version: str | None = None
    definition: dict[str, Any]
    note: str | None = None
    pushed_at: datetime


class CalendarBooking(Model):
    key: str
    provider: str
    external_uid: str | None = None
    appointment_id: int | None = None
    status: CalendarStatus
    starts_at: datetime
    error: str | None = None


class AgentRepository:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def record_version(
        self,
        agent: str,
        content_hash: str,
        vapi_assistant_id: str,
        vapi_version: str | None,
        definition: dict[str, Any],
        note: str | None,
        now: datetime,
    ) -> AgentVersion:
        rows = await self.transport.call(
            "agent_record_version",
            {
                "p_agent": agent, "p_content_hash": content_hash,
                "p_vapi_assistant_id": vapi_assistant_id, "p_vapi_version": vapi_version,
                "p_definition": definition, "p_note": note, "p_now": now,
            },
        )  # fmt: skip
        return AgentVersion.model_validate(rows[0])

    async def versions(self, agent: str | None) -> list[AgentVersion]:
        """An agent's versions, newest first; None: the latest version of every agent."""
        rows = await self.transport.call("agent_versions_of", {"p_agent": agent})
        return [AgentVersion.model_validate(row) for row in rows]

    async def latest(self, agent: str) -> AgentVersion | None:
        found = await self.versions(agent)
        return found[0] if found else None

    async def vapi_id(self, agent: str | None, campaign: str | None = None) -> str | None:
        rows = await self.transport.call(
            "agent_vapi_id", {"p_agent": agent, "p_campaign": campaign}
        )
        value = rows[0].get("agent_vapi_id") if rows else None
        return str(value) if value else None

    async def calendar_booking(self, key: str) -> CalendarBooking | None:
        rows = await self.transport.call("calendar_booking_get", {"p_key": key})
        return CalendarBooking.model_validate(rows[0]) if rows else None

    async def put_calendar_booking(
        self,
        key: str,
        provider: str,
        status: CalendarStatus,
        starts_at: datetime,
        now: datetime,
        *,
        external_uid: str | None = None,
        appointment_id: int | None = None,
        error: str | None = None,
    ) -> CalendarBooking:
        rows = await self.transport.call(
            "calendar_booking_put",
            {
                "p_key": key, "p_provider": provider, "p_external_uid": external_uid,
                "p_appointment_id": appointment_id, "p_status": status,
                "p_starts_at": starts_at, "p_error": error, "p_now": now,
            },
        )  # fmt: skip
        return CalendarBooking.model_validate(rows[0])
