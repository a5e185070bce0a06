"""Repository for the simulator's reads (functions in supabase/schemas/08_simulate.sql)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from app.db.transport import Transport


class LeadScore(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    lead_id: int
    phone: str | None = None
    email: str | None = None
    score: float | None = None


class CampaignPause(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    campaign: str
    status: str
    paused_at: datetime
    reason: str | None = None


class CallSpan(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    lead_id: int
    placed_at: datetime
    report_received_at: datetime | None = None


class SimulateRepository:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def lead_scores(self) -> list[LeadScore]:
        """Every lead's id, phone, email and current score (None until scored), by id."""
        rows = await self.transport.call("simulate_lead_scores", {})
        return [LeadScore.model_validate(row) for row in rows]

    async def campaign_pauses(self) -> list[CampaignPause]:
        """Campaigns the deliverability guard paused, earliest first."""
        rows = await self.transport.call("simulate_campaign_pauses", {})
        return [CampaignPause.model_validate(row) for row in rows]

    async def call_spans(self) -> list[CallSpan]:
        """Every placed call's lead, placing time and report receipt (None: not yet)."""
        rows = await self.transport.call("simulate_call_spans", {})
        return [CallSpan.model_validate(row) for row in rows]
