"""Repository for the simulator's reads (functions in supabase/schemas/08_simulate.sql)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any

import numpy as np
from numpy.typing import NDArray
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


NEVER = np.iinfo(np.int64).max  # an instant that never comes, in epoch microseconds


@dataclass(frozen=True)
class ForwardLeads:
    """simulate_forward_leads as arrays, instants in epoch microseconds: each lead ever
    contacted (ids ascending) is at risk at t when from_us <= t < until_us (NEVER: no end)
    and no call span [span_from, span_until) of its own holds t; its bookings are
    booking_us. span_lead and booking_lead index ids."""

    ids: NDArray[np.int64]
    from_us: NDArray[np.int64]
    until_us: NDArray[np.int64]
    span_lead: NDArray[np.intp]
    span_from: NDArray[np.int64]
    span_until: NDArray[np.int64]
    booking_lead: NDArray[np.intp]
    booking_us: NDArray[np.int64]


def _flat(rows: list[dict[str, Any]], key: str) -> tuple[NDArray[np.intp], NDArray[np.int64]]:
    """Each row's array `key` laid end to end, with the row index of each element."""
    counts = np.array([len(r[key]) for r in rows], dtype=np.intp)
    values = np.fromiter(chain.from_iterable(r[key] for r in rows), np.int64, int(counts.sum()))
    return np.repeat(np.arange(len(rows), dtype=np.intp), counts), values


class SimulateRepository:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def lead_scores(self) -> list[LeadScore]:
        """Every lead's id, phone, email and current score (None until scored), by id."""
        rows = await self.transport.call("simulate_lead_scores", {})
        return [LeadScore.model_validate(row) for row in rows]

    async def scores(self) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Every scored lead's id (ascending) and score, as two arrays (simulate_scores)."""
        row = (await self.transport.call("simulate_scores", {}))[0]
        ids = np.array(row["lead_ids"] or [], dtype=np.int64)
        return ids, np.array(row["scores"] or [], dtype=np.float64)

    async def forward_rows(
        self, now: datetime, times: Sequence[datetime], horizon_days: int, per_call: int = 48
    ) -> list[tuple[int, datetime, bool | None]]:
        """(lead_id, t, label) of every lead at risk at each t of `times`, label booked in
        (t, t + horizon] (simulate_forward_rows: scoring_features' at-risk rows and label
        without the features), ordered by t then lead; `per_call` times per round trip,
        so no call holds a month of rows at once. The report reads `forward_leads`; these
        rows are its reference (tests/simulate, bench/report_ab.py)."""
        ordered = sorted(times)
        out: list[tuple[int, datetime, bool | None]] = []
        for i in range(0, len(ordered), per_call):
            chunk = ordered[i : i + per_call]
            same: dict[datetime, datetime] = {t: t for t in chunk}  # one object per t
            rows = await self.transport.call(
                "simulate_forward_rows",
                {"p_now": now, "p_times": chunk, "p_horizon_days": horizon_days},
            )
            out.extend((r["lead_id"], same.get(r["cutoff_at"]) or r["cutoff_at"], r["label"])
                       for r in rows)  # fmt: skip
        return out

    async def forward_leads(self) -> ForwardLeads:
        """Every contacted lead's at-risk interval, call spans and bookings, read once
        (simulate_forward_leads: simulate_forward_rows' definitions per lead, not per t)."""
        rows = await self.transport.call("simulate_forward_leads", {})
        span_lead, span_from = _flat(rows, "spans_from_us")
        booking_lead, booking_us = _flat(rows, "bookings_us")
        return ForwardLeads(
            ids=np.array([r["lead_id"] for r in rows], dtype=np.int64),
            from_us=np.array([r["from_us"] for r in rows], dtype=np.int64),
            until_us=np.array([NEVER if r["until_us"] is None else r["until_us"] for r in rows],
                              dtype=np.int64),
            span_lead=span_lead, span_from=span_from, span_until=_flat(rows, "spans_until_us")[1],
            booking_lead=booking_lead, booking_us=booking_us,
        )  # fmt: skip

    async def campaign_pauses(self) -> list[CampaignPause]:
        """Campaigns the deliverability guard paused, earliest first."""
        rows = await self.transport.call("simulate_campaign_pauses", {})
        return [CampaignPause.model_validate(row) for row in rows]

    async def call_spans(self) -> list[CallSpan]:
        """Every placed call's lead, placing time and report receipt (None: not yet)."""
        rows = await self.transport.call("simulate_call_spans", {})
        return [CallSpan.model_validate(row) for row in rows]
