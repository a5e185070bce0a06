"""Repository for the simulator's reads (functions in supabase/schemas/08_simulate.sql)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from app.db.transport import Transport


class LeadScore(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    lead_id: int
    phone: str | None = None
    email: str | None = None
    score: float | None = None


class SimulateRepository:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def lead_scores(self) -> list[LeadScore]:
        """Every lead's id, phone, email and current score (None until scored), by id."""
        rows = await self.transport.call("simulate_lead_scores", {})
        return [LeadScore.model_validate(row) for row in rows]
